"""The review queue page: pages of 25 (Django's Paginator), text search, filters that stay in the URL
from page to page and through a document, and a size cap on the text shown in a row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ner.models import Document, Entity
from ner.review import queue
from tests.api_support import make_user

pytestmark = pytest.mark.django_db


def _doc(text: str, score: float = 0.5) -> Document:
    doc = Document.objects.create(text=text, status=Document.Status.DONE)
    Entity.objects.create(document=doc, start=0, end=4, label="ORG", text=text[:4], score=score, source="x")
    return doc


@pytest.fixture
def reviewer() -> Client:
    client = Client()
    client.force_login(make_user("queue-reviewer", "reviewer"))
    return client


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-url="/review/documents/(\d+)/', html)


def test_queue_is_paged_and_the_pager_keeps_the_filters(reviewer: Client) -> None:
    for i in range(30):
        _doc(f"Acme parcel number {i} is late", score=i / 100)
    _doc("Globex refund please", score=0.01)

    first = reviewer.get("/review/", {"q": "parcel", "label": "ORG"}).content.decode()
    assert len(_rows(first)) == queue.PER_PAGE == 25
    assert "page 1 of 2 · 30 documents" in first
    assert 'href="?label=ORG&amp;q=parcel&amp;page=2" rel="next"' in first
    assert 'value="parcel"' in first  # the search box shows the current search

    second = reviewer.get("/review/", {"q": "parcel", "label": "ORG", "page": "2"}).content.decode()
    assert len(_rows(second)) == 5 and "page 2 of 2" in second
    assert 'href="?label=ORG&amp;q=parcel" rel="prev"' in second
    assert not set(_rows(first)) & set(_rows(second))


def test_search_finds_documents_by_their_text(reviewer: Client) -> None:
    wanted = _doc("Globex refund please")
    _doc("Acme parcel is late")
    html = reviewer.get("/review/", {"q": "REFUND"}).content.decode()
    assert _rows(html) == [str(wanted.pk)]


def test_a_document_opened_from_a_filtered_queue_leads_back_to_it(reviewer: Client) -> None:
    first, second = _doc("Acme parcel one", 0.1), _doc("Acme parcel two", 0.2)
    _doc("Globex other", 0.05)
    html = reviewer.get("/review/", {"q": "parcel"}).content.decode()
    assert f'href="/review/documents/{first.pk}/?queue=q%3Dparcel"' in html

    page = reviewer.get(f"/review/documents/{first.pk}/", {"queue": "q=parcel"}).content.decode()
    assert 'href="/review/?q=parcel">← queue' in page
    assert f'href="/review/documents/{second.pk}/?queue=q%3Dparcel">next document' in page  # not the Globex one


def test_a_huge_document_is_cut_in_the_row_and_never_loaded_whole(reviewer: Client) -> None:
    huge = _doc("Acme " + "lorem ipsum " * 20_000, score=0.01)
    html = reviewer.get("/review/").content.decode()
    assert "(240005 characters)" in html
    assert len(html) < 20_000
    row = queue.queue_page(queue.QueueFilters()).object_list[0]
    assert row.pk == huge.pk and "text" in row.get_deferred_fields() and len(row.preview) == queue.PREVIEW_CHARS


def test_bad_filters_are_refused(reviewer: Client) -> None:
    assert reviewer.get("/review/", {"order": "random"}).status_code == 400


def test_cards_and_ibans_are_masked_in_the_queue_and_agreement_previews(reviewer: Client, settings: Any) -> None:
    from ner.models import ReviewAnnotation

    card, iban = "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00"
    doc = _doc(f"Acme charged card {card} twice, refund to {iban} please")
    for name in ("mask-a", "mask-b"):
        ReviewAnnotation.objects.create(document=doc, reviewer=make_user(name, "reviewer"), spans=[[0, 4, "ORG"]])
    queue_page = reviewer.get("/review/?status=all").content.decode()
    agreement_page = reviewer.get("/review/agreement/").content.decode()
    for html in (queue_page, agreement_page):
        assert card not in html and "•••• •••• •••• 1111" in html
    assert iban not in queue_page and "•••• •••• •••• •••• ••30 00" in queue_page
    # The document's own page shows the text as it is, to be annotated.
    assert card in reviewer.get(f"/review/documents/{doc.pk}/").content.decode()
    settings.CHAT_MASK_ON_SCREEN = False
    assert card in reviewer.get("/review/?status=all").content.decode()

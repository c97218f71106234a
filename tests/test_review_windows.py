"""A very long document on the review page: shown a part at a time, and review work that does
not grow with the document where it need not.

The document here is about 300,000 characters with 2,000 entities (three times the default
``NER_MAX_TEXT_CHARS`` cap on documents sent for extraction, which an operator may raise): the
page shows one part with only its entities, moves between parts, and the actions, Done and the
queue answer without doing work per entity or per character of the document where avoidable.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ner.models import Document, Entity, ReviewAnnotation
from ner.review import actions as review
from ner.review import blind, windows
from ner.roles import REVIEWER, sync_role_groups

pytestmark = pytest.mark.django_db

N_ENTITIES = 2000


def long_text(n: int = N_ENTITIES) -> tuple[str, list[tuple[int, int, str]]]:
    """About 150 characters per entity, a line break every fourth sentence."""
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for i in range(n):
        lead = f"Note {i}: the customer asked again about the parcel, the refund and the invoice "
        lead += "they were sent last week by "
        name = f"Person{i} Smith"
        tail = " on Monday, and wrote that they would call back later.\n" if i % 4 == 3 else " on Monday. "
        spans.append((pos + len(lead), pos + len(lead) + len(name), "PER"))
        chunk = lead + name + tail
        parts.append(chunk)
        pos += len(chunk)
    return "".join(parts), spans


def make_long_document() -> Document:
    text, spans = long_text()
    doc = Document.objects.create(text=text, status=Document.Status.DONE)
    Entity.objects.bulk_create(
        Entity(document=doc, start=s, end=e, label=label, text=text[s:e], score=0.5, source="spacy")
        for s, e, label in spans
    )
    return doc


@pytest.fixture
def reviewer_client() -> tuple[User, Client]:
    sync_role_groups()
    user = User.objects.create_user("long-reviewer")
    user.groups.add(Group.objects.get(name=REVIEWER))
    client = Client()
    client.force_login(user)
    return user, client


# --- Where the parts are cut -------------------------------------------------------------------


def test_parts_cover_the_text_and_never_cut_an_entity() -> None:
    text, spans = long_text(300)
    size = 1000
    points = windows.cuts(text, [(s, e) for s, e, _ in spans], size)
    assert points[0] == 0 and points[-1] == len(text)
    assert all(a < b for a, b in itertools.pairwise(points))  # contiguous, no empty part
    for cut in points[1:-1]:
        assert not any(s < cut < e for s, e, _ in spans), cut
        assert text[cut - 1] in " \n"  # after a space or a line break
    lengths = [b - a for a, b in itertools.pairwise(points)]
    assert max(lengths) <= size and min(lengths[:-1]) >= size * (1 - windows.SEARCH_BACK) - 1


def test_an_entity_across_the_cut_extends_the_part_and_unbroken_text_is_cut_hard() -> None:
    text = "x" * 2500
    assert windows.cuts(text, [], 1000) == [0, 1000, 2000, 2500]
    # An entity over characters 900-1300 moves the first cut to its end.
    assert windows.cuts(text, [(900, 1300)], 1000)[:2] == [0, 1300]
    assert windows.cuts("short", [], 1000) == [0, 5]
    assert windows.cuts("", [], 1000) == [0, 0]
    part = windows.window(text, [], 99, 1000)
    assert (part.number, part.count, part.start, part.end, part.next) == (3, 3, 2000, 2500, None)
    assert windows.number_at(text, [], 1999, 1000) == 2 and windows.number_at(text, [], 2000, 1000) == 3


def test_resolve_overlaps_keeps_what_the_plain_scan_kept() -> None:
    """The bisection keeps the same spans as checking every kept span, on random overlapping spans."""

    def plain(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        kept: list[tuple[int, int, str]] = []
        for span in sorted(set(spans), key=lambda s: (-(s[1] - s[0]), s[0], s[2])):
            if not any(span[0] < k[1] and k[0] < span[1] for k in kept):
                kept.append(span)
        return sorted(kept)

    rng = random.Random(18)
    for _ in range(300):
        spans = []
        for _ in range(rng.randint(0, 30)):
            start = rng.randint(0, 60)
            spans.append((start, start + rng.randint(1, 12), rng.choice("AB")))
        kept, dropped = review.resolve_overlaps(spans)
        assert kept == plain(spans)
        assert sorted(set(kept) | set(dropped)) == sorted(set(spans))


# --- The page ------------------------------------------------------------------------------------

ROW = re.compile(rb'<tr data-entity="(\d+)"[^>]*data-start="(\d+)" data-end="(\d+)"')


def test_the_page_of_a_huge_document_shows_one_part_with_its_entities(reviewer_client: Any, settings: Any) -> None:
    _, client = reviewer_client
    doc = make_long_document()
    text = doc.text
    assert len(text) > 290_000
    size = settings.NER_REVIEW_WINDOW_CHARS
    url = f"/review/documents/{doc.pk}/"

    first = client.get(url)
    assert first.status_code == 200
    assert len(first.content) < 60_000  # the text alone is 300 KB
    body = first.content.decode()
    rows = ROW.findall(first.content)
    assert 0 < len(rows) <= size // 100  # ~150 characters per entity: about 33 in a part
    part = windows.window(text, [(e.start, e.end) for e in doc.entities.all()], 1)
    assert all(part.overlaps(int(s), int(e)) for _, s, e in rows)
    assert len(rows) == sum(1 for e in doc.entities.all() if part.overlaps(e.start, e.end))
    assert f'id="doc-text" data-start="{part.start}"' in body
    assert "Person0 Smith" in body and f"Person{N_ENTITIES - 1} Smith" not in body
    assert f"Part <strong>1</strong> of {part.count}" in body and part.count >= 290_000 // size
    assert f"Done also accepts the {N_ENTITIES - len(rows)} pending in other parts" in body

    # Next part by its link: it starts where the first ended, offsets stay the document's.
    link = re.search(r'<a href="([^"]+)" rel="next"', body)
    assert link is not None and link.group(1) == "?part=2"
    second = client.get(url + link.group(1))
    body2 = second.content.decode()
    assert second.status_code == 200 and len(second.content) < 60_000
    assert f'id="doc-text" data-start="{part.end}"' in body2
    assert re.search(r'<a href="([^"]+)" rel="prev"', body2).group(1) == url  # type: ignore[union-attr]
    rows2 = ROW.findall(second.content)
    assert rows2 and int(rows2[0][1]) >= part.end and not set(rows) & set(rows2)
    # The marks carry offsets into the whole document.
    mark = re.search(r'<mark class="ent ent-pending" data-start="(\d+)"[^>]*>([^<]+)</mark>', body2)
    assert mark is not None and text[int(mark.group(1)) :].startswith(mark.group(2))

    # ?at= opens the part holding a character; the last entity's is the last part.
    last = doc.entities.order_by("-start").first()
    assert last is not None
    end_page = client.get(f"{url}?at={last.start}").content.decode()
    assert f"Person{N_ENTITIES - 1} Smith" in end_page and f"Part <strong>{part.count}</strong>" in end_page
    assert 'rel="next"' not in end_page
    assert f"Part <strong>{part.count}</strong>" in client.get(f"{url}?part=999999").content.decode()
    for bad in ("abc", "0", "²", "-1", "9" * 30):
        assert client.get(f"{url}?part={bad}").status_code == 400, bad
    assert client.get(f"{url}?at=x").status_code == 400


def test_the_queue_filters_travel_with_the_part_links(reviewer_client: Any) -> None:
    _, client = reviewer_client
    doc = make_long_document()
    body = client.get(f"/review/documents/{doc.pk}/?part=2&queue=status%3Dall").content.decode()
    assert 'href="?part=3&amp;queue=status%3Dall" rel="next"' in body
    assert 'href="?queue=status%3Dall" rel="prev"' in body


def test_a_short_document_has_no_parts(reviewer_client: Any) -> None:
    _, client = reviewer_client
    doc = Document.objects.create(text="Anna Smith wrote", status=Document.Status.DONE)
    body = client.get(f"/review/documents/{doc.pk}/").content.decode()
    assert 'id="doc-text" data-start="0"' in body and "Part <strong>" not in body and 'rel="next"' not in body


def test_annotations_list_the_spans_of_the_part_only(reviewer_client: Any) -> None:
    user, client = reviewer_client
    doc = make_long_document()
    blind.complete(doc, user)
    body = client.get(f"/review/documents/{doc.pk}/").content.decode()
    assert f"({N_ENTITIES} in all parts)" in body
    assert body.count("<code>") <= 60 and len(body) < 60_000


# --- Actions, Done and the queue ---------------------------------------------------------------


def test_actions_and_done_on_a_huge_document_answer_small_with_few_queries(reviewer_client: Any) -> None:
    user, client = reviewer_client
    doc = make_long_document()
    action = f"/review/documents/{doc.pk}/action"
    first, second = doc.entities.order_by("start")[:2]

    def post(payload: dict[str, Any]) -> Any:
        return client.post(action, payload, content_type="application/json")

    with CaptureQueriesContext(connection) as queries:
        answer = post({"action": "reject", "entities": [second.pk]})
    assert answer.status_code == 200 and len(answer.content) < 200, answer.content[:300]
    assert answer.json() == {"ok": True, "undone": "", "undo": "reject"}
    assert len(queries) < 30
    # A span added after the first entity, at document offsets.
    start = doc.text.index("Monday", first.end)
    assert post({"action": "add", "start": start, "end": start + 6, "label": "DATE"}).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        done = post({"action": "complete"})
    assert done.status_code == 200 and len(done.content) < 200
    assert len(queries) < 60, len(queries)  # not one per entity: 2,000 entities here
    spans = review.final_spans(doc)
    assert len(spans) == N_ENTITIES  # every pending one accepted, one rejected, one added
    assert (start, start + 6, "DATE") in spans and (second.start, second.end, "PER") not in spans
    assert doc.entities.filter(review_status=Entity.Review.PENDING).count() == 0
    assert doc.entities.get(pk=second.pk).review_status == Entity.Review.REJECTED
    assert ReviewAnnotation.objects.get(document=doc, reviewer=user).spans[0] == [first.start, first.end, "PER"]

    # Undo of Done restores every row, in a bounded number of statements too.
    with CaptureQueriesContext(connection) as queries:
        assert post({"action": "undo"}).json()["undone"] == "complete"
    assert len(queries) < 60, len(queries)
    assert doc.entities.filter(review_status=Entity.Review.PENDING).count() == N_ENTITIES  # as before Done
    assert not doc.entities.filter(source="review").exists()


def test_queue_requests_do_not_join_the_entities_of_a_huge_document(reviewer_client: Any) -> None:
    """The queue's counts are per-document subqueries: a join with GROUP BY carried the 300 KB text
    through every entity row (the seconds "one huge document at the top of the queue" cost each Done)."""
    user, client = reviewer_client
    doc = make_long_document()
    small = Document.objects.create(text="Anna Smith wrote", status=Document.Status.DONE)
    Entity.objects.create(document=small, start=0, end=10, label="PER", text="Anna Smith", score=0.9, source="x")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/review/")
        client.get(f"/review/documents/{small.pk}/")  # its "next document" is the huge one
    assert page.status_code == 200
    rows = page.content.decode()
    assert f'data-url="/review/documents/{doc.pk}/"' in rows and f"/review/documents/{small.pk}/" in rows
    assert doc.text[:100] in rows and f"({len(doc.text)} characters)" in rows  # preview and length from the database
    joined = [q["sql"] for q in queries if 'JOIN "ner_entity"' in q["sql"] or "GROUP BY" in q["sql"].split("(")[0]]
    assert not joined, joined[:1]
    blind.complete(small, user)
    assert client.get("/review/?status=done").status_code == 200
    assert list(client.get("/review/?status=done").context["documents"]) == [small]


TEXT_COLUMN = re.compile(r'(SELECT|,)\s*"ner_document"\."text"\s*(,|FROM)')


def test_queue_and_agreement_pages_never_load_the_text_of_a_huge_document(reviewer_client: Any) -> None:
    user, client = reviewer_client
    doc = make_long_document()
    other = User.objects.create_user("second-reviewer")
    other.groups.add(Group.objects.get(name=REVIEWER))
    blind.complete(doc, user)
    blind.act(doc, other, "reject", {"entities": [doc.entities.order_by("start").first().pk]})  # type: ignore[union-attr]
    blind.complete(doc, other)
    with CaptureQueriesContext(connection) as queries:
        queue_page = client.get("/review/?status=all")
        agreement_page = client.get("/review/agreement/")
    assert queue_page.status_code == 200 and agreement_page.status_code == 200
    assert "Note 0: the customer" in agreement_page.content.decode()
    assert agreement_page.context["summary"]["documents"] == 1
    assert agreement_page.context["summary"]["f1"] == round(2 * 1999 / (2000 + 1999), 4)
    loading = [q["sql"][:200] for q in queries if TEXT_COLUMN.search(q["sql"])]
    assert not loading, loading


def test_a_span_across_a_cut_is_listed_in_both_parts_and_marked_up_to_the_edge(reviewer_client: Any) -> None:
    user, client = reviewer_client
    doc = make_long_document()
    cut = windows.cuts(doc.text, list(doc.entities.values_list("start", "end")))[1]
    start, end = review.check_bounds(doc, cut - 8, cut + 5)  # a reviewer's own span over the cut
    assert start < cut < end
    blind.act(doc, user, "add", {"start": start, "end": end, "label": "ORG"})
    first = client.get(f"/review/documents/{doc.pk}/").content.decode()
    second = client.get(f"/review/documents/{doc.pk}/?part=2").content.decode()
    for body in (first, second):
        assert f'<tr data-entity="n1" data-label="ORG" data-start="{start}" data-end="{end}"' in body
    assert f'<mark class="ent ent-accepted" data-start="{start}" data-entity="n1"' in first
    mark = re.search(rf'<mark class="ent ent-accepted" data-start="{cut}" data-entity="n1"[^>]*>([^<]*)</mark>', second)
    assert mark is not None and mark.group(1) == doc.text[cut:end]

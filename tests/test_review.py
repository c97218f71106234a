from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ner.models import Document, Entity, ReviewAnnotation
from ner.review import actions as review
from ner.review import agreement, blind, disagreement, queue

pytestmark = pytest.mark.django_db

TEXT = "Anna Smith ordered a Pixel 8 from Acme Corp, email anna@example.com"


def make_doc(text: str = TEXT, entities: list[tuple[int, int, str, float, str]] | None = None) -> Document:
    doc = Document.objects.create(text=text, status=Document.Status.DONE)
    for start, end, label, score, source in entities or []:
        Entity.objects.create(
            document=doc, start=start, end=end, label=label, text=text[start:end], score=score, source=source
        )
    return doc


def spans_of(text: str, *pairs: tuple[str, str]) -> list[tuple[int, int, str]]:
    out = []
    for word, label in pairs:
        start = text.index(word)
        out.append((start, start + len(word), label))
    return out


def test_span_agreement_counts_exact_matches() -> None:
    a = [(0, 4, "PER"), (10, 15, "ORG"), (20, 25, "LOC")]
    b = [(0, 4, "PER"), (10, 15, "LOC"), (30, 31, "DATE")]
    pair = agreement.span_agreement(a, b)
    assert (pair.both, pair.only_a, pair.only_b) == (1, 2, 2)
    assert pair.f1 == pytest.approx(2 * 1 / (3 + 3))
    assert pair.precision == pytest.approx(1 / 3)
    assert agreement.span_agreement([], []).f1 == 1.0
    assert agreement.span_agreement(a, a).f1 == 1.0
    assert agreement.span_agreement(a, []).f1 == 0.0


def test_boundary_difference_is_a_disagreement() -> None:
    assert agreement.span_agreement([(0, 10, "PER")], [(0, 4, "PER")]).f1 == 0.0


def test_accept_reject_correct_add_and_complete() -> None:
    user = User.objects.create_user("rev1")
    per, org, email = spans_of(TEXT, ("Anna Smith", "PER"), ("Acme", "ORG"), ("anna@example.com", "EMAIL"))
    doc = make_doc(entities=[(*per, 0.9, "spacy"), (*org, 0.4, "spacy"), (*email, 1.0, "pattern:email")])
    e_per, e_org, e_email = doc.entities.order_by("start")
    review.reject([e_email.pk], user)
    # The tagger cut "Acme Corp" short: fix the boundary.
    review.correct(e_org, user, end=org[0] + len("Acme Corp"))
    review.add_entity(doc, user, TEXT.index("Pixel 8"), TEXT.index("Pixel 8") + 7, "product")
    annotation = blind.complete(doc, user)
    e_per.refresh_from_db()
    assert e_per.review_status == Entity.Review.ACCEPTED  # pending entities accepted on completion
    expected = sorted(
        [per, (org[0], org[0] + len("Acme Corp"), "ORG"), (TEXT.index("Pixel 8"), TEXT.index("Pixel 8") + 7, "PRODUCT")]
    )
    assert review.final_spans(doc) == expected
    assert [tuple(s) for s in annotation.spans] == expected


def test_correction_back_to_original_is_an_accept() -> None:
    user = User.objects.create_user("rev1")
    doc = make_doc(entities=[(0, 10, "PER", 0.5, "spacy")])
    entity = doc.entities.get()
    review.correct(entity, user, label="ORG")
    assert entity.review_status == Entity.Review.CORRECTED and entity.final_label == "ORG"
    review.correct(entity, user, label="PER")
    assert entity.review_status == Entity.Review.ACCEPTED and entity.corrected_label == ""


@pytest.mark.parametrize(
    ("start", "end", "label", "message"),
    [
        (5, 3, "PER", "outside"),
        (0, 999, "PER", "outside"),
        (0, 4, "NOPE", "unknown label"),
        (4, 5, "PER", "whitespace"),
    ],
)
def test_bad_additions_are_refused_with_a_reason(start: int, end: int, label: str, message: str) -> None:
    doc = make_doc()
    with pytest.raises(review.ReviewError, match=message):
        review.add_entity(doc, User.objects.create_user("rev1"), start, end, label)
    assert not doc.entities.exists()


def test_actions_refuse_entities_of_another_document() -> None:
    user = User.objects.create_user("rev1")
    doc_a = make_doc(entities=[(0, 4, "PER", 0.5, "spacy")])
    doc_b = make_doc()
    with pytest.raises(review.ReviewError, match="do not exist"):
        review.accept([doc_a.entities.get().pk], user, document=doc_b)


def test_two_reviewers_agreement_and_admin_resolution() -> None:
    rev1, rev2 = User.objects.create_user("rev1"), User.objects.create_user("rev2")
    admin = User.objects.create_superuser("boss")
    per, org = spans_of(TEXT, ("Anna Smith", "PER"), ("Acme Corp", "ORG"))
    doc = make_doc(entities=[(*per, 0.9, "spacy"), (*org, 0.6, "spacy")])
    blind.complete(doc, rev1)  # accepts both
    e_org = doc.entities.get(label="ORG")
    review.correct(e_org, rev2, label="PRODUCT")
    blind.complete(doc, rev2)
    pairs = agreement.document_agreement(doc)
    assert len(pairs) == 1 and pairs[0].agreement.f1 == pytest.approx(0.5)
    assert [d.pk for d in queue.review_queue(status="disputed")] == [doc.pk]
    assert agreement.corpus_agreement()["disagreeing"] == 1

    chosen = ReviewAnnotation.objects.get(document=doc, reviewer=rev1)
    review.resolve(doc, admin, annotation_id=chosen.pk)
    assert review.final_spans(doc) == sorted([per, org])
    assert queue.review_queue(status="disputed") == []
    with pytest.raises(review.ReviewError, match="does not belong"):
        review.resolve(make_doc(), admin, annotation_id=chosen.pk)


def test_queue_orders_by_lowest_pending_confidence_and_skips_finished() -> None:
    user = User.objects.create_user("rev1")
    high = make_doc(entities=[(0, 4, "PER", 0.95, "spacy")])
    low = make_doc(entities=[(0, 4, "PER", 0.2, "spacy")])
    none = make_doc()
    done = make_doc(entities=[(0, 4, "PER", 0.1, "spacy")])
    blind.complete(done, user)
    Document.objects.create(text="not processed yet", status=Document.Status.QUEUED)
    assert [d.pk for d in queue.review_queue()] == [low.pk, high.pk, none.pk]
    assert [d.pk for d in queue.review_queue(status="done")] == [done.pk]
    with pytest.raises(review.ReviewError):
        queue.review_queue(order="random")


def test_disagreement_order_uses_the_stored_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    calm = make_doc("calm text", [(0, 4, "PER", 0.1, "spacy")])
    noisy = make_doc("noisy text", [(0, 5, "PER", 0.9, "spacy")])
    monkeypatch.setattr(
        disagreement, "batch_conflicts", lambda texts: [3 if t.startswith("noisy") else 0 for t in texts]
    )
    assert disagreement.score_documents([calm.pk, noisy.pk]) == 2
    docs = queue.review_queue(order="disagreement")
    assert [d.pk for d in docs] == [noisy.pk, calm.pk]
    assert getattr(docs[0], "conflicts") == 3  # noqa: B009


def _login(client: Client, *, admin: bool = False) -> User:
    from django.contrib.auth.models import Group

    from ner.roles import REVIEWER, sync_role_groups

    sync_role_groups()
    user = User.objects.create_superuser("root") if admin else User.objects.create_user("rev")
    if not admin:
        user.groups.add(Group.objects.get(name=REVIEWER))
    client.force_login(user)
    return user


def test_review_pages_need_the_reviewer_role(client: Client) -> None:
    assert client.get("/review/").status_code == 302
    client.force_login(User.objects.create_user("agent-only"))
    assert client.get("/review/").status_code == 403


def test_review_action_endpoint(client: Client) -> None:
    user = _login(client)
    doc = make_doc(entities=[(0, 10, "PER", 0.5, "spacy")])
    entity = doc.entities.get()
    page = client.get(f"/review/documents/{doc.pk}/")
    assert page.status_code == 200 and b"Anna Smith" in page.content

    def post(payload: dict[str, Any]) -> Any:
        return client.post(f"/review/documents/{doc.pk}/action", payload, content_type="application/json")

    assert post({"action": "correct", "entity": entity.pk, "label": "ORG"}).status_code == 200
    response = post({"action": "add", "start": 21, "end": 28, "label": "PRODUCT"})
    assert response.status_code == 200, response.content
    bad = post({"action": "add", "start": 21, "end": 999, "label": "PRODUCT"})
    assert bad.status_code == 400 and "outside" in bad.json()["error"]
    assert post({"action": "complete"}).status_code == 200
    assert ReviewAnnotation.objects.filter(document=doc, reviewer=user).exists()
    assert review.final_spans(doc) == [(0, 10, "ORG"), (21, 28, "PRODUCT")]


def test_admin_lists_filters_and_bulk_accepts_entities(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root"))
    doc = make_doc(entities=[(0, 10, "PER", 0.3, "spacy"), (21, 28, "PRODUCT", 0.9, "tagger:v1")])
    page = client.get("/admin/ner/entity/?review_status__exact=pending&label__exact=PER")
    assert page.status_code == 200
    assert b"Anna Smith" in page.content and b"Pixel 8" not in page.content
    assert f"/review/documents/{doc.pk}/".encode() in page.content
    ids = list(doc.entities.values_list("pk", flat=True))
    client.post("/admin/ner/entity/", {"action": "accept_entities", "_selected_action": ids})
    assert set(doc.entities.values_list("review_status", flat=True)) == {Entity.Review.ACCEPTED}


def test_recognizer_conflicts_count_overlapping_disagreements(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    import ner.extraction.pipeline
    from ner.spans import make_span

    text = "Mail Anna Smith at Acme about order A-1234"
    at = {w: (text.index(w), text.index(w) + len(w)) for w in ("Anna Smith", "Anna", "Acme", "A-1234")}
    per_recognizer = {
        "spacy": [
            make_span(text, *at["Anna Smith"], "PER", 0.8, "spacy"),
            make_span(text, *at["Acme"], "ORG", 0.7, "spacy"),
        ],
        "tagger": [
            make_span(text, *at["Anna"], "PER", 0.6, "tagger:v1"),
            make_span(text, *at["Acme"], "ORG", 0.9, "tagger:v1"),
        ],
        "rules": [make_span(text, *at["A-1234"], "ORDER_ID", 0.9, "rule:order")],
    }
    settings.NER_RECOGNIZERS = ["rules", "spacy", "tagger"]
    monkeypatch.setattr(
        ner.extraction.pipeline, "extract", lambda texts, recognizers: [per_recognizer.get(recognizers[0], [])]
    )
    # Only "Anna Smith" vs "Anna" conflicts: "Acme" agrees, the order id is found by one recognizer only.
    assert disagreement.recognizer_conflicts(text) == 1


def test_bulk_mark_reviewed_and_no_open_redirect(client: Client) -> None:
    user = _login(client)
    docs = [make_doc(entities=[(0, 10, "PER", 0.5, "spacy")]) for _ in range(2)]
    response = client.post("/review/bulk", {"documents": [docs[0].pk], "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/review/"
    assert ReviewAnnotation.objects.filter(document=docs[0], reviewer=user).exists()
    assert not ReviewAnnotation.objects.filter(document=docs[1]).exists()
    assert docs[0].entities.get().review_status == Entity.Review.ACCEPTED
    response = client.post("/review/bulk", {"documents": [docs[1].pk], "next": "/review/?status=done"})
    assert response["Location"] == "/review/?status=done"

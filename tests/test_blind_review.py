"""Blind double review and undo on the review page (``ner.review.blind``), through the views.

Two reviewers review the same document without seeing each other's decisions or added spans;
agreement is computed over their own annotations and stays as it was after an admin resolves;
with no double-reviewed document the pages say "no data".  Undo takes back the user's own last
action exactly, Done included.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from ner.models import Document, Entity, ReviewAnnotation, ReviewDraft
from ner.review import actions as review
from ner.review import agreement, blind, queue
from ner.roles import REVIEWER, sync_role_groups

pytestmark = pytest.mark.django_db

TEXT = "Anna Smith ordered a Pixel 8 from Acme Corp in Berlin"


def at(word: str) -> tuple[int, int]:
    start = TEXT.index(word)
    return start, start + len(word)


def make_doc() -> Document:
    doc = Document.objects.create(text=TEXT, status=Document.Status.DONE)
    for word, label, score in (("Anna Smith", "PER", 0.9), ("Acme", "ORG", 0.5), ("Berlin", "LOC", 0.8)):
        start, end = at(word)
        Entity.objects.create(document=doc, start=start, end=end, label=label, text=word, score=score, source="spacy")
    return doc


def reviewer(name: str) -> tuple[User, Client]:
    sync_role_groups()
    user = User.objects.create_user(name)
    user.groups.add(Group.objects.get(name=REVIEWER))
    client = Client()
    client.force_login(user)
    return user, client


def admin() -> tuple[User, Client]:
    user = User.objects.create_superuser("boss")
    client = Client()
    client.force_login(user)
    return user, client


def post(client: Client, doc: Document, **payload: Any) -> Any:
    return client.post(f"/review/documents/{doc.pk}/action", payload, content_type="application/json")


def entity_id(doc: Document, word: str) -> int:
    return doc.entities.get(start=at(word)[0], source="spacy").pk


def rows(doc: Document) -> list[tuple[Any, ...]]:
    return list(
        doc.entities.order_by("pk").values_list(
            "pk", "review_status", "corrected_label", "corrected_start", "corrected_end", "reviewed_by_id", "source"
        )
    )


def test_second_reviewer_sees_neither_decisions_nor_added_spans_of_the_first() -> None:
    doc = make_doc()
    _, ann_client = reviewer("ann")
    _, bob_client = reviewer("bob")
    acme, berlin = entity_id(doc, "Acme"), entity_id(doc, "Berlin")
    assert post(ann_client, doc, action="reject", entities=[berlin]).status_code == 200
    assert post(ann_client, doc, action="correct", entity=acme, label="ORG", end=at("Acme Corp")[1]).status_code == 200
    assert (
        post(ann_client, doc, action="add", start=at("Pixel 8")[0], end=at("Pixel 8")[1], label="PRODUCT").status_code
        == 200
    )
    # Ann's work is hers alone until she finishes: the rows are untouched.
    assert set(doc.entities.values_list("review_status", flat=True)) == {"pending"}

    for finished in (False, True):
        if finished:
            assert post(ann_client, doc, action="complete").status_code == 200
            assert review.final_spans(doc) == sorted(
                [(*at("Anna Smith"), "PER"), (*at("Acme Corp"), "ORG"), (*at("Pixel 8"), "PRODUCT")]
            )
        page = bob_client.get(f"/review/documents/{doc.pk}/")
        html = page.content.decode()
        items = page.context["entities"]
        assert [(i.text, i.final_label, i.review_status) for i in items] == [
            ("Anna Smith", "PER", "pending"),
            ("Acme", "ORG", "pending"),
            ("Berlin", "LOC", "pending"),
        ]
        assert "Pixel 8</mark>" not in html and "by ann" not in html and "status-rejected" not in html
        assert "ann" not in {str(a.reviewer) for a in page.context["annotations"]}
        assert page.context["pairs"] == []

    # Ann's own page still shows her decisions.
    mine = ann_client.get(f"/review/documents/{doc.pk}/").context["entities"]
    assert [(i.text, i.review_status) for i in mine] == [
        ("Anna Smith", "accepted"),
        ("Pixel 8", "accepted"),
        ("Acme Corp", "corrected"),
        ("Berlin", "rejected"),
    ]


def test_agreement_is_over_independent_annotations_and_survives_resolution() -> None:
    doc = make_doc()
    _, ann_client = reviewer("ann")
    bob, bob_client = reviewer("bob")
    _, boss_client = admin()
    post(ann_client, doc, action="reject", entities=[entity_id(doc, "Berlin")])
    post(ann_client, doc, action="complete")
    post(bob_client, doc, action="complete")  # Bob accepts the three proposals, blind to Ann's reject
    assert ReviewAnnotation.objects.get(document=doc, reviewer=bob).spans == [
        [*at("Anna Smith"), "PER"],
        [*at("Acme"), "ORG"],
        [*at("Berlin"), "LOC"],
    ]
    before = agreement.corpus_agreement()
    assert before["f1"] == pytest.approx(0.8) and before["disagreeing"] == 1
    assert [d.pk for d in queue.review_queue(status="disputed")] == [doc.pk]
    page = boss_client.get(f"/review/documents/{doc.pk}/")
    assert [round(p.agreement.f1, 2) for p in page.context["pairs"]] == [0.8]

    bob_annotation = ReviewAnnotation.objects.get(document=doc, reviewer=bob)
    assert post(boss_client, doc, action="resolve", annotation=bob_annotation.pk).status_code == 200
    assert review.final_spans(doc) == [tuple(s) for s in bob_annotation.spans]
    assert queue.review_queue(status="disputed") == []
    after = agreement.corpus_agreement()
    assert after == before  # 0.80, not 1.00: the resolution is not a reviewer's annotation
    assert ReviewAnnotation.objects.get(document=doc, is_resolution=True).chosen
    summary = boss_client.get("/review/agreement/")
    assert b'<strong id="agreement-f1">0.800</strong>' in summary.content and b"resolved" in summary.content

    # Resolving with the admin's own edits is a resolution too, never a third annotation.
    post(boss_client, doc, action="reject", entities=[entity_id(doc, "Acme")])
    assert post(boss_client, doc, action="resolve_edits").status_code == 200
    assert review.final_spans(doc) == [(*at("Anna Smith"), "PER"), (*at("Berlin"), "LOC")]
    assert agreement.corpus_agreement() == before
    assert ReviewAnnotation.objects.filter(document=doc, is_resolution=False).count() == 2


def test_no_double_reviewed_documents_says_no_data() -> None:
    doc = make_doc()
    _, client = reviewer("ann")
    for _ in range(2):
        assert agreement.corpus_agreement()["f1"] is None
        summary = client.get("/review/agreement/").content.decode()
        assert '<strong id="agreement-f1">no data</strong>' in summary and "1.000" not in summary
        queue_page = client.get("/review/").content.decode()
        assert "Agreement: no data" in queue_page and "F1 1.000" not in queue_page
        post(client, doc, action="complete")  # one reviewer is still no agreement


def test_reviewers_only_see_their_own_annotation_admins_see_all() -> None:
    doc = make_doc()
    _, ann_client = reviewer("ann")
    _, bob_client = reviewer("bob")
    _, boss_client = admin()
    post(ann_client, doc, action="complete")
    post(bob_client, doc, action="complete")
    assert [str(a.reviewer) for a in bob_client.get(f"/review/documents/{doc.pk}/").context["annotations"]] == ["bob"]
    assert [str(a.reviewer) for a in boss_client.get(f"/review/documents/{doc.pk}/").context["annotations"]] == [
        "ann",
        "bob",
    ]


def test_boundary_edit_shows_the_new_text_and_replaces_overlapping_pending_spans() -> None:
    doc = Document.objects.create(text=TEXT, status=Document.Status.DONE)
    for word, label in (("Acme", "ORG"), ("Corp", "ORG")):
        start, end = at(word)
        Entity.objects.create(document=doc, start=start, end=end, label=label, text=word, score=0.5, source="spacy")
    _, client = reviewer("ann")
    acme = doc.entities.get(text="Acme").pk
    assert post(client, doc, action="correct", entity=acme, end=at("Acme Corp")[1]).status_code == 200
    page = client.get(f"/review/documents/{doc.pk}/")
    html = page.content.decode()
    assert '<td class="ent-text">Acme Corp <em>(boundaries corrected from <s>Acme</s>)</em></td>' in html
    statuses = {i.original_text: i.review_status for i in page.context["entities"]}
    assert statuses == {"Acme": "corrected", "Corp": "rejected"}  # the pending "Corp" inside it is replaced
    post(client, doc, action="complete")
    assert review.final_spans(doc) == [(*at("Acme Corp"), "ORG")]
    # An added span replaces the pending proposals it overlaps as well.
    doc2 = make_doc()
    post(client, doc2, action="add", start=at("Anna")[0], end=at("Anna Smith ordered")[1], label="PER")
    items = {i.original_text: i.review_status for i in client.get(f"/review/documents/{doc2.pk}/").context["entities"]}
    assert items["Anna Smith"] == "rejected"


def test_undo_restores_the_state_before_each_action_exactly() -> None:
    doc = make_doc()
    ann, client = reviewer("ann")
    acme = entity_id(doc, "Acme")

    def state() -> tuple[Any, ...]:
        draft = blind.get_draft(doc, ann)
        items = [
            (i.pk, i.final_start, i.final_end, i.final_label, i.review_status) for i in blind.items_for(doc, draft)
        ]
        annotation = list(ReviewAnnotation.objects.filter(document=doc).values_list("reviewer_id", "spans", "chosen"))
        return (items, rows(doc), annotation)

    states = [state()]
    steps: list[dict[str, Any]] = [
        {"action": "reject", "entities": [entity_id(doc, "Berlin")]},
        {"action": "correct", "entity": acme, "end": at("Acme Corp")[1]},
        {"action": "add", "start": at("Pixel 8")[0], "end": at("Pixel 8")[1], "label": "PRODUCT"},
        {"action": "relabel", "entities": ["n1"], "label": "ORG"},
        {"action": "complete"},
    ]
    for step in steps:
        assert post(client, doc, **step).status_code == 200, step
        states.append(state())
    assert rows(doc) != states[0][1]  # Done wrote the rows
    page = client.get(f"/review/documents/{doc.pk}/").content.decode()
    assert "Undo complete (z)" in page
    for step in reversed(steps):
        response = post(client, doc, action="undo")
        assert response.status_code == 200 and response.json()["undone"] == step["action"]
        states.pop()
        assert state() == states[-1], step
    assert post(client, doc, action="undo").status_code == 400  # nothing left of hers
    assert rows(doc) == states[0][1] and not ReviewAnnotation.objects.exists()


def test_undo_is_only_the_users_own_last_action() -> None:
    doc = make_doc()
    ann, ann_client = reviewer("ann")
    _, bob_client = reviewer("bob")
    post(ann_client, doc, action="reject", entities=[entity_id(doc, "Berlin")])
    response = post(bob_client, doc, action="undo")
    assert response.status_code == 400 and "nothing of yours" in response.json()["error"]
    assert ReviewDraft.objects.get(reviewer=ann).decisions == {str(entity_id(doc, "Berlin")): {"status": "rejected"}}
    # Ann's Done cannot be undone once Bob has finished the document too: his comparison stands on it.
    post(ann_client, doc, action="complete")
    post(bob_client, doc, action="complete")
    refused = post(ann_client, doc, action="undo")
    assert refused.status_code == 400 and "since" in refused.json()["error"]
    assert ReviewAnnotation.objects.filter(document=doc, reviewer=ann).exists()
    # Bob's own Done is his to undo; Ann's rows and annotation stay.
    before = rows(doc)
    assert post(bob_client, doc, action="undo").json()["undone"] == "complete"
    assert rows(doc) == before and list(ReviewAnnotation.objects.values_list("reviewer__username", flat=True)) == [
        "ann"
    ]


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "accept", "entities": ["n99"]},
        {"action": "accept", "entities": ["x1"]},
        {"action": "accept", "entities": [True]},
        {"action": "correct", "entities": []},
        {"action": "fly"},
        {"action": "resolve", "annotation": "abc"},
    ],
)
def test_bad_review_actions_are_refused_with_a_reason(payload: dict[str, Any]) -> None:
    doc = make_doc()
    _, client = admin()
    response = post(client, doc, **payload)
    assert response.status_code == 400 and response.json()["error"]
    assert all(not d.history for d in ReviewDraft.objects.all())
    assert not ReviewAnnotation.objects.exists()

"""Entity review over the API: accept, reject, correct label/offsets, add a missed entity, the entity list."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from typing import Any

import pytest

from ner.models import Document, Entity
from tests.api_support import API, clients, error_of  # noqa: F401

pytestmark = pytest.mark.django_db

TEXT = "Call Anna Berg at Acme Corp in Oslo."


@pytest.fixture
def entity() -> Entity:
    doc = Document.objects.create(text=TEXT, status="done")
    return Entity.objects.create(document=doc, start=5, end=9, label="ORG", text="Anna", score=0.4, source="spacy")


def review(client: Any, entity_id: int, payload: dict[str, Any]) -> Any:
    return client.post(f"{API}/entities/{entity_id}/review", payload, format="json")


def test_accept(clients: dict[str, Any], entity: Entity) -> None:
    response = review(clients["reviewer"], entity.pk, {"action": "accept"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["review_status"] == "accepted" and body["reviewed_by"] == "reviewer-user"
    entity.refresh_from_db()
    assert entity.review_status == Entity.Review.ACCEPTED and entity.reviewed_at is not None


def test_reject(clients: dict[str, Any], entity: Entity) -> None:
    assert review(clients["reviewer"], entity.pk, {"action": "reject"}).json()["review_status"] == "rejected"


def test_correct_label_and_offsets(clients: dict[str, Any], entity: Entity) -> None:
    response = review(clients["reviewer"], entity.pk, {"action": "correct", "label": "PER", "end": 14})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["review_status"] == "corrected"
    assert (body["final_start"], body["final_end"], body["final_label"]) == (5, 14, "PER")
    assert TEXT[body["final_start"] : body["final_end"]] == "Anna Berg"
    assert (body["label"], body["start"], body["end"]) == ("ORG", 5, 9)  # the machine's answer is kept


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "correct", "end": len(TEXT) + 1}, "start"),
        ({"action": "correct", "start": 9, "end": 10}, "start"),  # only whitespace
        ({"action": "correct", "start": 12, "end": 10}, "start"),
        ({"action": "correct", "start": -1}, "start"),
        ({"action": "correct", "label": "SPACESHIP"}, "label"),
        ({"action": "correct", "label": "per"}, "label"),
        ({"action": "correct"}, "non_field_errors"),
        ({"action": "accept", "label": "PER"}, "label"),
        ({"action": "approve"}, "action"),
        ({}, "action"),
        ({"action": "accept", "note": "x"}, "note"),
    ],
)
def test_bad_reviews_are_400_and_change_nothing(
    clients: dict[str, Any], entity: Entity, payload: dict[str, Any], field: str
) -> None:
    response = review(clients["reviewer"], entity.pk, payload)
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    entity.refresh_from_db()
    assert entity.review_status == Entity.Review.PENDING
    assert (entity.corrected_label, entity.corrected_start, entity.corrected_end) == ("", None, None)


def test_review_of_missing_entity_is_404(clients: dict[str, Any]) -> None:
    response = review(clients["reviewer"], 424242, {"action": "accept"})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_add_missed_entity(clients: dict[str, Any], entity: Entity) -> None:
    url = f"{API}/documents/{entity.document_id}/entities"
    response = clients["reviewer"].post(url, {"start": 31, "end": 35, "label": "LOC"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["text"], body["source"], body["review_status"]) == ("Oslo", "review", "accepted")
    assert Entity.objects.filter(document_id=entity.document_id).count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"start": 30, "end": 99, "label": "LOC"}, "start"),
        ({"start": 30, "end": 30, "label": "LOC"}, "end"),
        ({"start": 30, "end": 34, "label": "PLANET"}, "label"),
        ({"start": 30, "end": 34}, "label"),
        ({"start": "thirty", "end": 34, "label": "LOC"}, "start"),
        ({"start": 30, "end": 34, "label": "LOC", "score": 1}, "score"),
    ],
)
def test_add_entity_rejects_bad_spans(
    clients: dict[str, Any], entity: Entity, payload: dict[str, Any], field: str
) -> None:
    response = clients["reviewer"].post(f"{API}/documents/{entity.document_id}/entities", payload, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert Entity.objects.count() == 1


def test_entity_list_as_review_queue(clients: dict[str, Any], entity: Entity) -> None:
    Entity.objects.create(
        document=entity.document, start=18, end=27, label="ORG", text="Acme Corp", score=0.9, source="x"
    )
    body = clients["agent"].get(f"{API}/entities?ordering=score&review_status=pending").json()
    assert [e["score"] for e in body["results"]] == [0.4, 0.9]
    assert clients["agent"].get(f"{API}/entities?label=ORG&document={entity.document_id}").json()["count"] == 2
    assert clients["agent"].get(f"{API}/entities/{entity.pk}").json()["text"] == "Anna"

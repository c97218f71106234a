"""/api/v1/documents: create (202, processed in the background), list with filters and pages, detail."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ner.models import Document, Entity
from tests.api_support import API, clients, error_of, patterns_only  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("patterns_only")]


def _doc(text: str, *, status: str = "done", source: str = "api", labels: tuple[str, ...] = ()) -> Document:
    doc = Document.objects.create(text=text, status=status, source=source)
    for i, label in enumerate(labels):
        Entity.objects.create(document=doc, start=i, end=i + 1, label=label, text=text[i], source="test")
    return doc


def test_create_stores_then_extracts(clients: dict[str, Any], django_capture_on_commit_callbacks: Any) -> None:
    text = "Card 4111 1111 1111 1111, mail me at kim@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["agent"].post(
            f"{API}/documents", {"text": text, "source": "crm", "external_id": "T-17"}, format="json"
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["text"] == text and body["external_id"] == "T-17"
    assert response["Location"] == f"{API}/documents/{body['id']}"
    detail = clients["agent"].get(response["Location"]).json()
    assert detail["status"] == "done"
    found = {(e["label"], e["text"]) for e in detail["entities"]}
    assert ("EMAIL", "kim@example.com") in found
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in found
    assert detail["entity_count"] == len(detail["entities"])


def test_create_with_pipeline_options(clients: dict[str, Any]) -> None:
    response = clients["agent"].post(
        f"{API}/documents", {"text": "hello", "options": {"recognizers": ["patterns"]}}, format="json"
    )
    assert response.status_code == 202
    assert Document.objects.get(pk=response.json()["id"]).options == {"recognizers": ["patterns"]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "hi", "source": "x" * 33}, "source"),
        ({"text": "hi", "source": "has space"}, "source"),
        ({"text": "hi", "external_id": "e" * 201}, "external_id"),
        ({"text": "hi", "status": "done"}, "status"),
        ({"text": "hi", "options": {"recognizers": []}}, "options"),
    ],
)
def test_create_rejects_bad_input(clients: dict[str, Any], payload: dict[str, Any], field: str) -> None:
    response = clients["agent"].post(f"{API}/documents", payload, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert Document.objects.count() == 0


def test_list_filters(clients: dict[str, Any]) -> None:
    old = _doc("old one", status="failed", source="email", labels=("PER",))
    Document.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    new_done = _doc("new done", labels=("EMAIL", "PER"))
    _doc("queued", status="queued")

    def ids(query: str) -> list[int]:
        response = clients["reviewer"].get(f"{API}/documents?{query}")
        assert response.status_code == 200, response.content
        return [d["id"] for d in response.json()["results"]]

    assert ids("status=failed") == [old.pk]
    assert ids("source=email") == [old.pk]
    assert ids("label=EMAIL") == [new_done.pk]
    assert sorted(ids("label=PER")) == sorted([old.pk, new_done.pk])
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert old.pk not in ids(f"created_after={since}") and len(ids(f"created_after={since}")) == 2
    assert ids(f"created_before={since}") == [old.pk]
    listed = clients["reviewer"].get(f"{API}/documents?label=PER").json()["results"]
    assert {d["id"]: d["entity_count"] for d in listed} == {old.pk: 1, new_done.pk: 2}


@pytest.mark.parametrize("query", ["status=bogus", "label=NOPE", "created_after=yesterday", "page_size=x"])
def test_list_rejects_bad_filters(clients: dict[str, Any], query: str) -> None:
    response = clients["agent"].get(f"{API}/documents?{query}")
    if query.startswith("page_size"):  # DRF falls back to the default page size
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert error_of(response)["fields"]


def test_pagination(clients: dict[str, Any]) -> None:
    for i in range(5):
        _doc(f"doc {i}")
    first = clients["agent"].get(f"{API}/documents?page_size=2").json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    last = clients["agent"].get(f"{API}/documents?page_size=2&page=3").json()
    assert len(last["results"]) == 1 and last["next"] is None
    seen = [
        d["id"]
        for p in (1, 2, 3)
        for d in clients["agent"].get(f"{API}/documents?page_size=2&page={p}").json()["results"]
    ]
    assert len(set(seen)) == 5
    beyond = clients["agent"].get(f"{API}/documents?page=9")
    assert beyond.status_code == 404 and error_of(beyond)["code"] == "not_found"


def test_detail_and_missing(clients: dict[str, Any]) -> None:
    doc = _doc("Ann here", labels=("PER",))
    body = clients["agent"].get(f"{API}/documents/{doc.pk}").json()
    assert body["entities"][0]["label"] == "PER" and body["entities"][0]["final_label"] == "PER"
    missing = clients["agent"].get(f"{API}/documents/999999")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_documents_cannot_be_changed_or_deleted(clients: dict[str, Any]) -> None:
    doc = _doc("keep me")
    assert clients["admin"].delete(f"{API}/documents/{doc.pk}").status_code == 405
    assert clients["admin"].patch(f"{API}/documents/{doc.pk}", {"text": "x"}, format="json").status_code == 405
    assert Document.objects.get(pk=doc.pk).text == "keep me"


def test_date_filters_accept_any_offset_python_does(clients: dict[str, Any]) -> None:
    # PostgreSQL refuses offsets beyond ±15:59; the filter converts to UTC first (found by schemathesis).
    ok = clients["agent"].get(f"{API}/documents", {"created_after": "1031-07-26T09:55:36-20:51"})
    assert ok.status_code == 200
    out_of_range = clients["agent"].get(f"{API}/documents", {"created_before": "0001-01-01T00:00:00+05:00"})
    assert out_of_range.status_code == 400 and "created_before" in error_of(out_of_range)["fields"]

"""POST /api/v1/extract: synchronous for short texts, 202 + documents for long texts and batches."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from typing import Any

import pytest

from ner.models import Document, InferenceLog
from tests.api_support import API, clients, error_of, patterns_only  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("patterns_only")]

TEXT = "Mail jane.doe@example.com about order, or call +1 415 555 0100."


def test_short_text_is_extracted_at_once(clients: dict[str, Any]) -> None:
    response = clients["agent"].post(f"{API}/extract", {"text": TEXT}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["length"] == len(TEXT)
    emails = [e for e in body["entities"] if e["label"] == "EMAIL"]
    assert len(emails) == 1
    email = emails[0]
    assert TEXT[email["start"] : email["end"]] == "jane.doe@example.com" == email["text"]
    assert email["source"].startswith("pattern")
    assert Document.objects.count() == 0  # nothing stored for a synchronous extraction
    assert InferenceLog.objects.filter(kind="extract", ok=True).count() == 1


def test_offsets_are_code_points_of_the_text_as_sent(clients: dict[str, Any]) -> None:
    text = "Ünïcödé 😀 — write to ops@example.org"
    body = clients["agent"].post(f"{API}/extract", {"text": text}, format="json").json()
    email = next(e for e in body["entities"] if e["label"] == "EMAIL")
    assert text[email["start"] : email["end"]] == "ops@example.org"


def test_options_choose_recognizers(clients: dict[str, Any]) -> None:
    response = clients["agent"].post(
        f"{API}/extract", {"text": TEXT, "options": {"recognizers": ["patterns"]}}, format="json"
    )
    assert response.status_code == 200
    assert all(e["source"].startswith("pattern") for e in response.json()["entities"])


def test_long_text_becomes_a_document(
    clients: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NER_SYNC_MAX_CHARS = 20
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["agent"].post(f"{API}/extract", {"text": TEXT}, format="json")
    assert response.status_code == 202, response.content
    [ref] = response.json()["documents"]
    doc = Document.objects.get(pk=ref["id"])
    assert ref["url"] == f"{API}/documents/{doc.pk}"
    assert doc.text == TEXT and doc.source == "api"
    assert doc.status == Document.Status.DONE  # eager mode: processed when the request's transaction committed
    assert doc.entities.filter(label="EMAIL").exists()
    # In a test the commit (and the send that sets task_id) comes after the response: read it again.
    detail = clients["agent"].get(ref["url"]).json()
    assert detail["task_url"] == f"{API}/tasks/{doc.task_id}"
    assert [e["label"] for e in detail["entities"]].count("EMAIL") == 1
    task = clients["agent"].get(detail["task_url"]).json()
    assert task["kind"] == "document" and task["state"] == "done" and task["done"] is True


def test_batch_gives_one_document_per_text(clients: dict[str, Any]) -> None:
    texts = ["a@example.com here", "call 415-555-0100", "nothing"]
    response = clients["agent"].post(f"{API}/extract", {"texts": texts}, format="json")
    assert response.status_code == 202
    refs = response.json()["documents"]
    assert [Document.objects.get(pk=r["id"]).text for r in refs] == texts
    assert all(r["status"] == "queued" for r in refs)  # the test's transaction never commits: nothing ran


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": TEXT, "texts": [TEXT]}, "non_field_errors"),
        ({}, "non_field_errors"),
        ({"text": "   "}, "text"),
        ({"text": 12}, "text"),
        ({"texts": []}, "texts"),
        ({"texts": ["ok", ""]}, "texts"),
        ({"texts": ["x"] * 101}, "texts"),
        ({"text": TEXT, "colour": "red"}, "colour"),
        ({"text": TEXT, "options": {"recognizers": ["telepathy"]}}, "options"),
        ({"text": TEXT, "options": {"recognizers": ["patterns"], "pipeline": "rules"}}, "options"),
        ({"text": TEXT, "options": {"speed": "ludicrous"}}, "options"),
        ({"text": TEXT, "options": {"tagger_version": "no-such-version"}}, "options"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(clients: dict[str, Any], payload: dict[str, Any], field: str) -> None:
    response = clients["agent"].post(f"{API}/extract", payload, format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert Document.objects.count() == 0


def test_text_over_the_limit_is_refused(clients: dict[str, Any], settings: Any) -> None:
    settings.NER_MAX_TEXT_CHARS = 50
    response = clients["agent"].post(f"{API}/extract", {"text": "x" * 51}, format="json")
    assert response.status_code == 400
    assert "limit is 50" in error_of(response)["fields"]["text"][0]


def test_idempotency_key_replays_the_first_response(clients: dict[str, Any]) -> None:
    payload = {"texts": ["a@example.com", "b@example.com"]}
    first = clients["agent"].post(f"{API}/extract", payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = clients["agent"].post(f"{API}/extract", payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Document.objects.count() == 2

"""Conversations, their messages, reply suggestions and the suggestion event stream over the API."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

import json
from typing import Any

import pytest

from chat.models import Conversation, Message, ReplySuggestion
from ner.models import Document
from tests.api_support import API, clients, error_of, patterns_only  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("patterns_only")]


@pytest.fixture
def conversation() -> Conversation:
    return Conversation.objects.create(customer_name="Lee Park", subject="Refund", customer_token="tok-1")


def test_create_list_update(clients: dict[str, Any]) -> None:
    agent = clients["agent"]
    response = agent.post(
        f"{API}/conversations", {"customer_name": "Mo", "customer_email": "mo@example.com"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open" and body["message_count"] == 0
    assert body["messages_url"] == f"{API}/conversations/{body['id']}/messages"
    stored = Conversation.objects.get(pk=body["id"])
    assert len(stored.customer_token) >= 20 and "customer_token" not in body  # the customer's secret stays private
    patched = agent.patch(f"{API}/conversations/{body['id']}", {"status": "closed"}, format="json")
    assert patched.status_code == 200 and patched.json()["status"] == "closed"
    assert [c["id"] for c in agent.get(f"{API}/conversations?status=closed").json()["results"]] == [body["id"]]
    assert agent.get(f"{API}/conversations?status=open").json()["count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "customer_name"),
        ({"customer_name": "  "}, "customer_name"),
        ({"customer_name": "A", "customer_email": "not-an-email"}, "customer_email"),
        ({"customer_name": "A", "channel": "pigeon"}, "channel"),
        ({"customer_name": "A", "customer_token": "mine"}, "customer_token"),
        ({"customer_name": "A", "assigned_agent": 999999}, "assigned_agent"),
    ],
)
def test_create_rejects_bad_input(clients: dict[str, Any], payload: dict[str, Any], field: str) -> None:
    response = clients["agent"].post(f"{API}/conversations", payload, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert Conversation.objects.count() == 0


def test_put_and_delete_are_not_offered(clients: dict[str, Any], conversation: Conversation) -> None:
    url = f"{API}/conversations/{conversation.pk}"
    assert clients["admin"].put(url, {"customer_name": "X"}, format="json").status_code == 405
    assert clients["admin"].delete(url).status_code == 405


def test_post_message_stores_it_with_a_document(
    clients: dict[str, Any], conversation: Conversation, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"{API}/conversations/{conversation.pk}/messages"
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["agent"].post(url, {"text": "My email is lee@example.com"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "in" and body["author"] == "Lee Park"
    message = Message.objects.get(pk=body["id"])
    assert message.document is not None and message.document.source == "chat"
    listed = clients["reviewer"].get(url).json()
    assert listed["count"] == 1
    [entity] = [e for e in listed["results"][0]["entities"] if e["label"] == "EMAIL"]
    assert entity["text"] == "lee@example.com"
    reply = clients["agent"].post(url, {"text": "Thanks, on it.", "direction": "out"}, format="json").json()
    assert reply["author"] == "agent-user"
    assert [m["direction"] for m in clients["agent"].get(url).json()["results"]] == ["in", "out"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": "hi", "direction": "sideways"}, "direction"),
        ({"text": "hi", "conversation": 3}, "conversation"),
        ({"text": ["hi"]}, "text"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(
    clients: dict[str, Any], conversation: Conversation, payload: dict[str, Any], field: str
) -> None:
    response = clients["agent"].post(f"{API}/conversations/{conversation.pk}/messages", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert Message.objects.count() == 0 and Document.objects.count() == 0


def test_messages_of_missing_conversation_is_404(clients: dict[str, Any]) -> None:
    assert clients["agent"].get(f"{API}/conversations/987654/messages").status_code == 404
    response = clients["agent"].post(f"{API}/conversations/987654/messages", {"text": "hi"}, format="json")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_suggest_reply_answers_202_with_a_stream(clients: dict[str, Any], conversation: Conversation) -> None:
    response = clients["agent"].post(f"{API}/conversations/{conversation.pk}/suggest-reply")
    assert response.status_code == 202, response.content
    body = response.json()
    suggestion = ReplySuggestion.objects.get(pk=body["id"])
    assert suggestion.conversation_id == conversation.pk and body["status"] == "queued"
    assert body["stream_url"] == f"{API}/suggestions/{suggestion.pk}/stream"
    assert clients["agent"].get(body["url"]).json()["id"] == suggestion.pk


def _events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        name, data = block.split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_stream_of_a_finished_suggestion(clients: dict[str, Any], conversation: Conversation) -> None:
    claims = ["I've issued your refund."]
    suggestion = ReplySuggestion.objects.create(
        conversation=conversation, status="done", text="Hello Lee! I've issued your refund.", claims=claims
    )
    response = clients["agent"].get(f"{API}/suggestions/{suggestion.pk}/stream", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    ((name, data),) = _events(response)  # the one final event: the suggestion's whole state
    assert name == "done" and data["id"] == suggestion.pk
    assert (data["status"], data["error"], data["claims"]) == ("done", "", claims)
    assert clients["agent"].get(f"{API}/suggestions/{suggestion.pk}").json()["claims"] == claims


def test_stream_gives_up_after_the_limit(clients: dict[str, Any], conversation: Conversation, settings: Any) -> None:
    settings.API_STREAM_MAX_S = 1
    suggestion = ReplySuggestion.objects.create(conversation=conversation, text="Hel")
    response = clients["agent"].get(f"{API}/suggestions/{suggestion.pk}/stream")
    assert _events(response) == [("text", {"text": "Hel"}), ("timeout", {"status": "queued", "text": "Hel"})]

"""The agent UI and the customer page, through Django's test client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from chat.models import CannedResponse, Conversation, Message, ReplySuggestion
from chat.views import segments
from ner.models import Document, Entity
from ner.roles import AGENT, sync_role_groups

EMOJI_TEXT = "Hi 👋🏽 my order ORD-123456 is late 😞, mail jane@example.com"


@pytest.fixture
def agent(db: Any) -> User:
    sync_role_groups()
    user = User.objects.create_user("alice", password="pw-alice-123")
    user.groups.add(Group.objects.get(name=AGENT))
    return user


@pytest.fixture
def client_agent(client: Client, agent: User) -> Client:
    client.force_login(agent)
    return client


def _message(conv: Conversation, text: str, direction: str = "in") -> Message:
    doc = Document.objects.create(text=text, source="chat", status=Document.Status.DONE)
    return Message.objects.create(conversation=conv, direction=direction, author="Jane", text=text, document=doc)


def _entity(msg: Message, needle: str, label: str, source: str = "pattern:x") -> Entity:
    assert msg.document is not None
    start = msg.text.index(needle)
    return Entity.objects.create(
        document=msg.document, start=start, end=start + len(needle), label=label, text=needle, score=0.97, source=source
    )


@pytest.fixture
def conv(db: Any) -> Conversation:
    c = Conversation.objects.create(customer_name="Jane Roe", subject="Late parcel", customer_token="tok-jane")
    m = _message(c, EMOJI_TEXT)
    _entity(m, "ORD-123456", "ORDER_ID", "rule:order-id")
    _entity(m, "jane@example.com", "EMAIL", "pattern:email")
    return c


def test_segments_use_code_points_so_emoji_do_not_shift_marks(conv: Conversation) -> None:
    msg = conv.messages.get()
    assert msg.document is not None
    parts = segments(msg.text, list(msg.document.entities.all()))
    assert "".join(p["text"] for p in parts) == msg.text
    marked = [(p["text"], p["entity"].label) for p in parts if p["entity"]]
    assert marked == [("ORD-123456", "ORDER_ID"), ("jane@example.com", "EMAIL")]


def test_rejected_and_overlapping_entities_are_not_marked(conv: Conversation) -> None:
    msg = conv.messages.get()
    order = Entity.objects.get(label="ORDER_ID")
    order.review_status = Entity.Review.REJECTED
    order.save()
    _entity(msg, "jane", "PER", "spacy")  # inside the email: overlaps, dropped
    assert msg.document is not None
    parts = segments(msg.text, list(msg.document.entities.all()))
    assert [p["text"] for p in parts if p["entity"]] == ["jane@example.com"]


def test_inbox_needs_login(client: Client, db: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_inbox_lists_unread_counts_and_filters(client_agent: Client, agent: User, conv: Conversation) -> None:
    _message(conv, "Any news?")
    other = Conversation.objects.create(customer_name="Bob Stone", subject="Refund", customer_token="tok-bob")
    _message(other, "Where is my refund?")
    Conversation.objects.filter(pk=other.pk).update(
        agent_last_read_at=timezone.now(), assigned_agent=agent, status="pending"
    )
    html = client_agent.get("/").content.decode()
    assert "Jane Roe" in html and "Bob Stone" not in html  # default filter: open
    assert 'title="2 unread customer messages"' in html
    html = client_agent.get("/?status=all&mine=1").content.decode()
    assert "Bob Stone" in html and "Jane Roe" not in html
    assert "unread customer message" not in html  # Bob's conversation was read
    html = client_agent.get("/?status=all&q=refund").content.decode()
    assert "Bob Stone" in html and "Jane Roe" not in html


def test_conversation_page_highlights_entities(client_agent: Client, conv: Conversation) -> None:
    CannedResponse.objects.create(title="Greeting", text="Hi there!")
    response = client_agent.get(f"/conversations/{conv.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert ">ORD-123456</mark>" in html and 'title="ORDER_ID · score 0.97 · rule:order-id"' in html
    assert "Hi 👋🏽 my order <mark" in html
    assert 'data-text="Hi there!"' in html


def test_only_a_post_marks_a_conversation_read(client_agent: Client, conv: Conversation) -> None:
    # Issue 17: a plain GET (a prefetch, a link preview) marked the conversation read.
    assert client_agent.get(f"/conversations/{conv.pk}/").status_code == 200
    assert client_agent.get(f"/conversations/{conv.pk}/messages?version=").json()["changed"]
    conv.refresh_from_db()
    assert conv.agent_last_read_at is None
    assert 'title="1 unread customer message"' in client_agent.get("/").content.decode()
    assert client_agent.get(f"/conversations/{conv.pk}/read").status_code == 405
    assert client_agent.post(f"/conversations/{conv.pk}/read").json() == {"id": conv.pk, "read": True}
    conv.refresh_from_db()
    assert conv.agent_last_read_at is not None
    assert "unread customer message" not in client_agent.get("/").content.decode()
    assert client_agent.post("/conversations/999999/read").status_code == 404


def test_messages_poll_reports_changes_only(client_agent: Client, conv: Conversation) -> None:
    first = client_agent.get(f"/conversations/{conv.pk}/messages?version=").json()
    assert first["changed"] and "ORD-123456" in first["html"]
    same = client_agent.get(f"/conversations/{conv.pk}/messages?version={first['version']}").json()
    assert same == {"version": first["version"], "changed": False}
    _message(conv, "Hello again")
    assert client_agent.get(f"/conversations/{conv.pk}/messages?version={first['version']}").json()["changed"]


def test_send_records_suggestion_outcome_and_redacts(client_agent: Client, conv: Conversation) -> None:
    s = ReplySuggestion.objects.create(conversation=conv, status="done", text="Your order ORD-123456 ships today.")
    response = client_agent.post(
        f"/conversations/{conv.pk}/send", {"text": "Your order ORD-123456 ships today.", "suggestion_id": s.pk}
    )
    assert response.status_code == 302
    s.refresh_from_db()
    assert s.outcome == "accepted" and s.final_text == "Your order ORD-123456 ships today."
    s2 = ReplySuggestion.objects.create(conversation=conv, status="done", text="Thanks!")
    client_agent.post(
        f"/conversations/{conv.pk}/send",
        {"text": "Thanks! We wrote to jane@example.com.", "suggestion_id": s2.pk, "redact": "on"},
    )
    s2.refresh_from_db()
    assert s2.outcome == "edited"
    last = conv.messages.filter(direction="out").last()
    assert last is not None and "jane@example.com" not in last.text and "[email removed]" in last.text
    assert s2.final_text == last.text
    conv.refresh_from_db()
    assert conv.assigned_agent is not None


def test_send_refuses_an_empty_reply(client_agent: Client, conv: Conversation) -> None:
    response = client_agent.post(f"/conversations/{conv.pk}/send", {"text": "  "}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "empty" in response.json()["error"]


def test_suggest_cancel_reject_and_state(client_agent: Client, conv: Conversation) -> None:
    info = client_agent.post(f"/conversations/{conv.pk}/suggest").json()
    s = ReplySuggestion.objects.get(pk=info["id"])
    assert s.status == "queued" and s.requested_by is not None
    assert client_agent.post(info["cancel_url"]).json()["stopped"] is True
    assert client_agent.get(info["state_url"]).json()["status"] == "cancelled"
    client_agent.post(info["reject_url"])
    s.refresh_from_db()
    assert s.outcome == "rejected"


def test_stream_replays_a_finished_suggestion_as_events(client_agent: Client, conv: Conversation) -> None:
    s = ReplySuggestion.objects.create(conversation=conv, status="done", text="All set.", flagged=[])
    response = client_agent.get(f"/suggestions/{s.pk}/stream")
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.startswith("event: done\n")
    assert json.loads(body.split("data: ", 1)[1])["text"] == "All set."


def test_agent_corrects_an_entity(client_agent: Client, agent: User, conv: Conversation) -> None:
    entity = Entity.objects.get(label="EMAIL")
    response = client_agent.post(f"/entities/{entity.pk}/correct", {"label": "URL"}, HTTP_ACCEPT="application/json")
    assert response.json() == {"id": entity.pk, "review_status": "corrected", "label": "URL"}
    entity.refresh_from_db()
    assert entity.corrected_label == "URL" and entity.reviewed_by == agent and entity.reviewed_at
    client_agent.post(f"/entities/{entity.pk}/correct", {"label": "NONE"})
    entity.refresh_from_db()
    assert entity.review_status == "rejected"
    bad = client_agent.post(f"/entities/{entity.pk}/correct", {"label": "NOPE"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400


def test_an_agent_cannot_overrule_a_reviewer(client_agent: Client, conv: Conversation) -> None:
    """Chat corrections go through ner.review: an entity a reviewer decided on stays as decided."""
    from ner.review.actions import accept

    reviewer = User.objects.create_user("rita")
    entity = Entity.objects.get(label="EMAIL")
    accept([entity.pk], reviewer)
    response = client_agent.post(f"/entities/{entity.pk}/correct", {"label": "NONE"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and "already reviewed" in response.json()["error"]
    entity.refresh_from_db()
    assert entity.review_status == "accepted" and entity.reviewed_by == reviewer


def test_entities_outside_chat_messages_cannot_be_corrected_from_a_conversation(client_agent: Client) -> None:
    doc = Document.objects.create(text="mail a@b.io", source="api", status=Document.Status.DONE)
    entity = Entity.objects.create(document=doc, start=5, end=11, label="EMAIL", text="a@b.io", score=0.9, source="p")
    response = client_agent.post(f"/entities/{entity.pk}/correct", {"label": "URL"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert Entity.objects.get(pk=entity.pk).review_status == "pending"


def test_customer_page_posts_and_polls(client: Client, conv: Conversation) -> None:
    assert client.get("/c/not-a-token/").status_code == 404
    response = client.post(f"/c/{conv.customer_token}/", {"text": "Any update? 🙏"})
    assert response.status_code == 302
    msg = conv.messages.last()
    assert msg is not None and msg.direction == "in" and msg.text == "Any update? 🙏" and msg.document is not None
    data = client.get(f"/c/{conv.customer_token}/messages?after=0").json()
    assert "Any update? 🙏" in data["html"] and data["last"] == msg.pk
    assert client.post(f"/c/{conv.customer_token}/", {"text": ""}).status_code == 400


def test_customer_can_start_a_conversation(client: Client, db: Any) -> None:
    response = client.post("/c/new/", {"name": "Max Power", "text": "My parcel ORD-555555 is lost"})
    assert response.status_code == 302
    conv = Conversation.objects.get(customer_name="Max Power")
    assert response["Location"] == f"/c/{conv.customer_token}/"
    assert conv.messages.get().text == "My parcel ORD-555555 is lost"
    assert client.post("/c/new/", {"name": "", "text": "x"}).status_code == 400


@pytest.mark.integration
def test_stream_relays_redis_events_and_cancel_flag(
    client_agent: Client, conv: Conversation, settings: Any, redis_url: str
) -> None:
    from chat import streaming

    settings.CELERY_BROKER_URL = redis_url
    s = ReplySuggestion.objects.create(conversation=conv, status="streaming")
    client = streaming.client()
    assert client is not None
    client.delete(f"chat:suggestion:{s.pk}:events", f"chat:suggestion:{s.pk}:cancel")
    streaming.publish(s.pk, {"type": "text", "text": "Hi"})
    streaming.publish(s.pk, {"type": "text", "text": "Hi Jane"})
    ReplySuggestion.objects.filter(pk=s.pk).update(status="done", text="Hi Jane, all set.")
    streaming.publish(s.pk, {"type": "done", "text": "Hi Jane, all set."})
    assert [e["text"] for e in streaming.read_events(s.pk, 1)] == ["Hi Jane", "Hi Jane, all set."]

    body = b"".join(client_agent.get(f"/suggestions/{s.pk}/stream").streaming_content).decode()  # type: ignore[attr-defined]
    events = [block.split("\n")[0] for block in body.strip().split("\n\n")]
    assert events == ["event: text", "event: text", "event: done"]
    assert '"text": "Hi Jane, all set."' in body

    assert not streaming.cancel_requested(s.pk)
    s2 = ReplySuggestion.objects.create(conversation=conv, status="streaming")
    client_agent.post(f"/suggestions/{s2.pk}/cancel")
    assert streaming.cancel_requested(s2.pk)
    client.delete(*[f"chat:suggestion:{i}:{k}" for i in (s.pk, s2.pk) for k in ("events", "cancel")])


def test_demo_data_is_realistic_and_idempotent(
    db: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from chat import demo, retrieval

    monkeypatch.setattr(retrieval, "ensure_embeddings", lambda: 0)  # MiniLM is tested in test_retrieval
    said: list[str] = []
    with django_capture_on_commit_callbacks(execute=True):  # extraction is sent once a message is committed
        demo.create_demo_data(said.append)
    conversations = Conversation.objects.filter(customer_token__startswith=demo.DEMO_PREFIX)
    assert conversations.count() == 36
    assert len({c.customer_token for c in conversations}) == 36
    assert CannedResponse.objects.count() == len(demo.CANNED)
    inbound = Message.objects.filter(direction="in")
    assert inbound.filter(text__contains="ORD-").exists() and all(m.document_id for m in inbound)
    assert set(conversations.values_list("status", flat=True)) <= {"open", "pending", "closed"}
    # The demo catalogue is in the gazetteer: every product a customer names is tagged as one.
    from ner.models import Entity

    named = [(m, p) for m in inbound for p in demo.PRODUCTS if p in m.text]
    assert len(named) >= 10
    for message, product in named:
        tagged = set(Entity.objects.filter(document_id=message.document_id or 0).values_list("text", "label"))
        assert (product, "PRODUCT") in tagged or any(product in t and lab == "PRODUCT" for t, lab in tagged), (
            message.text,
            tagged,
        )
    assert not Entity.objects.filter(text__in=[e for e in demo.EMOJI if e]).exists()  # 🙏 is no organisation
    demo.create_demo_data(said.append)  # a second start adds nothing
    assert Conversation.objects.count() == 36 and CannedResponse.objects.count() == len(demo.CANNED)
    assert "  demo conversations already there" in said

"""Card numbers and IBANs on screen: masked in the inbox and message lists (last 4 shown), revealed
on demand for agents with a logged click, and a preview of what outgoing redaction will remove."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from chat.guard import mask, mask_value
from chat.models import Conversation, Message
from ner.models import Document, Entity
from tests.api_support import make_user

pytestmark = pytest.mark.django_db

CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
TEXT = f"Please refund card {CARD} or IBAN {IBAN}, thanks"


@pytest.fixture
def conv() -> Conversation:
    c = Conversation.objects.create(customer_name="Jane Roe", subject="Refund", customer_token="tok-mask")
    doc = Document.objects.create(text=TEXT, source="chat", status=Document.Status.DONE)
    Message.objects.create(conversation=c, direction="in", author="Jane", text=TEXT, document=doc)
    start = TEXT.index(CARD)  # the card is an extracted entity; the IBAN is found by the patterns on screen
    Entity.objects.create(
        document=doc, start=start, end=start + len(CARD), label="CREDIT_CARD", text=CARD, score=1.0, source="x"
    )
    return c


def _client(role: str) -> Client:
    client = Client()
    client.force_login(make_user(f"{role}-masking", role))
    return client


def test_mask_value_keeps_separators_and_the_last_four() -> None:
    assert mask_value(CARD) == "•••• •••• •••• 1111"
    assert mask_value("DE89370400440532013000").endswith("3000")
    assert mask(f"card {CARD}, order ORD-123456") == "card •••• •••• •••• 1111, order ORD-123456"


def test_inbox_preview_masks_cards_and_ibans(conv: Conversation) -> None:
    Conversation.objects.filter(pk=conv.pk).update(subject=f"Card {CARD}")
    html = _client("agent").get("/").content.decode()
    assert "•••• •••• •••• 1111" in html and CARD not in html
    assert "3704" not in html


def test_conversation_masks_entities_and_pattern_matches(conv: Conversation) -> None:
    Conversation.objects.filter(pk=conv.pk).update(subject=f"Card {CARD}")
    client = _client("agent")
    html = client.get(f"/conversations/{conv.pk}/").content.decode()
    assert CARD not in html and IBAN not in html
    assert 'data-label="CREDIT_CARD"' in html  # the entity mark stays, with the masked value inside
    assert "•••• •••• •••• 1111" in html and "•••• •••• •••• •••• ••30 00" in html
    assert "pii-reveal" in html
    polled = client.get(f"/conversations/{conv.pk}/messages").json()["html"]
    assert CARD not in polled and "•••• •••• •••• 1111" in polled


def test_agent_reveals_a_message_and_the_click_is_logged(conv: Conversation, caplog: Any) -> None:
    message = conv.messages.get()
    with caplog.at_level(logging.INFO, logger="chat.audit"):
        response = _client("agent").post(f"/conversations/{conv.pk}/messages/{message.pk}/reveal")
    assert response.status_code == 200
    assert CARD in response.json()["html"] and IBAN in response.json()["html"]
    record = next(r for r in caplog.records if r.name == "chat.audit")
    assert "agent-masking" in record.getMessage() and f"message={message.pk}" in record.getMessage()


def test_reviewer_sees_masked_values_and_cannot_reveal(conv: Conversation) -> None:
    client = _client("reviewer")
    html = client.get(f"/conversations/{conv.pk}/").content.decode()
    assert CARD not in html and "pii-reveal" not in html
    message = conv.messages.get()
    assert client.post(f"/conversations/{conv.pk}/messages/{message.pk}/reveal").status_code == 403


def test_masking_can_be_switched_off(conv: Conversation, settings: Any) -> None:
    settings.CHAT_MASK_ON_SCREEN = False
    assert CARD in _client("agent").get(f"/conversations/{conv.pk}/").content.decode()


def test_redaction_preview_lists_what_will_be_removed(conv: Conversation) -> None:
    response = _client("agent").post(
        f"/conversations/{conv.pk}/redaction-preview", {"text": f"Mail me at jane@example.com, card {CARD}"}
    )
    data = response.json()
    assert data["text"] == "Mail me at [email removed], card [card removed]"
    assert [(r["label"], r["text"]) for r in data["removed"]] == [("EMAIL", "jane@example.com"), ("CREDIT_CARD", CARD)]


def test_a_subject_cut_from_the_first_message_is_masked_before_the_cut() -> None:
    text = f"Hello there, I need help: my card number is {CARD} and it was charged"
    Client().post("/c/new/", {"name": "Jane", "text": text})
    subject = Conversation.objects.get().subject
    assert len(subject) == 60 and "4111" not in subject and subject.endswith("•••• •••• •••• 1")

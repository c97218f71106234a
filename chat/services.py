"""What agents and customers do in a conversation: post messages, ask for and judge suggestions."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, Message, ReplySuggestion
from ner import jobs
from ner.extraction import documents
from ner.models import Entity
from ner.review.actions import agent_correction

logger = logging.getLogger(__name__)

GENERATE_TASK = "chat.tasks.generate_reply"


class CustomerLinkExpired(Exception):
    """The customer link is older than ``CHAT_CUSTOMER_LINK_TTL_DAYS``; an agent can send a new one."""


def new_customer_token() -> str:
    return secrets.token_urlsafe(24)


def customer_conversation(token: str) -> Conversation | None:
    """The conversation a customer link opens: ``None`` for an unknown link, ``CustomerLinkExpired`` for an old one."""
    conversation = Conversation.objects.filter(customer_token=token).first()
    if conversation is None:
        return None
    expires_at = customer_link_expires_at(conversation)
    if expires_at is not None and expires_at <= timezone.now():
        raise CustomerLinkExpired()
    return conversation


def customer_link_expires_at(conversation: Conversation) -> datetime | None:
    days = settings.CHAT_CUSTOMER_LINK_TTL_DAYS
    return conversation.customer_token_created_at + timedelta(days=days) if days else None


def rotate_customer_link(conversation: Conversation) -> str:
    """Give the conversation a new customer link; the old one stops working at once."""
    conversation.customer_token = new_customer_token()
    conversation.customer_token_created_at = timezone.now()
    conversation.save(update_fields=["customer_token", "customer_token_created_at", "updated_at"])
    return conversation.customer_token


def post_message(conversation_id: int, direction: str, author: str, text: str) -> Message:
    """Store a message and send it for entity extraction (its ``Document``)."""
    text = text.strip()
    if not text:
        raise ValidationError("A message cannot be empty.")
    limit = min(settings.CHAT_MAX_MESSAGE_CHARS, settings.NER_MAX_TEXT_CHARS)
    if len(text) > limit:
        raise ValidationError(f"A message is limited to {limit} characters; this one has {len(text)}.")
    if direction not in Message.Direction.values:
        raise ValidationError(f"Unknown direction {direction!r}; use 'in' or 'out'.")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        cap = settings.CHAT_MAX_MESSAGES_PER_CONVERSATION
        if conversation.messages.count() >= cap:
            raise ValidationError(
                f"This conversation has reached its limit of {cap} messages; please start a new conversation."
            )
        message = Message.objects.create(conversation=conversation, direction=direction, author=author, text=text)
        message.document = documents.submit_document(text, source="chat")
        message.save(update_fields=["document"])
        if direction == Message.Direction.INBOUND and conversation.status == Conversation.Status.CLOSED:
            conversation.status = Conversation.Status.OPEN
        conversation.save(update_fields=["status", "updated_at"])
    return message


def request_suggestion(conversation: Conversation, user: Any = None) -> ReplySuggestion:
    """Create a queued suggestion and start generating it (gen worker, or a thread in eager mode)."""
    suggestion = ReplySuggestion.objects.create(
        conversation=conversation, requested_by=user if getattr(user, "is_authenticated", False) else None
    )
    transaction.on_commit(lambda: launch_generation(suggestion.pk))
    return suggestion


def launch_generation(suggestion_id: int) -> None:
    """Start ``chat.tasks.generate_reply`` (a thread without a broker); a refused message fails the suggestion."""
    jobs.launch(
        GENERATE_TASK,
        suggestion_id,
        on_not_sent=lambda reason: ReplySuggestion.objects.filter(
            pk=suggestion_id, status=ReplySuggestion.Status.QUEUED
        ).update(status=ReplySuggestion.Status.FAILED, error=reason[:2000]),
    )


def cancel_suggestion(suggestion: ReplySuggestion) -> bool:
    """Stop a running suggestion; True when it was still queued or streaming."""
    from chat import streaming

    streaming.request_cancel(suggestion.pk)
    changed = ReplySuggestion.objects.filter(
        pk=suggestion.pk, status__in=[ReplySuggestion.Status.QUEUED, ReplySuggestion.Status.STREAMING]
    ).update(status=ReplySuggestion.Status.CANCELLED)
    return bool(changed)


def reject_suggestion(suggestion: ReplySuggestion) -> None:
    cancel_suggestion(suggestion)
    ReplySuggestion.objects.filter(pk=suggestion.pk).update(outcome=ReplySuggestion.Outcome.REJECTED)


def send_reply(
    conversation: Conversation,
    user: Any,
    text: str,
    *,
    suggestion: ReplySuggestion | None = None,
    redact: bool | None = None,
) -> Message:
    """Post the agent's reply (redacted when asked) and record what became of the suggestion."""
    if redact if redact is not None else settings.CHAT_REDACT_OUTGOING:
        from chat.guard import redact as redact_text

        text, _removed = redact_text(text)
    author = getattr(user, "get_full_name", lambda: "")() or getattr(user, "username", "") or "agent"
    message = post_message(conversation.pk, Message.Direction.OUTBOUND, author, text)
    updates: dict[str, Any] = {"agent_last_read_at": timezone.now()}
    if conversation.assigned_agent_id is None and getattr(user, "is_authenticated", False):
        updates["assigned_agent"] = user
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
    if suggestion is not None:
        same = " ".join(suggestion.text.split()) == " ".join(message.text.split())
        suggestion.outcome = ReplySuggestion.Outcome.ACCEPTED if same else ReplySuggestion.Outcome.EDITED
        suggestion.final_text = message.text
        suggestion.save(update_fields=["outcome", "final_text"])
    return message


def correct_entity(entity: Entity, label: str, user: Any) -> Entity:
    """An agent's correction from the conversation view: a new label, or ``NONE`` to reject (``ner.review``)."""
    return agent_correction(entity, label, user)

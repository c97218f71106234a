"""What agents and customers do in a conversation: post messages, ask for and judge suggestions."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, Message, ReplySuggestion
from ner.models import Document, Entity

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 5_000


def new_customer_token() -> str:
    return secrets.token_urlsafe(24)


def _extract_now(document_id: int) -> None:
    """Stand-in for ``ner.services.process_document`` until the workers module lands."""
    try:
        from ner.pipeline import extract
    except ImportError:
        return
    document = Document.objects.get(pk=document_id)
    try:
        spans = extract([document.text])[0]
    except Exception as exc:
        logger.exception("extraction failed for document %s", document_id)
        document.status, document.error = Document.Status.FAILED, str(exc)[:2000]
        document.save(update_fields=["status", "error", "updated_at"])
        return
    with transaction.atomic():
        for s in spans:
            Entity.objects.update_or_create(
                document=document,
                start=s.start,
                end=s.end,
                label=s.label,
                source=s.source,
                defaults={"text": s.text, "score": s.score},
            )
        document.status, document.processed_at = Document.Status.DONE, timezone.now()
        document.save(update_fields=["status", "processed_at", "updated_at"])


def _submit(text: str) -> Document:
    try:
        from ner.services import submit_document
    except ImportError:
        document = Document.objects.create(text=text, source="chat", queued_at=timezone.now())
        transaction.on_commit(lambda: _extract_now(document.pk))
        return document
    return submit_document(text, source="chat")


def post_message(conversation_id: int, direction: str, author: str, text: str) -> Message:
    """Store a message and send it for entity extraction (its ``Document``)."""
    text = text.strip()
    if not text:
        raise ValidationError("A message cannot be empty.")
    limit = min(MAX_MESSAGE_CHARS, settings.NER_MAX_TEXT_CHARS)
    if len(text) > limit:
        raise ValidationError(f"A message is limited to {limit} characters; this one has {len(text)}.")
    if direction not in Message.Direction.values:
        raise ValidationError(f"Unknown direction {direction!r}; use 'in' or 'out'.")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        message = Message.objects.create(conversation=conversation, direction=direction, author=author, text=text)
        message.document = _submit(text)
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
    if settings.CELERY_TASK_ALWAYS_EAGER:
        from chat.generation import run_in_thread

        transaction.on_commit(lambda: run_in_thread(suggestion.pk))
    else:
        from chat.tasks import generate_reply

        transaction.on_commit(lambda: generate_reply.delay(suggestion.pk))
    return suggestion


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
    """An agent's correction: a new label (``corrected``) or ``NONE`` (``rejected``); feeds the review queue."""
    from ner.labels import is_known_label

    label = label.strip().upper()
    if label == "NONE":
        entity.review_status = Entity.Review.REJECTED
        entity.corrected_label = ""
    elif is_known_label(label):
        entity.review_status = Entity.Review.CORRECTED
        entity.corrected_label = label
    else:
        raise ValidationError(f"Unknown label {label!r}.")
    entity.reviewed_by = user
    entity.reviewed_at = timezone.now()
    entity.save(update_fields=["review_status", "corrected_label", "reviewed_by", "reviewed_at"])
    return entity

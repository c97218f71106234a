"""Celery tasks of the chat app: thin adapters that take primary keys."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="chat.tasks.generate_reply",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CHAT_GEN_SOFT_TIME_LIMIT,
    time_limit=settings.CHAT_GEN_TIME_LIMIT,
)
def generate_reply(suggestion_id: int) -> str:
    """Generate a reply suggestion on the ``gen`` queue, streaming its text through Redis.

    ``run_suggestion`` claims the row with a conditional update: a redelivered task
    (its worker died) takes over a row left ``streaming`` for another attempt, up to
    ``CHAT_GEN_MAX_ATTEMPTS``, then fails it; a finished row is left alone.  The soft
    time limit fails the suggestion with its reason.
    """
    from chat.generation import run_suggestion

    return run_suggestion(suggestion_id).status


@shared_task(name="chat.tasks.sweep_stale_suggestions", ignore_result=True, acks_late=True)
def sweep_stale_suggestions() -> dict[str, int]:
    """Periodic (celery beat): fail suggestions left queued or streaming past ``CHAT_SUGGESTION_STALE_AFTER_S``."""
    from chat.streaming import fail_stale_suggestions

    return fail_stale_suggestions()

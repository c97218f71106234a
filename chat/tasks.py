"""Celery tasks of the chat app: thin adapters that take primary keys."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="chat.tasks.generate_reply", acks_late=True, reject_on_worker_lost=True)
def generate_reply(suggestion_id: int) -> str:
    """Generate a reply suggestion on the ``gen`` queue, streaming its tokens through Redis."""
    from chat.generation import run_suggestion

    return run_suggestion(suggestion_id).status

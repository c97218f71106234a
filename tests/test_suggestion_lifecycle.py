"""A suggestion always ends done, failed or cancelled: claims, redelivery, time limits, the sweep, the stream.

The last test starts a real Celery worker (``tests.fault_worker``) on a dedicated Redis
database, SIGKILLs it while a suggestion is being written (a ``[fault:sleep=N]`` marker
stands in for a slow model) and checks that the row ends failed and the event stream ends.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from chat import generation, streaming
from chat.generation import claim_suggestion, run_suggestion
from chat.models import Conversation, Message, ReplySuggestion
from chat.streaming import fail_stale_suggestions, suggestion_events
from chat.tasks import generate_reply, sweep_stale_suggestions
from nlpapp.celery import app
from tests.services import require_redis

Status = ReplySuggestion.Status


@pytest.fixture
def conversation(db: Any, settings: Any) -> Conversation:
    settings.CHAT_RETRIEVAL_TOP_K = 0
    settings.CHAT_REPLY_MODE = "compose"
    settings.CHAT_COMPOSE_MODEL_OPENING = False  # no model needed: the reply is composed
    conv = Conversation.objects.create(customer_name="Jane Roe", subject="Late parcel", customer_token="tok-life")
    Message.objects.create(conversation=conv, direction="in", author="Jane", text="Where is my order ORD-12345?")
    return conv


def _age(suggestion: ReplySuggestion, seconds: float, **fields: Any) -> None:
    then = timezone.now() - timedelta(seconds=seconds)
    ReplySuggestion.objects.filter(pk=suggestion.pk).update(created_at=then, **fields)


def test_generate_reply_has_its_own_time_limits(settings: Any) -> None:
    assert generate_reply.soft_time_limit == settings.CHAT_GEN_SOFT_TIME_LIMIT
    assert generate_reply.time_limit == settings.CHAT_GEN_TIME_LIMIT
    assert settings.CHAT_GEN_SOFT_TIME_LIMIT < settings.CHAT_GEN_TIME_LIMIT < settings.CHAT_SUGGESTION_STALE_AFTER_S
    assert generate_reply.acks_late and generate_reply.reject_on_worker_lost
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "chat.tasks.sweep_stale_suggestions" in schedule
    assert settings.CELERY_TASK_ROUTES["chat.tasks.sweep_*"] == {"queue": "default"}


def test_a_queued_row_is_claimed_once(conversation: Conversation) -> None:
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    done = run_suggestion(suggestion.pk)
    assert done.status == Status.DONE and done.attempts == 1 and done.started_at is not None
    assert "ORD-12345" in done.text
    assert claim_suggestion(suggestion.pk) is None  # finished: nothing to claim
    assert ReplySuggestion.objects.get(pk=suggestion.pk).status == Status.DONE


def test_a_redelivered_task_takes_over_a_row_its_dead_worker_left_streaming(
    conversation: Conversation, settings: Any
) -> None:
    settings.CHAT_GEN_MAX_ATTEMPTS = 2
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    ReplySuggestion.objects.filter(pk=suggestion.pk).update(status=Status.STREAMING, attempts=1, text="Hi Ja")
    result = run_suggestion(suggestion.pk)
    assert result.status == Status.DONE, result.error
    assert result.attempts == 2 and result.text.startswith("Hi Jane")


def test_a_redelivered_task_fails_the_row_after_the_last_attempt(
    conversation: Conversation, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHAT_GEN_MAX_ATTEMPTS = 2
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(streaming, "publish", lambda _pk, event: published.append(event))
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    ReplySuggestion.objects.filter(pk=suggestion.pk).update(status=Status.STREAMING, attempts=2)
    result = run_suggestion(suggestion.pk)
    assert result.status == Status.FAILED and "gave up after 2 attempts" in result.error
    assert published[-1]["type"] == "error"


def test_an_older_attempt_cannot_overwrite_a_newer_one(conversation: Conversation) -> None:
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    first_attempt = claim_suggestion(suggestion.pk)
    assert first_attempt == 1
    assert claim_suggestion(suggestion.pk) == 2  # a redelivery took the row over
    old = ReplySuggestion.objects.filter(pk=suggestion.pk, attempts=first_attempt)
    assert old.update(text="stale words") == 0


def test_the_soft_time_limit_fails_the_suggestion_with_its_reason(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    def too_slow(_sid: int, _turns: Any) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(generation, "before_generation", [too_slow])
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    result = run_suggestion(suggestion.pk)
    assert result.status == Status.FAILED
    assert "CHAT_GEN_SOFT_TIME_LIMIT" in result.error


def test_a_stop_pressed_while_the_reply_is_written_is_kept(
    conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop_button(sid: int, _turns: Any) -> None:
        ReplySuggestion.objects.filter(pk=sid).update(status=Status.CANCELLED)

    monkeypatch.setattr(generation, "before_generation", [stop_button])
    result = run_suggestion(ReplySuggestion.objects.create(conversation=conversation).pk)
    assert result.status == Status.CANCELLED
    assert result.text.startswith("Hi Jane")  # what was written stays usable


def test_the_sweep_fails_stale_queued_and_streaming_rows_only(conversation: Conversation, settings: Any) -> None:
    settings.CHAT_SUGGESTION_STALE_AFTER_S = 120
    fresh_queued = ReplySuggestion.objects.create(conversation=conversation)
    old_queued = ReplySuggestion.objects.create(conversation=conversation)
    _age(old_queued, 600)
    old_streaming = ReplySuggestion.objects.create(conversation=conversation)
    # Created long ago, but its current attempt started 10 s ago: still being written.
    _age(old_streaming, 600, status=Status.STREAMING, started_at=timezone.now() - timedelta(seconds=10))
    dead_streaming = ReplySuggestion.objects.create(conversation=conversation)
    _age(dead_streaming, 600, status=Status.STREAMING, started_at=timezone.now() - timedelta(seconds=300))
    finished = ReplySuggestion.objects.create(conversation=conversation)
    _age(finished, 600, status=Status.DONE, text="kept")

    assert sweep_stale_suggestions() == {"queued": 1, "streaming": 1}
    status = dict(ReplySuggestion.objects.values_list("pk", "status"))
    assert status[fresh_queued.pk] == Status.QUEUED
    assert status[old_queued.pk] == Status.FAILED
    assert status[old_streaming.pk] == Status.STREAMING
    assert status[dead_streaming.pk] == Status.FAILED
    assert status[finished.pk] == Status.DONE
    assert "stopped before it finished" in ReplySuggestion.objects.get(pk=dead_streaming.pk).error


def test_the_stream_ends_a_dead_workers_suggestion_itself(conversation: Conversation, settings: Any) -> None:
    settings.CHAT_SUGGESTION_STALE_AFTER_S = 120
    suggestion = ReplySuggestion.objects.create(conversation=conversation)
    _age(suggestion, 600, status=Status.STREAMING, started_at=timezone.now() - timedelta(seconds=300))
    started = time.monotonic()
    events = list(suggestion_events(suggestion.pk, max_seconds=30, poll_s=0.01))
    assert time.monotonic() - started < 10
    assert events[-1].startswith("event: done") and '"status": "failed"' in events[-1]


# --- a real worker, killed mid-suggestion ------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sigkill_of_the_gen_worker_mid_suggestion_ends_failed_and_closes_the_stream(
    settings: Any, tmp_path: Path
) -> None:
    import redis

    from ner import jobs
    from tests.test_worker_reliability import Broker, Worker

    url = settings.TEST_REDIS_URL
    require_redis(url)
    client = redis.Redis.from_url(url)
    client.flushdb()  # a Redis database dedicated to tests
    settings.CELERY_BROKER_URL = url  # the stream and the stop flag use Redis, as with a real gen worker
    settings.CHAT_RETRIEVAL_TOP_K = 0
    try:
        with Broker(url) as broker:
            app.conf.task_routes = {"ner.tasks.*": {"queue": broker.queue}, "chat.tasks.*": {"queue": broker.queue}}
            _forget_routes()
            worker = Worker(
                broker,
                tmp_path,
                pool="solo",
                concurrency=1,
                CHAT_RETRIEVAL_TOP_K="0",
                CHAT_REPLY_MODE="compose",
                CHAT_COMPOSE_MODEL_OPENING="0",
            )
            conv = Conversation.objects.create(customer_name="Sam Hill", subject="Slow", customer_token="tok-kill")
            Message.objects.create(
                conversation=conv, direction="in", author="Sam", text="Where is ORD-55555? [fault:sleep=60]"
            )
            suggestion = ReplySuggestion.objects.create(conversation=conv)
            jobs.send("chat.tasks.generate_reply", suggestion.pk)

            deadline = time.monotonic() + 60
            while ReplySuggestion.objects.get(pk=suggestion.pk).status != Status.STREAMING:
                assert time.monotonic() < deadline, f"the worker never claimed the suggestion:\n{worker.tail()}"
                time.sleep(0.1)
            events: list[str] = []
            reader = threading.Thread(
                target=lambda: events.extend(suggestion_events(suggestion.pk, max_seconds=60, poll_s=0.05))
            )
            reader.start()
            worker.kill()
            time.sleep(0.5)
            assert ReplySuggestion.objects.get(pk=suggestion.pk).status == Status.STREAMING  # nobody ended it yet
            assert reader.is_alive()

            # The periodic sweep (here with no age limit, as if the limit had passed) fails it ...
            assert fail_stale_suggestions(older_than_s=0) == {"queued": 0, "streaming": 1}
            reader.join(timeout=15)
            assert not reader.is_alive(), "the event stream did not end"
            row = ReplySuggestion.objects.get(pk=suggestion.pk)
            assert row.status == Status.FAILED and "stopped before it finished" in row.error
            # ... and the open stream ends with the final state.
            assert events[-1].startswith("event: done") and '"status": "failed"' in events[-1]
    finally:
        _forget_routes()
        client.flushdb()


def _forget_routes() -> None:
    """Celery caches the routing table it built from ``task_routes``; make it read the current one."""
    amqp: Any = app.amqp
    amqp.__dict__.pop("router", None)
    amqp.flush_routes()

"""Where a suggestion's tokens travel from the generator to the browser, the stop flag, and the event stream.

With a Redis broker the ``gen`` worker appends JSON events to a Redis list per
suggestion (``chat:suggestion:<id>:events``) and the web process replays them as
server-sent events; the stop button sets ``chat:suggestion:<id>:cancel``.  With no
broker (eager mode) generation runs in a thread of the web process and both sides
go through the ``ReplySuggestion`` row instead.

:class:`SuggestionStream` is the one event stream, used by the agent UI and the REST API
(driven by :func:`suggestion_events` under WSGI and :func:`asuggestion_events` under ASGI,
chosen per request by :func:`event_stream`):

- ``text``: ``{"text": the guarded reply so far}`` (the whole text, not a delta: the
  grounding guard may rewrite earlier words);
- ``done``: the suggestion's final state (:func:`suggestion_payload`), whatever the outcome:
  ``status`` is ``done``, ``cancelled`` or ``failed``;
- ``timeout``: ``{"status", "text"}`` when the stream gave up waiting (the suggestion may
  still finish: poll it).
Comment lines (``: keep-alive``) keep proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from chat.models import ReplySuggestion

logger = logging.getLogger(__name__)

EVENT_TTL_S = 600
TERMINAL_EVENTS = ("done", "cancelled", "error")


def _events_key(suggestion_id: int) -> str:
    return f"chat:suggestion:{suggestion_id}:events"


def _cancel_key(suggestion_id: int) -> str:
    return f"chat:suggestion:{suggestion_id}:cancel"


def redis_url() -> str:
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    return url if urlparse(url).scheme in {"redis", "rediss"} else ""


@lru_cache(maxsize=4)
def _client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def client() -> Any | None:
    """A Redis client when the broker is Redis, else ``None`` (eager mode)."""
    url = redis_url()
    return _client(url) if url else None


def publish(suggestion_id: int, event: dict[str, Any]) -> None:
    r = client()
    if r is None:
        return
    key = _events_key(suggestion_id)
    pipe = r.pipeline()
    pipe.rpush(key, json.dumps(event))
    pipe.expire(key, EVENT_TTL_S)
    pipe.execute()


def read_events(suggestion_id: int, start: int) -> list[dict[str, Any]]:
    r = client()
    if r is None:
        return []
    return [json.loads(raw) for raw in r.lrange(_events_key(suggestion_id), start, -1)]


def request_cancel(suggestion_id: int) -> None:
    r = client()
    if r is not None:
        r.set(_cancel_key(suggestion_id), "1", ex=EVENT_TTL_S)


def cancel_requested(suggestion_id: int) -> bool:
    r = client()
    return bool(r is not None and r.exists(_cancel_key(suggestion_id)))


# --- the lifecycle: every suggestion ends done, cancelled or failed ------------------------

STALE_QUEUED = "no worker started this suggestion in time; ask for a new one"
STALE_STREAMING = "the worker writing this suggestion stopped before it finished; ask for a new one"


def fail_stale_suggestions(older_than_s: float | None = None, ids: Iterable[int] | None = None) -> dict[str, int]:
    """Fail suggestions still ``queued`` or ``streaming`` after ``older_than_s`` (``CHAT_SUGGESTION_STALE_AFTER_S``).

    A streaming row's age counts from the moment its current attempt claimed it; the
    threshold is above ``generate_reply``'s hard time limit, so a live attempt is never
    failed.  Each failed row gets a terminal ``error`` event, which ends its open streams.
    """
    age = float(settings.CHAT_SUGGESTION_STALE_AFTER_S if older_than_s is None else older_than_s)
    cutoff = timezone.now() - timedelta(seconds=age)
    rows = ReplySuggestion.objects.all() if ids is None else ReplySuggestion.objects.filter(pk__in=list(ids))
    counts = {"queued": 0, "streaming": 0}
    stale_queued = Q(status=ReplySuggestion.Status.QUEUED, created_at__lte=cutoff)
    stale_streaming = Q(status=ReplySuggestion.Status.STREAMING) & (
        Q(started_at__lte=cutoff) | Q(started_at__isnull=True, created_at__lte=cutoff)
    )
    for status, condition, reason in (
        ("queued", stale_queued, STALE_QUEUED),
        ("streaming", stale_streaming, STALE_STREAMING),
    ):
        for pk in list(rows.filter(condition).values_list("pk", flat=True)):
            # Conditional: a row that finished meanwhile keeps its outcome.
            if ReplySuggestion.objects.filter(Q(pk=pk) & condition).update(
                status=ReplySuggestion.Status.FAILED, error=reason
            ):
                counts[status] += 1
                try:
                    publish(pk, {"type": "error", "error": reason})
                except Exception:  # the row is what counts; a stream falls back to it
                    logger.warning("could not publish the end of suggestion %s", pk)
    if counts["queued"] or counts["streaming"]:
        logger.warning("failed stale suggestions: %s", counts)
    return counts


# --- the event stream ----------------------------------------------------------------------

TERMINAL_STATUSES = (ReplySuggestion.Status.DONE, ReplySuggestion.Status.CANCELLED, ReplySuggestion.Status.FAILED)
KEEP_ALIVE_S = 2.0


def suggestion_payload(s: ReplySuggestion) -> dict[str, Any]:
    """What the UI and the API show of a suggestion's state."""
    return {
        "id": s.pk,
        "status": s.status,
        "text": s.text,
        "flagged": s.flagged,
        "claims": s.claims,
        "sources": s.sources,
        "error": s.error,
        "model": s.model_name,
        "first_token_ms": s.first_token_ms,
        "latency_ms": s.latency_ms,
    }


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class SuggestionStream:
    """The one event stream (see the module docstring), one poll at a time.

    :meth:`poll` reads Redis (when it is there) or the row once and returns the events
    that poll produced; :attr:`finished` says the stream has ended.  Two drivers wait
    between polls: :func:`suggestion_events` sleeps (WSGI: the dev server, the test
    client), :func:`asuggestion_events` awaits (ASGI: no thread is held while waiting).
    """

    def __init__(self, suggestion_id: int, *, max_seconds: float, poll_s: float = 0.15) -> None:
        self.suggestion_id = suggestion_id
        self.max_seconds = max_seconds
        self.poll_s = poll_s
        self.use_redis = client() is not None
        self.index = 0
        self.shown: str | None = None
        self.started = self.last_check = self.last_stale_check = time.monotonic()
        self.finished = False

    def poll(self) -> list[str]:
        if self.finished:
            return []
        if time.monotonic() - self.started >= self.max_seconds:
            self.finished = True
            last = ReplySuggestion.objects.filter(pk=self.suggestion_id).values("status", "text").first()
            return [sse("timeout", {"status": last["status"] if last else "", "text": last["text"] if last else ""})]
        out: list[str] = []
        if self.use_redis:
            events = read_events(self.suggestion_id, self.index)
            self.index += len(events)
            for event in events:
                if event.get("type", "text") != "text":  # terminal: the row holds the full final state
                    return [*out, self._end()]
                out.append(sse("text", {"text": event.get("text", "")}))
        now = time.monotonic()
        if not self.use_redis or now - self.last_check > KEEP_ALIVE_S:
            self.last_check = now
            row = ReplySuggestion.objects.filter(pk=self.suggestion_id).values("status", "text").first()
            if row is None:
                self.finished = True
                gone = {"id": self.suggestion_id, "status": "failed", "text": "", "error": "the suggestion was deleted"}
                return [*out, sse("done", gone)]
            if row["status"] not in TERMINAL_STATUSES and now - self.last_stale_check > KEEP_ALIVE_S:
                # A dead worker's row ends here, without waiting for the next periodic sweep.
                self.last_stale_check = now
                if sum(fail_stale_suggestions(ids=[self.suggestion_id]).values()):
                    row["status"] = ReplySuggestion.Status.FAILED
            # A worker that died (or a list that expired) leaves only the row.
            if row["status"] in TERMINAL_STATUSES and not (
                self.use_redis and read_events(self.suggestion_id, self.index)
            ):
                return [*out, self._end()]
            if not self.use_redis and row["text"] and row["text"] != self.shown:
                self.shown = row["text"]
                out.append(sse("text", {"text": self.shown}))
            elif self.use_redis:
                out.append(": keep-alive\n\n")
        return out

    def _end(self) -> str:
        self.finished = True
        return _final(self.suggestion_id)


def suggestion_events(suggestion_id: int, *, max_seconds: float, poll_s: float = 0.15) -> Iterator[str]:
    """The event stream for a WSGI server: sleeps between polls."""
    stream = SuggestionStream(suggestion_id, max_seconds=max_seconds, poll_s=poll_s)
    while True:
        yield from stream.poll()
        if stream.finished:
            return
        time.sleep(poll_s)


async def asuggestion_events(suggestion_id: int, *, max_seconds: float, poll_s: float = 0.15) -> AsyncIterator[str]:
    """The event stream for an ASGI server: each poll runs in a thread, the waits hold none."""
    stream = await sync_to_async(SuggestionStream)(suggestion_id, max_seconds=max_seconds, poll_s=poll_s)

    def poll_and_release() -> list[str]:
        # Give the database connection back after each poll: an open stream must not hold one of the
        # pool's connections (DB_POOL_SIZE) for minutes while pages wait for it.
        try:
            return stream.poll()
        finally:
            connection.close()

    poll = sync_to_async(poll_and_release)
    while True:
        for chunk in await poll():
            yield chunk
        if stream.finished:
            return
        await asyncio.sleep(poll_s)


def event_stream(request: Any, suggestion_id: int, *, max_seconds: float) -> Iterator[str] | AsyncIterator[str]:
    """The stream in the form the server serving ``request`` streams without buffering.

    Django consumes a sync iterator whole before sending it under ASGI, and an async one
    whole under WSGI; each server gets the one it can send as it comes.
    """
    django_request = getattr(request, "_request", request)  # a DRF request wraps Django's
    if isinstance(django_request, ASGIRequest):
        return asuggestion_events(suggestion_id, max_seconds=max_seconds)
    return suggestion_events(suggestion_id, max_seconds=max_seconds)


def _final(suggestion_id: int) -> str:
    return sse("done", suggestion_payload(ReplySuggestion.objects.get(pk=suggestion_id)))

"""Where a suggestion's tokens travel from the generator to the browser, and the stop flag.

With a Redis broker the ``gen`` worker appends JSON events to a Redis list per
suggestion (``chat:suggestion:<id>:events``) and the web process replays them as
server-sent events; the stop button sets ``chat:suggestion:<id>:cancel``.  With no
broker (eager mode) generation runs in a thread of the web process and both sides
go through the ``ReplySuggestion`` row instead.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from django.conf import settings

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

"""The production ASGI handler (``nlpapp.asgi``) and the Redis cache client it leans on (issue 17).

Behaviour, not timing: the synchronous part of a request runs in one hand-off to a fixed pool of
threads (no thread started per request, ``request_started`` / the view / ``request_finished`` in
the same thread), streamed responses still go out on the loop and stop when the client leaves,
and the cache keeps one Redis client per pool instead of building one per call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core import signals
from django.core.cache import cache
from django.db import connections
from rest_framework.authtoken.models import Token

from chat.models import Conversation, ReplySuggestion
from nlpapp import asgi
from nlpapp.asgi import SyncChainASGIHandler, application, web_threads
from nlpapp.cache import RedisCache, ReusedClientRedisCacheClient
from tests.api_support import asgi_get, asgi_scope, make_user


@pytest.fixture
def request_threads() -> Iterator[dict[str, list[int]]]:
    """The thread each ``request_started`` and ``request_finished`` ran in."""
    seen: dict[str, list[int]] = {"started": [], "finished": []}

    def started(**kwargs: Any) -> None:
        seen["started"].append(threading.get_ident())

    def finished(**kwargs: Any) -> None:
        seen["finished"].append(threading.get_ident())

    signals.request_started.connect(started, weak=False)
    signals.request_finished.connect(finished, weak=False)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


@pytest.mark.django_db(transaction=True)
def test_requests_run_in_a_fixed_pool_of_threads(request_threads: dict[str, list[int]]) -> None:
    async def scenario() -> list[int]:
        statuses = [(await asgi_get("/healthz"))[0]]  # the pool's first thread starts here
        before = threading.active_count()
        statuses += [(await asgi_get("/healthz"))[0] for _ in range(20)]
        statuses += [s for s, _ in await asyncio.gather(*(asgi_get("/healthz") for _ in range(20)))]
        assert threading.active_count() <= before + application.threads  # not one thread per request
        return statuses

    assert asyncio.run(scenario()) == [200] * 41
    assert len(set(request_threads["started"])) <= application.threads
    # One hand-off per request: the request began and finished in the thread that ran the view.
    assert request_threads["started"] == request_threads["finished"]
    assert threading.main_thread().ident not in request_threads["started"]


@pytest.mark.django_db(transaction=True)
def test_a_request_gives_its_database_connection_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``CONN_MAX_AGE=0`` (docker/gunicorn.conf.py) the connection goes back when the request ends."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    open_at_end: list[bool] = []

    def finished(**kwargs: Any) -> None:  # runs after Django's own close_old_connections receiver
        open_at_end.append(connections["default"].connection is not None)

    async def scenario() -> int:
        status, _ = await asgi_get("/api/v1/conversations", [(b"authorization", b"Token nope")])
        return status

    signals.request_finished.connect(finished, weak=False)
    try:
        assert asyncio.run(scenario()) == 401  # the token was looked up: a connection was used
    finally:
        signals.request_finished.disconnect(finished)
    assert open_at_end == [False]


@pytest.mark.django_db(transaction=True)
def test_persistent_connections_of_the_threads_can_be_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 600)

    async def scenario() -> list[int]:
        return [
            s
            for s, _ in await asyncio.gather(
                *(asgi_get("/api/v1/conversations", [(b"authorization", b"Token nope")]) for _ in range(6))
            )
        ]

    assert asyncio.run(scenario()) == [401] * 6
    application.close_connections()
    barrier = threading.Barrier(application.threads)

    def still_open() -> bool:
        barrier.wait(10)  # one call per thread
        return any(c.connection is not None for c in connections.all(initialized_only=True))

    futures = [application.executor.submit(still_open) for _ in range(application.threads)]
    assert [f.result(15) for f in futures] == [False] * application.threads


def test_other_scopes_are_refused() -> None:
    async def scenario() -> None:
        await application({"type": "lifespan"}, None, None)

    with pytest.raises(ValueError, match="lifespan"):
        asyncio.run(scenario())


def test_web_threads_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_THREADS", raising=False)
    assert web_threads() == asgi.DEFAULT_THREADS
    monkeypatch.setenv("WEB_THREADS", "3")
    assert web_threads() == 3
    assert SyncChainASGIHandler().threads == 3
    for bad in ("0", "x", "999"):
        monkeypatch.setenv("WEB_THREADS", bad)
        with pytest.raises(ValueError, match="WEB_THREADS"):
            web_threads()


@pytest.mark.django_db(transaction=True)
def test_a_stream_stops_when_the_client_leaves(settings: Any) -> None:
    settings.API_STREAM_MAX_S = 60
    cache.clear()
    token = Token.objects.create(user=make_user("stream-agent", "agent")).key
    conv = Conversation.objects.create(customer_name="Ada", customer_token="tok-ada")
    row = ReplySuggestion.objects.create(conversation=conv, status=ReplySuggestion.Status.STREAMING)
    closed: list[bool] = []

    def finished(**kwargs: Any) -> None:
        closed.append(True)

    async def scenario() -> None:
        comm = ApplicationCommunicator(
            application,
            asgi_scope(f"/api/v1/suggestions/{row.pk}/stream", [(b"authorization", f"Token {token}".encode())]),
        )
        await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
        assert (await comm.receive_output(10))["status"] == 200
        await asyncio.sleep(0.3)  # a few polls
        await comm.send_input({"type": "http.disconnect"})
        await comm.wait(10)  # the application returns well before API_STREAM_MAX_S

    signals.request_finished.connect(finished, weak=False)
    try:
        asyncio.run(scenario())
    finally:
        signals.request_finished.disconnect(finished)
        asyncio.run(sync_to_async(connections.close_all)())
    assert closed  # the response was closed (request_finished) after the stream stopped


# --- the cache's Redis client ----------------------------------------------------------------------


def test_the_cache_keeps_one_redis_client_per_pool() -> None:
    client = ReusedClientRedisCacheClient(["redis://127.0.0.1:6379/11"])
    first = client.get_client("k")
    assert client.get_client("k") is first
    assert client.get_client("k", write=True) is first  # one server: reads and writes share its pool
    replicas = ReusedClientRedisCacheClient(["redis://127.0.0.1:6379/11", "redis://127.0.0.1:6379/12"])
    writer = replicas.get_client(write=True)
    assert replicas.get_client(write=True) is writer
    assert replicas.get_client() is not writer  # reads go to the other server's pool
    backend = RedisCache("redis://127.0.0.1:6379/11", {})
    assert isinstance(backend._cache, ReusedClientRedisCacheClient)  # type: ignore[attr-defined]


@pytest.mark.integration
def test_the_cache_round_trips_through_redis(redis_url: str) -> None:
    backend = RedisCache(redis_url, {"KEY_PREFIX": "t17-client"})
    try:
        backend.set("history", [1.5, 2.5], 30)
        assert backend.get("history") == [1.5, 2.5]
        assert backend.add("history-count", 1, 30)
        assert backend.incr("history-count") == 2
    finally:
        backend.delete_many(["history", "history-count"])

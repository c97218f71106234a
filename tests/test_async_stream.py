"""The suggestion event stream under ASGI: events leave as they happen, and no thread waits with the stream.

Django sends a sync iterator under ASGI only once it is exhausted (and holds a thread
for it meanwhile), so the stream has an async driver there (``chat.streaming``); the
WSGI driver is covered by tests/test_chat_views.py and tests/test_api_conversations.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache
from django.db import connections
from rest_framework.authtoken.models import Token

from chat import streaming
from chat.models import Conversation, ReplySuggestion
from nlpapp.asgi import application
from tests.api_support import asgi_scope, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_lingering_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Database connections opened in asgiref's threads are closed, as the production server does.

    ``docker/gunicorn.conf.py`` sets ``DB_CONN_MAX_AGE=0``, so each request closes its own at the
    end; the polls run outside a request use asgiref's shared thread, closed here.
    """
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    yield
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture
def suggestion(settings: Any) -> tuple[ReplySuggestion, str]:
    settings.API_STREAM_MAX_S = 20
    cache.clear()
    user = make_user("agent-user", "agent")
    token = Token.objects.create(user=user).key
    conv = Conversation.objects.create(customer_name="Lee", customer_token="tok-lee")
    row = ReplySuggestion.objects.create(conversation=conv, status=ReplySuggestion.Status.STREAMING)
    return row, token


def test_events_leave_as_they_happen_under_asgi(suggestion: tuple[ReplySuggestion, str]) -> None:
    row, token = suggestion

    async def scenario() -> list[bytes]:
        comm = ApplicationCommunicator(
            application,
            asgi_scope(f"/api/v1/suggestions/{row.pk}/stream", [(b"authorization", f"Token {token}".encode())]),
        )
        await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await comm.receive_output(10)
        assert start["status"] == 200
        await sync_to_async(ReplySuggestion.objects.filter(pk=row.pk).update)(text="Hello")
        first = await comm.receive_output(10)  # while the suggestion is still being generated
        await sync_to_async(ReplySuggestion.objects.filter(pk=row.pk).update)(
            text="Hello there", status=ReplySuggestion.Status.DONE
        )
        chunks = [first["body"]]
        while True:
            message = await comm.receive_output(10)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                await comm.wait(10)  # the app finishes the request (and closes its connection)
                return chunks

    chunks = asyncio.run(scenario())
    assert chunks[0].startswith(b"event: text") and b'"Hello"' in chunks[0]
    assert any(c.startswith(b"event: done") and b'"Hello there"' in c for c in chunks)


def test_the_drivers_share_one_stream(suggestion: tuple[ReplySuggestion, str]) -> None:
    row, _ = suggestion
    ReplySuggestion.objects.filter(pk=row.pk).update(text="Hi", status=ReplySuggestion.Status.DONE)

    async def collect() -> list[str]:
        return [chunk async for chunk in streaming.asuggestion_events(row.pk, max_seconds=5)]

    assert asyncio.run(collect()) == list(streaming.suggestion_events(row.pk, max_seconds=5))


def test_a_stream_gives_up_after_max_seconds(suggestion: tuple[ReplySuggestion, str]) -> None:
    row, _ = suggestion

    async def collect() -> list[str]:
        return [chunk async for chunk in streaming.asuggestion_events(row.pk, max_seconds=0.3, poll_s=0.05)]

    chunks = asyncio.run(collect())
    assert chunks[-1].startswith("event: timeout")


def test_pages_answer_while_streams_are_open(suggestion: tuple[ReplySuggestion, str]) -> None:
    """Issue 17: open suggestion streams must not block the pages (with the sync middleware chain too)."""
    row, token = suggestion
    auth = [(b"authorization", f"Token {token}".encode())]

    async def scenario() -> int:
        streams = []
        for _ in range(5):
            comm = ApplicationCommunicator(application, asgi_scope(f"/api/v1/suggestions/{row.pk}/stream", auth))
            await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
            assert (await comm.receive_output(10))["status"] == 200
            streams.append(comm)
        await asyncio.sleep(0.5)  # the streams poll meanwhile
        page = ApplicationCommunicator(application, asgi_scope("/healthz"))
        await page.send_input({"type": "http.request", "body": b"", "more_body": False})
        status = (await page.receive_output(10))["status"]
        await page.receive_output(10)
        await sync_to_async(ReplySuggestion.objects.filter(pk=row.pk).update)(status=ReplySuggestion.Status.DONE)
        for comm in streams:
            while (await comm.receive_output(10)).get("more_body"):
                pass
            await comm.wait(10)
        return int(status)

    assert asyncio.run(scenario()) == 200

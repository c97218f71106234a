"""Users, token clients and objects shared by the REST API test modules (tests/test_api_*.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ner.roles import ADMIN, AGENT, REVIEWER, sync_role_groups

API = "/api/v1"
ROLES = (AGENT, REVIEWER, ADMIN)


def make_user(username: str, role: str | None) -> Any:
    sync_role_groups()
    user = get_user_model().objects.create_user(username=username, password="pw-not-used-by-tokens")
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def token_client(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def clients(db: None) -> dict[str, APIClient]:
    """One token-authenticated client per role, plus ``nobody`` (a user with no role) and ``anon``.

    The cache is cleared first: throttle counters live there, keyed by user id, and
    rolled-back tests reuse ids.
    """
    cache.clear()
    out = {role: token_client(make_user(f"{role}-user", role)) for role in ROLES}
    out["nobody"] = token_client(make_user("nobody", None))
    out["anon"] = APIClient()
    return out


@pytest.fixture
def patterns_only(settings: Any) -> None:
    """Fast extraction: only the pattern recognizers, no spaCy or tagger model."""
    settings.NER_RECOGNIZERS = ["patterns"]


@pytest.fixture
def roomy_throttles(settings: Any) -> None:
    settings.API_THROTTLE_RATES = {"user": "100000/min", "anon": "100000/min"}


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of an error response (and a check that the body has the one error format)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return dict(body["error"])


def asgi_scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    """An HTTP GET scope for calling the ASGI application directly (from 127.0.0.1)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *(headers or [])],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def asgi_get(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, bytes]:
    """GET ``path`` from the ASGI application directly: the status and the whole (possibly streamed) body."""
    from asgiref.testing import ApplicationCommunicator

    from nlpapp.asgi import application

    comm = ApplicationCommunicator(application, asgi_scope(path, headers))
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await comm.receive_output(10)
    body = b""
    while True:
        message = await comm.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await comm.wait(10)
    return int(start["status"]), body

"""Taking over a stale Idempotency-Key is a compare-and-set: of concurrent stale retries, exactly one runs.

The retries are real requests in threads, each with its own database connection
(``transaction=True``); run on PostgreSQL too (``DATABASE_URL=postgres://...``).  Each
thread waits at a barrier right after reading the stale row, so every retry has seen
the same stale state before any of them tries to take it over: the interleaving under
which a plain ``save()`` let all of them run.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from chat.models import Conversation
from ner.models import IdempotencyKey
from nlpapp import api
from tests.api_support import API, make_user, token_client

RETRIES = 4
BODY = {"customer_name": "Lee Park", "subject": "Refund"}


def _stale_key(user: Any, key: str, client: APIClient) -> IdempotencyKey:
    """A key whose first request died while running (no response, claimed three minutes ago)."""
    first = client.post(f"{API}/conversations", BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201
    Conversation.objects.all().delete()
    IdempotencyKey.objects.filter(user=user, key=key).update(
        status_code=None, response_body=None, created_at=timezone.now() - timedelta(minutes=3)
    )
    return IdempotencyKey.objects.get(user=user, key=key)


@pytest.mark.django_db(transaction=True)
def test_concurrent_stale_retries_run_once(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.API_THROTTLE_RATES = {"user": "100000/min", "anon": "100000/min"}
    cache.clear()
    user = make_user("agent-user", "agent")
    clients = [token_client(user) for _ in range(RETRIES)]
    _stale_key(user, "retry-me", clients[0])

    barrier = threading.Barrier(RETRIES, timeout=20)
    real_existing = api._existing_key

    def read_then_wait(user: Any, key: str) -> Any:
        row = real_existing(user, key)
        barrier.wait()  # every retry has read the same stale row
        return row

    monkeypatch.setattr(api, "_existing_key", read_then_wait)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def retry(client: APIClient) -> None:
        try:
            response = client.post(f"{API}/conversations", BODY, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
            statuses.append(response.status_code)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(statuses) == [201] + [409] * (RETRIES - 1)
    assert Conversation.objects.count() == 1
    record = IdempotencyKey.objects.get(key="retry-me")
    assert record.status_code == 201
    # A later retry gets the winner's response back.
    replay = token_client(get_user_model().objects.get(pk=user.pk))
    monkeypatch.setattr(api, "_existing_key", real_existing)
    again = replay.post(f"{API}/conversations", BODY, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Conversation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_that_finishes_after_a_takeover_does_not_overwrite_the_new_owner(settings: Any) -> None:
    settings.API_THROTTLE_RATES = {"user": "100000/min", "anon": "100000/min"}
    cache.clear()
    user = make_user("agent-user", "agent")
    client = token_client(user)
    stale = _stale_key(user, "late", client)
    taken_over = client.post(f"{API}/conversations", BODY, format="json", HTTP_IDEMPOTENCY_KEY="late")
    assert taken_over.status_code == 201
    owner = IdempotencyKey.objects.get(pk=stale.pk)

    class Late:  # the first request's response, arriving after the takeover
        status_code = 500
        data: Any = None

    api._store_response(stale, Late())  # its 5xx would have freed the key
    assert IdempotencyKey.objects.get(pk=stale.pk).response_body == owner.response_body
    Late.status_code, Late.data = 201, {"id": -1}
    api._store_response(stale, Late())
    assert IdempotencyKey.objects.get(pk=stale.pk).response_body == owner.response_body

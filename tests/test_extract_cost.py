"""What one ``POST /api/v1/extract`` costs the server (issue 17: p99 under 50 ms at 100 requests/s).

Behaviour, not timing: one SQL statement per request (the token, its user and the user's roles
in one query; no throttle, idempotency or log row written per request), log rows written in
batches, the ASGI application running its middleware and the view in one thread hand-off, and the
fast event loop and HTTP parser installed for uvicorn.  The per-request CPU figures come from
``bench/profile_extract.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ner import monitoring
from ner.models import InferenceLog
from ner.roles import AGENT
from ner.serializers import ExtractResultSerializer
from tests.api_support import API, make_user, token_client

pytestmark = pytest.mark.django_db

TEXT = "Hi, my order ORD-2024-118842 arrived damaged; call me at +1 303 555 0147 or mail maria.lopez@example.com"
BODY = {"text": TEXT, "options": {"pipeline": "rules"}}


@pytest.fixture
def batched_logs(settings: Any) -> Iterator[None]:
    settings.NER_RECOGNIZERS = ["patterns", "rules", "gazetteer"]
    settings.NER_INFERENCE_LOG_FLUSH_ROWS = 1000
    settings.NER_INFERENCE_LOG_FLUSH_S = 3600
    monitoring.flush_inference_logs()
    yield
    monitoring.flush_inference_logs()


@pytest.fixture
def agent_api() -> APIClient:
    return token_client(make_user("cost-agent", AGENT))


def test_one_extract_request_runs_one_sql_statement(batched_logs: None, agent_api: APIClient, settings: Any) -> None:
    settings.NER_RELOAD_CHECK_S = 3600  # as in production: rules and terms looked at once a second, not per call
    assert agent_api.post(f"{API}/extract", BODY, format="json").status_code == 200  # warm
    with CaptureQueriesContext(connection) as queries:
        response = agent_api.post(f"{API}/extract", BODY, format="json")
    assert response.status_code == 200
    # Before: token + user, the role lookup, and an InferenceLog INSERT (and its commit).
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert "authtoken_token" in queries[0]["sql"] and "auth_group" in queries[0]["sql"]


def test_roles_are_read_with_the_token_on_every_request(batched_logs: None) -> None:
    user = make_user("cost-agent-2", AGENT)
    client = token_client(user)
    assert client.post(f"{API}/extract", BODY, format="json").status_code == 200
    user.groups.remove(Group.objects.get(name=AGENT))
    assert client.post(f"{API}/extract", BODY, format="json").status_code == 403  # no role kept across requests
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.post(f"{API}/extract", BODY, format="json").status_code == 401
    user.groups.add(Group.objects.get(name=AGENT))
    user.is_active = False
    user.save()
    assert token_client(user).post(f"{API}/extract", BODY, format="json").status_code == 401


def test_log_rows_are_written_in_batches(batched_logs: None, agent_api: APIClient, settings: Any) -> None:
    settings.NER_INFERENCE_LOG_FLUSH_ROWS = 5
    for _ in range(4):
        agent_api.post(f"{API}/extract", BODY, format="json")
    assert InferenceLog.objects.count() == 0
    agent_api.post(f"{API}/extract", BODY, format="json")
    assert InferenceLog.objects.filter(kind="extract", ok=True).count() == 5
    agent_api.post(f"{API}/extract", BODY, format="json")
    assert InferenceLog.objects.count() == 5
    assert monitoring.flush_inference_logs() == 1  # at exit, or a /metrics scrape
    assert InferenceLog.objects.count() == 6
    # The age of the oldest waiting row also flushes.
    settings.NER_INFERENCE_LOG_FLUSH_S = 0
    agent_api.post(f"{API}/extract", BODY, format="json")
    assert InferenceLog.objects.count() == 7


def test_the_response_is_what_the_serializer_would_write(batched_logs: None, agent_api: APIClient) -> None:
    body = agent_api.post(f"{API}/extract", BODY, format="json").json()
    assert body["entities"]
    assert json.loads(json.dumps(ExtractResultSerializer(body).data)) == body


def test_asgi_runs_the_middleware_chain_in_sync_mode() -> None:
    from nlpapp.asgi import application

    # One thread hand-off per request: the chain is a plain function, not a coroutine per middleware.
    assert not asyncio.iscoroutinefunction(getattr(application, "_middleware_chain"))  # noqa: B009


def test_uvicorn_finds_its_fast_loop_and_http_parser() -> None:
    assert importlib.util.find_spec("uvloop") is not None
    assert importlib.util.find_spec("httptools") is not None


def test_web_workers_warm_the_recognizers_before_serving(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    from ner.extraction import pipeline
    from nlpapp import warmup

    settings.NER_RECOGNIZERS = ["patterns", "rules", "gazetteer"]
    texts: list[list[str]] = []
    real = pipeline.extract

    def extract(batch: list[str], **kwargs: Any) -> Any:
        texts.append(batch)
        return real(batch, **kwargs)

    monkeypatch.setattr(pipeline, "extract", extract)
    assert warmup.warm_web_worker() > 0
    assert texts == [[warmup.WARM_TEXT]]
    conf = runpy.run_path("docker/gunicorn.conf.py")
    called: list[int] = []

    def warm() -> float:
        called.append(1)
        return 0.0

    monkeypatch.setattr(warmup, "warm_web_worker", warm)
    conf["post_worker_init"](object())
    assert called == [1]
    monkeypatch.setenv("WEB_WARM", "0")
    conf["post_worker_init"](object())
    assert called == [1]

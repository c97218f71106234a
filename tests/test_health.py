from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_healthz_ok_on_embedded_defaults(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["mode"] == "eager"
    assert "tagger" in body["checks"]["models"]


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_503_when_the_broker_is_down(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert "error" in body["checks"]["broker"]


@pytest.mark.integration
def test_healthz_reports_missing_worker_against_real_redis(client: Client, redis_url: str) -> None:
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=redis_url, HEALTH_REQUIRED=["database", "broker", "worker"]
    ):
        from nlpapp.celery import app

        app.conf.update(broker_url=redis_url)
        try:
            response = client.get("/healthz")
        finally:
            app.conf.update(broker_url="")
    body = response.json()
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["workers"] == 0
    assert response.status_code == 503
    assert body["down"] == ["worker"]


def test_healthz_rejects_post(client: Client) -> None:
    assert client.post("/healthz").status_code == 405

"""``/healthz`` (liveness, no broker), ``/readyz`` (readiness, cached), ``/metrics`` access, InferenceLog retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone

from ner import monitoring, tasks
from ner.models import InferenceLog
from nlpapp import health

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_cached_readiness() -> None:
    cache.clear()


# --- liveness ------------------------------------------------------------------------------------


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_answers_without_touching_broker_or_database(
    client: Client, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    def boom() -> dict[str, Any]:
        raise AssertionError("liveness must not check the stack")

    for name in ("check_database", "check_broker", "check_workers", "check_models"):
        monkeypatch.setattr(health, name, boom)
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_rejects_post(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


# --- readiness -----------------------------------------------------------------------------------


def test_readyz_ok_on_embedded_defaults(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["mode"] == "eager"
    assert "tagger" in body["checks"]["models"]


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_readyz_503_when_the_broker_is_down(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert "error" in body["checks"]["broker"]


def _count_database_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = health.check_database

    def counted() -> dict[str, Any]:
        calls.append(1)
        return real()

    monkeypatch.setattr(health, "check_database", counted)
    return calls


def test_readyz_reuses_its_result_for_health_cache_s(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_database_checks(monkeypatch)
    first, second = client.get("/readyz").json(), client.get("/readyz").json()
    assert len(calls) == 1
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["checked_at"] == second["checked_at"]
    cache.delete(health.READY_CACHE_KEY)  # as when HEALTH_CACHE_S has passed
    client.get("/readyz")
    assert len(calls) == 2


def test_readyz_without_cache_checks_every_time(client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.HEALTH_CACHE_S = 0
    calls = _count_database_checks(monkeypatch)
    client.get("/readyz")
    client.get("/readyz")
    assert len(calls) == 2


@pytest.mark.integration
def test_readyz_reports_missing_worker_against_real_redis(client: Client, redis_url: str) -> None:
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=redis_url, HEALTH_REQUIRED=["database", "broker", "worker"]
    ):
        from nlpapp.celery import app

        app.conf.update(broker_url=redis_url)
        try:
            response = client.get("/readyz")
        finally:
            app.conf.update(broker_url="")
    body = response.json()
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["workers"] == 0
    assert response.status_code == 503
    assert body["down"] == ["worker"]


# --- metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", "Bearer ", f"Token {METRICS_TOKEN}"])
def test_metrics_refuses_anonymous_and_wrong_tokens(client: Client, settings: Any, header: str | None) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)  # type: ignore[arg-type]
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_with_the_bearer_token(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    assert b"nlpapp_model_active" in response.content


def test_metrics_without_a_token_setting_needs_staff(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    client.force_login(User.objects.create_user("agent"))
    assert client.get("/metrics").status_code == 401
    client.force_login(User.objects.create_user("ops", is_staff=True))
    assert client.get("/metrics").status_code == 200


# --- InferenceLog retention ----------------------------------------------------------------------


def _log(age_days: float) -> InferenceLog:
    row = InferenceLog.objects.create(kind="extract", latency_ms=1.0)
    InferenceLog.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return row


def test_sweep_deletes_logs_past_the_retention(settings: Any) -> None:
    settings.NER_INFERENCE_LOG_RETENTION_DAYS = 30
    old, older, recent = _log(31), _log(400), _log(29)
    assert tasks.sweep_inference_logs() == 2
    assert list(InferenceLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not InferenceLog.objects.filter(pk__in=[old.pk, older.pk]).exists()


def test_sweep_in_small_batches_and_zero_keeps_everything(settings: Any) -> None:
    for _ in range(5):
        _log(10)
    assert monitoring.delete_old_logs(0) == 0
    assert monitoring.delete_old_logs(5, batch_size=2) == 5
    assert not InferenceLog.objects.exists()


def test_log_sweep_is_scheduled_beside_the_stuck_document_sweep() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["sweep-inference-logs"]["task"] == "ner.tasks.sweep_inference_logs"
    assert "sweep-stuck-documents" in schedule
    assert tasks.sweep_inference_logs.name in tasks.sweep_inference_logs.app.tasks

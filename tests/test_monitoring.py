from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from ner import monitoring
from ner.models import InferenceLog, ModelVersion

pytestmark = pytest.mark.django_db


def sample(name: str, labels: dict[str, str]) -> float:
    return monitoring.REGISTRY.get_sample_value(name, labels) or 0.0


def test_record_inference_writes_the_row_and_the_metrics() -> None:
    version = ModelVersion.objects.create(name="tagger-v7", status="ready")
    before = sample(
        "nlpapp_inference_calls_total", {"kind": "extract", "model_version": "tagger-v7", "outcome": "error"}
    )
    row = monitoring.record_inference("extract", version, 12.5, ok=False, error="boom" * 100, n_chars=40)
    assert row is not None and row.model_version == version and row.latency_ms == 12.5 and len(row.error) == 300
    after = sample(
        "nlpapp_inference_calls_total", {"kind": "extract", "model_version": "tagger-v7", "outcome": "error"}
    )
    assert after == before + 1
    count = sample("nlpapp_inference_latency_seconds_count", {"kind": "extract", "model_version": "tagger-v7"})
    assert count >= 1
    # By primary key, by name, or none at all (rules-only extraction).
    assert monitoring.record_inference("extract", version.pk, 1.0).model_version == version  # type: ignore[union-attr]
    assert monitoring.record_inference("extract", "tagger-v7", 1.0).model_version == version  # type: ignore[union-attr]
    assert monitoring.record_inference("generate", None, 1.0).model_version is None  # type: ignore[union-attr]


def test_timed_inference_records_errors_and_reraises() -> None:
    with pytest.raises(ValueError, match="bad"), monitoring.timed_inference("extract", None, 5):
        raise ValueError("bad")
    with monitoring.timed_inference("extract", None, 5):
        pass
    assert list(InferenceLog.objects.order_by("pk").values_list("ok", flat=True)) == [False, True]
    assert "bad" in InferenceLog.objects.get(ok=False).error


def test_percentiles_throughput_and_error_rate_per_version() -> None:
    v1 = ModelVersion.objects.create(name="tagger-v1", status="ready")
    for ms in range(1, 101):
        monitoring.record_inference("extract", v1, float(ms), ok=ms % 10 != 0, n_chars=10)
    monitoring.record_inference("extract", None, 3.0)
    old = monitoring.record_inference("extract", v1, 9999.0)
    assert old is not None
    InferenceLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    rows = {r["model_version"]: r for r in monitoring.summarize(timedelta(hours=1))}
    v1_row = rows["tagger-v1"]
    assert (v1_row["calls"], v1_row["errors"], v1_row["error_rate"]) == (100, 10, 0.1)
    assert (v1_row["p50_ms"], v1_row["p95_ms"]) == (50.0, 95.0)
    assert v1_row["throughput_per_min"] == pytest.approx(100 / 60, rel=1e-3)
    assert v1_row["chars"] == 1000
    assert rows["none"]["calls"] == 1
    assert monitoring.percentile([], 50) is None and monitoring.percentile([7.0], 95) == 7.0


def test_metrics_endpoint_serves_prometheus_text(client: Client) -> None:
    client.force_login(User.objects.create_user("ops", is_staff=True))  # access: tests/test_health.py
    ModelVersion.objects.create(name="tagger-v2", status="ready", is_active=True)
    monitoring.record_inference("extract", "tagger-v2", 20.0)
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert 'nlpapp_inference_latency_seconds_bucket{kind="extract",le="0.025",model_version="tagger-v2"}' in body
    assert 'nlpapp_inference_logged{kind="extract",model_version="tagger-v2",outcome="ok"} 1.0' in body
    assert 'nlpapp_model_active{kind="tagger",model_version="tagger-v2"} 1.0' in body


def test_monitoring_page(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root"))
    monitoring.record_inference("extract", None, 20.0, ok=False, error="TextTooLong: over the limit")
    page = client.get("/monitoring/?window=1h")
    assert page.status_code == 200
    assert b"TextTooLong" in page.content and b"per-version" in page.content
    assert client.get("/monitoring/?window=bogus").status_code == 200


def test_registering_the_database_collector_runs_no_query(django_assert_num_queries: Any) -> None:
    from prometheus_client import CollectorRegistry

    with django_assert_num_queries(0):
        CollectorRegistry(auto_describe=True).register(monitoring.DatabaseCollector())

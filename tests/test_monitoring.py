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


def _log(kind: str, latency_ms: float, at: Any, ok: bool = True) -> None:
    row = monitoring.record_inference(kind, None, latency_ms, ok=ok)
    assert row is not None
    InferenceLog.objects.filter(pk=row.pk).update(created_at=at)


def test_latency_over_time_per_bucket() -> None:
    # Half past the hour: buckets are aligned on whole hours, so "a minute ago" must not cross into
    # the previous bucket (the test failed when it ran in the first minute of an hour).
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    hour = timedelta(hours=1)
    for ms in (10, 20, 30, 40, 1000):
        _log("extract", ms, now - 3 * hour)
    _log("extract", 5, now - timedelta(minutes=1))
    _log("extract", 7, now - 30 * hour)  # outside the 24 h window
    series = monitoring.latency_series(timedelta(days=1), hour, now=now)
    assert list(series) == ["extract"]
    points = series["extract"]
    assert [(p.calls, p.p50_ms, p.p95_ms) for p in points] == [(5, 30, 1000), (1, 5, 5)]
    assert points[1].start - points[0].start == 3 * hour
    counts = monitoring.call_counts(timedelta(days=1), hour, now=now)
    assert len(counts) == 24 and sum(b.calls for b in counts) == 6 and counts[-1].calls == 1


def test_monitoring_page_latency_chart_time_labels_and_threshold_flags(client: Client, settings: Any) -> None:
    import re

    client.force_login(User.objects.create_superuser("root"))
    now = timezone.now()
    for minutes, ms in ((120, 40), (60, 60), (5, 12_000)):
        _log("extract", ms, now - timedelta(minutes=minutes))
    settings.MONITOR_P95_MS = {"extract": 1000, "generate": 10_000}
    html = client.get("/monitoring/?window=24h").content.decode()
    chart = html[html.index('id="latency-extract"') : html.index("</svg>", html.index('id="latency-extract"'))]
    assert chart.count('data-series="p50"') == 1 and chart.count('data-series="p95"') == 1
    assert chart.count('class="p95 over"') == 1 and 'data-p95="12000.0"' in chart
    assert 'class="threshold" data-ms="1000"' in chart
    ticks = re.findall(r'class="tick time-tick">(\d\d:\d\d)<', chart)
    assert 4 <= len(ticks) <= 8, ticks
    calls = html[html.index('id="calls-chart"') :]
    assert len(re.findall(r"time-tick\">\d\d:\d\d<", calls)) >= 4  # the call bars have time labels too
    assert 'id="threshold-alerts"' in html
    assert "p95 latency of extract (none) is 12,000 ms, over the 1,000 ms threshold" in html
    assert '<td class="num over">' in html

    settings.MONITOR_P95_MS = {"extract": 20_000, "generate": 10_000}
    calm = client.get("/monitoring/?window=24h").content.decode()
    assert 'id="threshold-alerts"' not in calm and "over" not in re.findall(r'class="(p95[^"]*)"', calm)[0]
    assert "(far above these calls: not drawn)" not in calm  # 20 s is within reach of a 12 s p95: drawn
    for window in ("1h", "7d", "30d"):
        assert client.get(f"/monitoring/?window={window}").status_code == 200


def test_error_rate_over_the_threshold_is_flagged(client: Client, settings: Any) -> None:
    client.force_login(User.objects.create_superuser("root"))
    settings.MONITOR_ERROR_RATE = 0.1
    for ok in (True, False):
        _log("generate", 100, timezone.now(), ok=ok)
    html = client.get("/monitoring/?window=1h").content.decode()
    assert "error rate of generate (none) is 50.0%, over the 10.0% threshold" in html

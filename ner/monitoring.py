"""Inference monitoring: one ``InferenceLog`` row per call, Prometheus metrics, per-version summaries.

Whoever runs a model calls ``record_inference`` (extraction in ``ner.extraction.documents``, reply
generation in ``chat``); it writes the row and updates this process's Prometheus
histogram and counters.  ``/metrics`` serves those plus figures read from the database
at scrape time (so calls made by Celery workers, in other processes, are counted too).
"""

from __future__ import annotations

import atexit
import hmac
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ner.models import InferenceLog, ModelVersion

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY = Histogram(
    "nlpapp_inference_latency_seconds",
    "Latency of inference calls in this process",
    ["kind", "model_version"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
CALLS = Counter(
    "nlpapp_inference_calls", "Inference calls in this process", ["kind", "model_version", "outcome"], registry=REGISTRY
)
CHARS = Counter("nlpapp_inference_chars", "Characters processed in this process", ["kind"], registry=REGISTRY)
NO_VERSION = "none"


def _version_fk(model_version: ModelVersion | int | str | None) -> ModelVersion | None:
    if isinstance(model_version, ModelVersion):
        return model_version
    if isinstance(model_version, int):
        return ModelVersion.objects.filter(pk=model_version).first()
    if isinstance(model_version, str) and model_version:
        return ModelVersion.objects.filter(name=model_version).first()
    return None


class _LogBuffer:
    """``InferenceLog`` rows of this process waiting to be written in one ``bulk_create``.

    The synchronous extract endpoint records one row per request; written one by one, that
    was an INSERT and a commit (a WAL flush) on every request.  Rows wait here until
    ``NER_INFERENCE_LOG_FLUSH_ROWS`` are buffered or the oldest is ``NER_INFERENCE_LOG_FLUSH_S``
    old (checked when a row is added), and at process exit.  A process killed outright loses
    what it buffered: monitoring rows, never documents or entities.
    """

    def __init__(self) -> None:
        self.rows: list[InferenceLog] = []
        self.first_at = 0.0
        self.lock = threading.Lock()

    def add(self, row: InferenceLog) -> None:
        with self.lock:
            if not self.rows:
                self.first_at = time.monotonic()
            self.rows.append(row)
            full = len(self.rows) >= int(settings.NER_INFERENCE_LOG_FLUSH_ROWS)
            due = time.monotonic() - self.first_at >= float(settings.NER_INFERENCE_LOG_FLUSH_S)
        if full or due:
            self.flush()

    def flush(self) -> int:
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return 0
        try:
            InferenceLog.objects.bulk_create(rows)
        except Exception:
            logger.exception("could not write %d inference log rows", len(rows))
            return 0
        return len(rows)


LOG_BUFFER = _LogBuffer()
atexit.register(LOG_BUFFER.flush)


def flush_inference_logs() -> int:
    """Write the buffered ``InferenceLog`` rows of this process now; returns how many."""
    return LOG_BUFFER.flush()


def record_inference(
    kind: str,
    model_version: ModelVersion | int | str | None,
    latency_ms: float,
    ok: bool = True,
    error: str = "",
    n_chars: int = 0,
    *,
    buffered: bool = False,
) -> InferenceLog | None:
    """Write an ``InferenceLog`` row and update the Prometheus metrics.

    ``model_version`` may be a ``ModelVersion``, its primary key, its name, or ``None``
    (rules-only extraction).  Monitoring must never break the call it measures, so a
    failure to write the row is logged and ``None`` returned.  ``buffered``: the row is
    written later with others (``_LogBuffer``; the per-request path of the API).
    """
    label = model_version if isinstance(model_version, str) and model_version else NO_VERSION
    try:
        version = _version_fk(model_version)
        if version is not None:
            label = version.name
        row: InferenceLog | None = InferenceLog(
            kind=kind[:16],
            model_version=version,
            latency_ms=max(0.0, float(latency_ms)),
            ok=ok,
            error=(error or "")[:300],
            n_chars=max(0, int(n_chars)),
        )
        assert row is not None
        if buffered:
            LOG_BUFFER.add(row)
        else:
            row.save()
    except Exception:
        logger.exception("could not record an inference log row")
        row = None
    LATENCY.labels(kind, label).observe(max(0.0, latency_ms) / 1000.0)
    CALLS.labels(kind, label, "ok" if ok else "error").inc()
    CHARS.labels(kind).inc(max(0, n_chars))
    return row


@contextmanager
def timed_inference(kind: str, model_version: ModelVersion | int | str | None, n_chars: int = 0) -> Iterator[None]:
    """``with timed_inference("extract", version, len(text)): ...`` records latency and any exception."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        record_inference(kind, model_version, (time.perf_counter() - started) * 1000, False, repr(exc), n_chars)
        raise
    record_inference(kind, model_version, (time.perf_counter() - started) * 1000, True, "", n_chars)


# --- Summaries for the dashboard -------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in [0, 100]) of an unsorted list; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class VersionStats:
    kind: str
    model_version: str
    calls: int = 0
    errors: int = 0
    chars: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies, 95)

    def as_dict(self, window_s: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model_version": self.model_version,
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 2),
            "p95_ms": None if self.p95_ms is None else round(self.p95_ms, 2),
            "throughput_per_min": round(self.calls / (window_s / 60), 3) if window_s else None,
            "chars": self.chars,
        }


WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
MAX_ROWS = 200_000  # latency percentiles are computed in Python over at most this many recent rows


def summarize(window: timedelta = WINDOWS["24h"], *, kind: str | None = None) -> list[dict[str, Any]]:
    """p50/p95 latency, throughput (calls per minute over the window) and error rate per kind and version."""
    since = timezone.now() - window
    qs = InferenceLog.objects.filter(created_at__gte=since)
    if kind:
        qs = qs.filter(kind=kind)
    rows: Iterable[tuple[str, str | None, float, bool, int]] = qs.order_by("-created_at").values_list(
        "kind", "model_version__name", "latency_ms", "ok", "n_chars"
    )[:MAX_ROWS]
    stats: dict[tuple[str, str], VersionStats] = {}
    for row_kind, version, latency, ok, n_chars in rows:
        key = (row_kind, version or NO_VERSION)
        item = stats.setdefault(key, VersionStats(*key))
        item.calls += 1
        item.errors += 0 if ok else 1
        item.chars += n_chars
        item.latencies.append(latency)
    window_s = window.total_seconds()
    return [stats[k].as_dict(window_s) for k in sorted(stats)]


def recent_errors(limit: int = 20) -> list[InferenceLog]:
    return list(InferenceLog.objects.filter(ok=False).select_related("model_version")[:limit])


# The time buckets of the page's charts per window, and how their time labels are written.
BUCKETS = {"1h": timedelta(minutes=5), "24h": timedelta(hours=1), "7d": timedelta(hours=6), "30d": timedelta(days=1)}
TIME_FORMATS = {"1h": "%H:%M", "24h": "%H:%M", "7d": "%m-%d %H:%M", "30d": "%m-%d"}


@dataclass(frozen=True)
class Bucket:
    """One time bucket of a chart: its start, the calls in it and their latency percentiles."""

    start: datetime
    calls: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None


def _bucket_starts(window: timedelta, bucket: timedelta, now: datetime) -> list[datetime]:
    """Bucket starts aligned on multiples of ``bucket`` (UTC epoch), the last one holding ``now``."""
    step = bucket.total_seconds()
    last = datetime.fromtimestamp(now.timestamp() // step * step, tz=UTC)
    count = max(1, math.ceil(window / bucket))
    return [last - bucket * i for i in range(count - 1, -1, -1)]


def _rows_in(window: timedelta, now: datetime, kind: str | None = None) -> Iterable[tuple[str, datetime, float, bool]]:
    qs = InferenceLog.objects.filter(created_at__gte=now - window, created_at__lte=now)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at").values_list("kind", "created_at", "latency_ms", "ok")[:MAX_ROWS]


def call_counts(window: timedelta, bucket: timedelta, *, now: datetime | None = None) -> list[Bucket]:
    """Calls and errors per time bucket over the whole window (empty buckets included), oldest first."""
    now = now or timezone.now()
    starts = _bucket_starts(window, bucket, now)
    first, step = starts[0].timestamp(), bucket.total_seconds()
    calls = [0] * len(starts)
    errors = [0] * len(starts)
    for _kind, created, _latency, ok in _rows_in(window, now):
        i = int((created.timestamp() - first) // step)
        if 0 <= i < len(starts):
            calls[i] += 1
            errors[i] += 0 if ok else 1
    return [Bucket(start, calls[i], errors[i]) for i, start in enumerate(starts)]


def latency_series(window: timedelta, bucket: timedelta, *, now: datetime | None = None) -> dict[str, list[Bucket]]:
    """Per kind of call, p50 and p95 latency per time bucket (buckets without calls left out), oldest first."""
    now = now or timezone.now()
    starts = _bucket_starts(window, bucket, now)
    first, step = starts[0].timestamp(), bucket.total_seconds()
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    errors: dict[tuple[str, int], int] = defaultdict(int)
    for kind, created, latency, ok in _rows_in(window, now):
        i = int((created.timestamp() - first) // step)
        if 0 <= i < len(starts):
            grouped[kind][i].append(latency)
            errors[(kind, i)] += 0 if ok else 1
    return {
        kind: [
            Bucket(starts[i], len(v), errors[(kind, i)], percentile(v, 50), percentile(v, 95))
            for i, v in sorted(by_bucket.items())
        ]
        for kind, by_bucket in sorted(grouped.items())
    }


def p95_threshold_ms(kind: str) -> float | None:
    """The p95 latency above which calls of ``kind`` are flagged (``MONITOR_P95_MS``), ``None`` if unset."""
    value = settings.MONITOR_P95_MS.get(kind)
    return float(value) if value else None


def flag_thresholds(rows: list[dict[str, Any]]) -> list[str]:
    """Mark summary rows over the thresholds (``p95_over``, ``error_rate_over``) and say why, one line each."""
    alerts = []
    for row in rows:
        limit = p95_threshold_ms(row["kind"])
        row["p95_limit_ms"] = limit
        row["p95_over"] = bool(limit is not None and row["p95_ms"] is not None and row["p95_ms"] > limit)
        row["error_rate_over"] = row["calls"] > 0 and row["error_rate"] > settings.MONITOR_ERROR_RATE
        where = f"{row['kind']} ({row['model_version']})"
        if row["p95_over"]:
            alerts.append(f"p95 latency of {where} is {row['p95_ms']:,.0f} ms, over the {limit:,.0f} ms threshold")
        if row["error_rate_over"]:
            limit_rate = settings.MONITOR_ERROR_RATE
            alerts.append(f"error rate of {where} is {row['error_rate']:.1%}, over the {limit_rate:.1%} threshold")
    return alerts


# --- Prometheus -------------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Totals from ``InferenceLog`` and the active model versions, read at scrape time."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registration asks for the metric names; answering here keeps the database out of import time.
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        logged = GaugeMetricFamily(
            "nlpapp_inference_logged",
            "Inference calls recorded in the database",
            labels=["kind", "model_version", "outcome"],
        )
        active = GaugeMetricFamily(
            "nlpapp_model_active", "1 for the active model version of each kind", labels=["kind", "model_version"]
        )
        return logged, active

    def collect(self) -> Iterator[GaugeMetricFamily]:
        logged, active = self._families()
        try:
            flush_inference_logs()  # this process's waiting rows count too
            counts = (
                InferenceLog.objects.values("kind", "model_version__name")
                .annotate(ok_n=Count("pk", filter=Q(ok=True)), err_n=Count("pk", filter=Q(ok=False)))
                .order_by()
            )
            for row in counts:
                version = row["model_version__name"] or NO_VERSION
                logged.add_metric([row["kind"], version, "ok"], row["ok_n"])
                logged.add_metric([row["kind"], version, "error"], row["err_n"])
            for kind, name in ModelVersion.objects.filter(is_active=True).values_list("kind", "name"):
                active.add_metric([kind, name], 1)
        except Exception:  # a scrape must answer even when the database is down
            logger.exception("metrics: database figures unavailable")
        yield logged
        yield active


REGISTRY.register(DatabaseCollector())


def metrics_allowed(request: HttpRequest) -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>`` (when the setting is set), or a staff user's session."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def metrics_response() -> HttpResponse:
    """The Prometheus text exposition format."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


# --- Retention --------------------------------------------------------------------------------


def delete_old_logs(retention_days: int | None = None, *, batch_size: int = 10_000) -> int:
    """Delete ``InferenceLog`` rows older than ``NER_INFERENCE_LOG_RETENTION_DAYS`` (0: keep all).

    In batches, so one sweep never holds a long lock on a large table. Returns how many went.
    """
    days = settings.NER_INFERENCE_LOG_RETENTION_DAYS if retention_days is None else retention_days
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(InferenceLog.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += InferenceLog.objects.filter(pk__in=ids).delete()[0]

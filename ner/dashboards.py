"""What the evaluation and monitoring pages show: F1 series, report tables and small SVG charts.

Charts are drawn server-side as inline SVG (no chart library): each point is a
``<circle>`` carrying ``data-version`` and ``data-f1`` so tests and scripts can read it.
Evaluation reports come from ``ner.evaluation.scoring.evaluate_pipeline``; the readers here accept
the strict/conlleval layout and fall back to flat keys, so an older run still renders.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from ner.extraction.pipeline import PIPELINE_NAMES
from ner.models import EvaluationRun, ModelVersion
from ner.monitoring import Bucket

logger = logging.getLogger(__name__)

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#0a7f8f", "#6e7781")
DEV_SERIES = "dev set (training)"


# --- F1 over versions ----------------------------------------------------------------------


def _short(fingerprint: str) -> str:
    return fingerprint[:8] if fingerprint else "unknown"


def f1_points() -> list[dict[str, Any]]:
    """One point per (evaluation set, pipeline, model version): the latest finished run.

    Plus the dev F1 training recorded for each READY tagger version, as one series per dev set.
    A series is keyed by the data's fingerprint, never by its name, so F1 values measured on
    different data are never joined by a line; two sets with the same file name get the
    fingerprint in their label.  Points are ordered by the version's creation time.
    """
    latest: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
    runs = (
        EvaluationRun.objects.filter(
            status=EvaluationRun.Status.DONE, model_version__isnull=False, micro_f1__isnull=False
        )
        .select_related("model_version")
        .order_by("created_at")
    )
    for run in runs:
        version = run.model_version
        assert version is not None
        data_key = run.data_fingerprint or run.data_path
        series = f"{data_key}|{run.pipeline}"
        latest[(series, version.pk)] = {
            "series": series,
            "label": f"{Path(run.data_path).name or run.data_path} ({run.pipeline})",
            "fingerprint": run.data_fingerprint,
            "version": version.name,
            "version_id": version.pk,
            "created_at": version.created_at,
            "f1": float(run.micro_f1 or 0.0),
            "run_id": run.pk,
        }
    points = list(latest.values())
    for version in ModelVersion.objects.filter(kind=ModelVersion.Kind.TAGGER, status=ModelVersion.Status.READY):
        if version.dev_f1 is not None:
            fingerprint = version.dev_fingerprint
            spec = str((version.data_fingerprints or {}).get("dev_spec") or version.hyperparameters.get("dev") or "")
            points.append(
                {
                    "series": f"dev|{fingerprint}",
                    "label": f"{DEV_SERIES}: {Path(spec).name or spec or 'dev set'}",
                    "fingerprint": fingerprint,
                    "version": version.name,
                    "version_id": version.pk,
                    "created_at": version.created_at,
                    "f1": version.dev_f1,
                    "run_id": None,
                }
            )
    # Two different data sets under one name: tell them apart by fingerprint.
    labels: dict[str, set[str]] = {}
    for p in points:
        labels.setdefault(p["label"], set()).add(p["series"])
    for p in points:
        if len(labels[p["label"]]) > 1:
            p["label"] = f"{p['label']} [{_short(p['fingerprint'])}]"
    points.sort(key=lambda p: (p["created_at"], p["version_id"], p["series"]))
    return points


def f1_chart(points: Sequence[dict[str, Any]], *, width: int = 760, height: int = 300) -> SafeString:
    """A line per evaluation set over model versions (x: versions by creation time, y: F1 from 0 to 1).

    The legend is an HTML list under the chart, so long data set names wrap instead of being cut.
    """
    if not points:
        return mark_safe('<p class="muted">No evaluated model versions yet.</p>')
    versions: list[tuple[int, str]] = []
    for p in points:
        if (p["version_id"], p["version"]) not in versions:
            versions.append((p["version_id"], p["version"]))
    left, right, top, bottom = 48, 24, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(versions) - 1) if len(versions) > 1 else 0

    def x_of(version_id: int) -> float:
        index = next(i for i, (vid, _) in enumerate(versions) if vid == version_id)
        return left + (index * step if len(versions) > 1 else plot_w / 2)

    def y_of(f1: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, f1)))

    out = [
        '<figure class="chart-figure">'
        f'<svg class="chart" id="f1-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="F1 per model version, one line per evaluation set" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(tick)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick:.2f}</text>')
    for vid, name in versions:
        x = x_of(vid)
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="end" class="tick" '
            f'transform="rotate(-30 {x:.1f} {top + plot_h + 16})">{escape(name)}</text>'
        )
    series_names = list(OrderedDict.fromkeys(p["series"] for p in points))
    legend: list[str] = []
    for i, series in enumerate(series_names):
        color = PALETTE[i % len(PALETTE)]
        pts = [p for p in points if p["series"] == series]
        label = pts[0]["label"]
        coords = " ".join(f"{x_of(p['version_id']):.1f},{y_of(p['f1']):.1f}" for p in pts)
        if len(pts) > 1:
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2" '
                f'data-series="{escape(series)}"><title>{escape(label)}</title></polyline>'
            )
        for p in pts:
            out.append(
                f'<circle cx="{x_of(p["version_id"]):.1f}" cy="{y_of(p["f1"]):.1f}" r="4" fill="{color}" '
                f'data-version="{escape(p["version"])}" data-series="{escape(series)}" data-f1="{p["f1"]:.4f}">'
                f"<title>{escape(p['version'])} - {escape(label)}: F1 {p['f1']:.3f}</title></circle>"
            )
        legend.append(
            f'<li data-series="{escape(series)}"><span class="swatch" style="background:{color}"></span>'
            f"{escape(label)}</li>"
        )
    out.append("</svg>")
    out.append(f'<figcaption><ul class="chart-legend" id="f1-legend">{"".join(legend)}</ul></figcaption></figure>')
    return mark_safe("".join(out))  # noqa: S308 - every label is escaped above


def _time_ticks(starts: Sequence[datetime], x_of: Any, y: float, time_format: str, most: int = 7) -> list[str]:
    """About ``most`` time labels under a chart, in the site's time zone."""
    if not starts:
        return []
    every = max(1, math.ceil(len(starts) / most))
    out = []
    for i in range(0, len(starts), every):
        x = x_of(i)
        label = timezone.localtime(starts[i]).strftime(time_format)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 10:.1f}" y2="{y - 6:.1f}" class="grid"/>')
        out.append(
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" class="tick time-tick">{escape(label)}</text>'
        )
    return out


def bar_chart(
    buckets: Sequence[Bucket], *, time_format: str = "%H:%M", width: int = 760, height: int = 140
) -> SafeString:
    """Calls per time bucket (errors stacked in red), with time labels under the bars."""
    if not any(b.calls for b in buckets):
        return mark_safe('<p class="muted">No inference calls in this window.</p>')
    left, bottom = 40, 22
    plot_h = height - bottom - 8
    top_value = max(b.calls for b in buckets)
    bar_w = (width - left) / len(buckets)
    out = [
        f'<svg class="chart" id="calls-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        'aria-label="Calls per time bucket" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left - 6}" y="12" text-anchor="end" class="tick">{top_value}</text>',
        f'<text x="{left - 6}" y="{8 + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, b in enumerate(buckets):
        if not b.calls:
            continue
        h = plot_h * b.calls / top_value
        he = plot_h * b.errors / top_value
        x = left + i * bar_w
        when = timezone.localtime(b.start).strftime("%Y-%m-%d %H:%M")
        out.append(
            f'<rect x="{x + 0.5:.1f}" y="{8 + plot_h - h:.1f}" width="{max(1.0, bar_w - 1):.1f}" height="{h:.1f}" '
            f'fill="#1f6feb"><title>{when}: {b.calls} calls, {b.errors} errors</title></rect>'
        )
        if b.errors:
            out.append(
                f'<rect x="{x + 0.5:.1f}" y="{8 + plot_h - he:.1f}" width="{max(1.0, bar_w - 1):.1f}" '
                f'height="{he:.1f}" fill="#d1242f"/>'
            )
    out += _time_ticks([b.start for b in buckets], lambda i: left + (i + 0.5) * bar_w, height - 6, time_format)
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - labels escaped above


def latency_chart(
    kind: str,
    points: Sequence[Bucket],
    *,
    window_start: datetime,
    bucket: timedelta,
    n_buckets: int,
    threshold_ms: float | None,
    time_format: str = "%H:%M",
    width: int = 760,
    height: int = 200,
) -> SafeString:
    """p50 and p95 latency of one kind of call per time bucket, the p95 threshold as a dashed line.

    Points whose p95 is over the threshold are drawn red with ``class="over"``; each point carries
    ``data-p50`` / ``data-p95`` / ``data-start`` for tests and scripts.
    """
    if not points:
        return format_html('<p class="muted">No {} calls in this window.</p>', kind)
    left, right, top, bottom = 56, 16, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(p.p95_ms or 0.0 for p in points)
    threshold_on_chart = threshold_ms is not None and threshold_ms <= highest * 2
    y_max = max(highest, threshold_ms if threshold_on_chart and threshold_ms else 0.0) * 1.1 or 1.0
    step = bucket.total_seconds()

    def index_of(p: Bucket) -> int:
        return int((p.start.timestamp() - window_start.timestamp()) // step)

    def x_of(i: float) -> float:
        return left + plot_w * (i + 0.5) / n_buckets

    def y_of(ms: float) -> float:
        return top + plot_h * (1 - ms / y_max)

    out = [
        f'<svg class="chart latency-chart" id="latency-{escape(kind)}" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="p50 and p95 latency of {escape(kind)} calls over time" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for frac in (0.0, 0.5, 1.0):
        ms = y_max * frac
        y = y_of(ms)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{ms:,.0f} ms</text>')
    if threshold_on_chart and threshold_ms is not None:
        y = y_of(threshold_ms)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d1242f" '
            f'stroke-dasharray="6 4" class="threshold" data-ms="{threshold_ms:.0f}"/>'
            f'<text x="{left + plot_w}" y="{y - 4:.1f}" text-anchor="end" class="tick">p95 threshold '
            f"{threshold_ms:,.0f} ms</text>"
        )
    for name, color, attr in (("p50", "#1f6feb", "p50_ms"), ("p95", "#bf8700", "p95_ms")):
        coords = " ".join(f"{x_of(index_of(p)):.1f},{y_of(getattr(p, attr) or 0.0):.1f}" for p in points)
        if len(points) > 1:
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2" data-series="{name}"/>'
            )
    for p in points:
        over = threshold_ms is not None and p.p95_ms is not None and p.p95_ms > threshold_ms
        x = x_of(index_of(p))
        when = timezone.localtime(p.start).strftime("%Y-%m-%d %H:%M")
        out.append(
            f'<circle cx="{x:.1f}" cy="{y_of(p.p95_ms or 0.0):.1f}" r="{5 if over else 3}" '
            f'fill="{"#d1242f" if over else "#bf8700"}" class="p95{" over" if over else ""}" '
            f'data-start="{p.start.isoformat()}" data-p50="{p.p50_ms or 0:.1f}" data-p95="{p.p95_ms or 0:.1f}">'
            f"<title>{when}: p50 {p.p50_ms or 0:,.1f} ms, p95 {p.p95_ms or 0:,.1f} ms, {p.calls} calls"
            f"{' - over the threshold' if over else ''}</title></circle>"
        )
    starts = [window_start + bucket * i for i in range(n_buckets)]
    out += _time_ticks(starts, x_of, height - 4, time_format)
    out.append("</svg>")
    legend = (
        '<ul class="chart-legend"><li><span class="swatch" style="background:#1f6feb"></span>p50</li>'
        '<li><span class="swatch" style="background:#bf8700"></span>p95</li>'
    )
    if threshold_ms is not None:
        note = "" if threshold_on_chart else " (far above these calls: not drawn)"
        legend += (
            '<li><span class="swatch" style="background:#d1242f"></span>'
            f"p95 threshold {threshold_ms:,.0f} ms{note}</li>"
        )
    out.append(legend + "</ul>")
    return mark_safe("".join(out))  # noqa: S308 - every label is escaped above


# --- Training runs ------------------------------------------------------------------------


def training_history(version: ModelVersion) -> list[dict[str, Any]]:
    """The per-epoch records training wrote (``metrics["history"]``: epoch, train_loss, dev_f1), checked."""
    history = version.metrics.get("history") if isinstance(version.metrics, dict) else None
    if not isinstance(history, list):
        return []
    return [h for h in history if isinstance(h, dict) and isinstance(h.get("epoch"), int)]


def training_curve(version: ModelVersion, *, width: int = 160, height: int = 60) -> SafeString:
    """Training loss (blue, its own scale) and dev F1 (green, 0 to 1) per epoch, as a small SVG."""
    history = training_history(version)
    losses = [(h["epoch"], float(h["train_loss"])) for h in history if isinstance(h.get("train_loss"), (int, float))]
    f1s = [(h["epoch"], float(h["dev_f1"])) for h in history if isinstance(h.get("dev_f1"), (int, float))]
    if len(history) < 2:  # one epoch is a point, not a curve: the figures are in the metrics already
        return mark_safe("")
    last = max(h["epoch"] for h in history)
    left, right, top, bottom = 4, 4, 6, 14
    plot_w, plot_h = width - left - right, height - top - bottom
    top_loss = max((v for _, v in losses), default=1.0) or 1.0

    def x_of(epoch: int) -> float:
        return left + (plot_w * (epoch - 1) / (last - 1) if last > 1 else plot_w / 2)

    out = [
        f'<svg class="chart training-curve" data-version="{escape(version.name)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" role="img" aria-label="training loss and dev F1 per epoch of {escape(version.name)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for name, color, pts, y_top in (("loss", "#1f6feb", losses, top_loss), ("dev_f1", "#1a7f37", f1s, 1.0)):
        coords = [(x_of(e), top + plot_h * (1 - v / y_top)) for e, v in pts]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5" data-series="{name}"/>'
            )
        for (x, y), (e, v) in zip(coords, pts, strict=True):
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{color}" data-series="{name}" data-epoch="{e}" '
                f'data-value="{v:.4f}"><title>epoch {e}: {name.replace("_", " ")} {v:.3f}</title></circle>'
            )
    out.append(f'<text x="{left}" y="{height - 2}" class="tick">epoch 1</text>')
    out.append(f'<text x="{width - right}" y="{height - 2}" text-anchor="end" class="tick">{last}</text>')
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - the only text, the version name, is escaped


def _shown(value: Any, *, three_places: bool) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if three_places else f"{value:g}"
    return str(value)


def compare_versions(versions: Sequence[ModelVersion]) -> list[dict[str, Any]]:
    """Rows of a side-by-side comparison of training runs: one value per version, ``differs`` when they do."""

    def get(v: ModelVersion, source: str, key: str) -> Any:
        node = getattr(v, source)
        return node.get(key) if isinstance(node, dict) else None

    fields: list[tuple[str, str, str]] = [
        ("dev F1", "metrics", "f1"),
        ("dev set", "metrics", "dev"),
        ("dev set fingerprint", "data_fingerprints", "dev_sha256"),
        ("train sentences", "metrics", "train_sentences"),
        ("epochs run", "metrics", "epochs_run"),
        ("best epoch", "metrics", "best_epoch"),
        ("stopped", "metrics", "stopped"),
        ("train seconds", "metrics", "train_seconds"),
    ]
    keys = sorted({k for v in versions if isinstance(v.hyperparameters, dict) for k in v.hyperparameters})
    fields += [(k, "hyperparameters", k) for k in keys]
    rows = []
    for label, source, key in fields:
        values = [get(v, source, key) for v in versions]
        if all(value is None for value in values):
            continue
        shown = [_shown(value, three_places=label == "dev F1") for value in values]
        rows.append({"field": label, "values": shown, "differs": len(set(shown)) > 1})
    return rows


# --- Report tables -------------------------------------------------------------------------


def _mode(report: dict[str, Any], mode: str) -> dict[str, Any]:
    node = report.get(mode)
    return node if isinstance(node, dict) else report


def _num(d: Any, *keys: str) -> float | None:
    if not isinstance(d, dict):
        return None
    for k in keys:
        if isinstance(d.get(k), (int, float)):
            return float(d[k])
    return None


def predicted_counts(report: dict[str, Any] | None) -> dict[str, int] | None:
    """Predictions per predicted type, from the report's confusion block (None when it has none).

    Every prediction is counted once there: exactly bounded (``matrix`` columns), ``boundary``
    or ``spurious``.
    """
    if not isinstance(report, dict) or not isinstance(report.get("confusion"), dict):
        return None
    raw = report["confusion"]
    counts: dict[str, int] = {}
    matrix = raw.get("matrix") if isinstance(raw.get("matrix"), dict) else {}
    blocks = [row for row in matrix.values() if isinstance(row, dict)]
    blocks += [raw.get(k) for k in ("boundary", "spurious") if isinstance(raw.get(k), dict)]
    for block in blocks:
        for label, n in block.items():
            counts[label] = counts.get(label, 0) + int(n)
    return counts


def per_type_rows(report: dict[str, Any] | None, model_labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows ``{label, strict: {p, r, f1, support, not_predicted}, conlleval: {...}}`` from a report.

    ``not_predicted`` marks a type nothing predicted in this evaluation, or one outside
    ``model_labels`` (the tagger's label set): its precision and F1 are not 0, they do not exist.
    """
    if not isinstance(report, dict):
        return []
    modes = {m: _mode(report, m) for m in ("strict", "conlleval")}
    labels: list[str] = []
    tables: dict[str, dict[str, Any]] = {}
    for mode, node in modes.items():
        table = node.get("per_type") or node.get("types") or {}
        tables[mode] = table if isinstance(table, dict) else {}
        labels += [k for k in tables[mode] if k not in labels]
    predicted = predicted_counts(report)
    rows = []
    for label in sorted(labels):
        row: dict[str, Any] = {"label": label}
        never = (predicted is not None and predicted.get(label, 0) == 0) or (
            model_labels is not None and label not in model_labels
        )
        for mode, table in tables.items():
            cell = table.get(label, {})
            row[mode] = {
                "p": _num(cell, "precision", "p"),
                "r": _num(cell, "recall", "r"),
                "f1": _num(cell, "f1", "f"),
                "support": _num(cell, "support", "n"),
                "not_predicted": never,
            }
        rows.append(row)
    for mode_name in ("micro", "macro"):
        row = {"label": mode_name, "summary": True}
        for mode, node in modes.items():
            cell = node.get(mode_name, {})
            row[mode] = {"p": _num(cell, "precision", "p"), "r": _num(cell, "recall", "r"), "f1": _num(cell, "f1", "f")}
        rows.append(row)
    return rows


def run_type_rows(run: EvaluationRun | None) -> list[dict[str, Any]]:
    """``per_type_rows`` of a run; a tagger run also knows the label set its model can predict."""
    if run is None:
        return []
    version = run.model_version
    model_labels = list(version.labels) if run.pipeline == "tagger" and version and version.labels else None
    return per_type_rows(run.metrics, model_labels)


def confusion_table(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """Gold types (rows) against predicted types (columns) for exactly bounded predictions.

    From ``report["confusion"]`` as ``ner.evaluation.scoring.span_confusion`` writes it: ``matrix``
    (``{gold: {predicted: n}}``), plus a ``missed`` column (gold entities nothing touched)
    and ``boundary`` / ``spurious`` rows (predictions by predicted type).
    """
    if not isinstance(report, dict) or not isinstance(report.get("confusion"), dict):
        return None
    raw = report["confusion"]
    matrix = raw.get("matrix") if isinstance(raw.get("matrix"), dict) else {}
    extra_rows = {k: raw.get(k) or {} for k in ("boundary", "spurious")}
    missed = raw.get("missed") or {}
    labels = sorted(
        set(matrix)
        | {p for row in matrix.values() for p in row}
        | set(missed)
        | {p for row in extra_rows.values() for p in row}
    )
    if not labels:
        return None
    rows: list[tuple[str, list[int], int | None]] = [
        (gold, [int(matrix.get(gold, {}).get(p, 0)) for p in labels], int(missed.get(gold, 0))) for gold in labels
    ]
    rows += [(f"({name})", [int(counts.get(p, 0)) for p in labels], None) for name, counts in extra_rows.items()]
    peak = max((v for _, row, _ in rows for v in row), default=0) or 1
    return {
        "labels": labels,
        "rows": [(gold, [(v, round(v / peak, 3)) for v in row], miss) for gold, row, miss in rows],
        "wrong_type": raw.get("wrong_type"),
    }


def side_by_side(runs: Sequence[EvaluationRun]) -> list[dict[str, Any]]:
    """Per evaluation data set: the latest finished run's micro F1 for each pipeline."""
    table: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for run in sorted(runs, key=lambda r: r.created_at, reverse=True):
        if run.status != EvaluationRun.Status.DONE or run.micro_f1 is None:
            continue
        key = run.data_fingerprint or run.data_path
        row = table.setdefault(key, {"data": Path(run.data_path).name or run.data_path, "pipelines": {}})
        row["pipelines"].setdefault(run.pipeline, {"f1": run.micro_f1, "run_id": run.pk, "version": run.model_version})
    return [
        {**row, "cells": [(p, row["pipelines"].get(p)) for p in PIPELINE_NAMES]}
        for row in table.values()
        if len(row["pipelines"]) >= 1
    ]


# --- Evaluation sets and runs -------------------------------------------------------------


def eval_set_suggestions() -> list[str]:
    """Corpus specs offered in the forms: the synthetic held-out set, files under DATA_DIR/eval, shared dev sets."""
    out = ["synthetic-heldout:300"]
    folder = Path(settings.DATA_DIR) / "eval"
    if folder.is_dir():
        out += [str(p) for p in sorted(folder.iterdir()) if p.suffix in {".conll", ".txt", ".jsonl"}]
    shared = Path(settings.BASE_DIR).parent / "shared" / "data"
    if shared.is_dir():  # read in place, never copied
        out += [str(p) for p in sorted(shared.glob("*dev*.conll"))]
    return out

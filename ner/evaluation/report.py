"""Evaluation reports as text: one report as a table, several side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _f(value: float) -> str:
    return f"{value:.3f}"


def format_report(report: dict[str, Any]) -> str:
    """A readable table of one report."""
    counts, timing = report["counts"], report["timing"]
    model = f" (tagger {report['model_version']})" if report.get("model_version") else ""
    wps = timing["words_per_second"]
    lines = [
        f"pipeline {report['pipeline']}{model}: {counts['sentences']} sentences, {counts['tokens']} tokens, "
        f"{counts['gold_entities']} gold / {counts['predicted_entities']} predicted entities, "
        f"{timing['seconds']:.1f} s ({wps if wps is not None else '-'} words/s)",
        "",
        f"{'type':<12} {'P':>6} {'R':>6} {'F1':>6} {'support':>8}   {'conlleval F1':>12}",
    ]
    strict, conll = report["strict"], report["conlleval"]
    for label in report["labels"]:
        row, other = strict["per_type"][label], conll["per_type"][label]
        lines.append(
            f"{label:<12} {_f(row['precision']):>6} {_f(row['recall']):>6} {_f(row['f1']):>6} "
            f"{row['support']:>8}   {_f(other['f1']):>12}"
        )
    for name in ("micro", "macro"):
        row, other = strict[name], conll[name]
        lines.append(
            f"{name + ' avg':<12} {_f(row['precision']):>6} {_f(row['recall']):>6} {_f(row['f1']):>6} "
            f"{'':>8}   {_f(other['f1']):>12}"
        )
    lines.append("(P/R/F1: seqeval strict IOB2; last column: seqeval default, conlleval-compatible)")
    confusion = report["confusion"]
    wrong = [f"{g}->{p} {n}" for g, row in confusion["matrix"].items() for p, n in row.items() if g != p]
    lines.append("")
    lines.append("wrong type (gold->predicted): " + (", ".join(wrong) if wrong else "none"))
    for key in ("boundary", "spurious", "missed"):
        items = confusion[key]
        lines.append(f"{key}: " + (", ".join(f"{k} {v}" for k, v in items.items()) if items else "none"))
    if counts["ignored_predictions"]:
        ignored = ", ".join(f"{k} {v}" for k, v in counts["ignored_predictions"].items())
        lines.append(f"predictions of other types, read as O: {ignored}")
    if counts["boundaries_inside_tokens"]:
        lines.append(f"predicted boundaries inside a gold token: {counts['boundaries_inside_tokens']}")
    if counts["texts_too_long"]:
        lines.append(f"sentences over NER_MAX_TEXT_CHARS, scored with no predictions: {counts['texts_too_long']}")
    return "\n".join(lines)


def format_comparison(reports: Sequence[dict[str, Any]]) -> str:
    """One row per pipeline: micro P/R/F1 (strict), macro F1, per-type F1, words/s."""
    labels = reports[0]["labels"] if reports else []
    header = f"{'pipeline':<10} {'P':>6} {'R':>6} {'F1':>6} {'macroF1':>7} " + " ".join(f"{lb:>8}" for lb in labels)
    lines = [header + f" {'words/s':>9}"]
    for report in reports:
        micro = report["strict"]["micro"]
        per_type = " ".join(f"{_f(report['strict']['per_type'][lb]['f1']):>8}" for lb in labels)
        wps = report["timing"]["words_per_second"]
        lines.append(
            f"{report['pipeline']:<10} {_f(micro['precision']):>6} {_f(micro['recall']):>6} {_f(micro['f1']):>6} "
            f"{_f(report['strict']['macro']['f1']):>7} {per_type} {wps if wps is not None else '-':>9}"
        )
    return "\n".join(lines)

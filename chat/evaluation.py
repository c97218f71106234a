"""Reply evaluation: how often suggestions carry the expected fact and the right identifiers (``evaluate_replies``).

Each item of a JSONL set is one conversation (``turns``), the identifiers a good reply
repeats (``ids``) and the accepted phrasings of the fact it should state (``facts``).
Replies are written by :func:`chat.generation.write_reply` (the same code as the
suggestion job) from the knowledge base in the database (canned responses and articles,
ranked by :func:`chat.retrieval.retrieve`), with the identifiers the cheap patterns find
in the customer's turns as the conversation's entities.

Scores per item, on the text the agent would see (after the identifier guard):
``fact`` (one accepted phrasing present, ignoring case), ``ids`` (every expected
identifier present), ``invented_before``/``invented_after`` (the guard flagged an
identifier that is in neither the conversation nor the sources, before / after it ran),
reply length, time to the first words and tokens per second (tokens of the reply by the
reply model's tokenizer, or words when no model is loaded, over the whole time).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from chat.generation import Draft, Turn, describe_backend, retrieve_sources, turn_identifiers, write_reply
from chat.guard import check_grounding
from ner.models import EvaluationRun, ModelVersion

PIPELINES = {"compose": "replies", "model": "replies-model"}


def load_items(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if "turns" not in item and "messages" in item:  # bench/data/grounding_eval.jsonl: customer messages only
            item["turns"] = [{"role": "customer", "text": text} for text in item["messages"]]
        missing = {"turns", "ids", "facts"} - set(item)
        if missing:
            raise ValueError(f"{path}:{n}: missing {', '.join(sorted(missing))}")
        items.append(item)
    return items[:limit] if limit else items


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tokens(text: str, tokenizer: Any) -> int:
    if tokenizer is None:
        return len(text.split())
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def score_item(
    item: dict[str, Any],
    *,
    mode: str,
    model: Any = None,
    tokenizer: Any = None,
    seed: int = 0,
    min_score: float | None = None,
) -> dict[str, Any]:
    turns = [Turn(t["role"], t["text"]) for t in item["turns"]]
    inbound = [t.text for t in turns if t.role == "customer"]
    stamps: list[float] = []
    started = time.perf_counter()
    sources = retrieve_sources(" ".join(inbound[-3:]), mode)
    draft: Draft = write_reply(
        turns=turns,
        entities=turn_identifiers(turns),
        customer_name=str(item.get("customer", "")),
        sources=sources,
        mode=mode,
        model=model,
        tokenizer=tokenizer,
        on_update=lambda _text: stamps.append(time.perf_counter()),
        seed=seed,
        min_score=min_score,
    )
    total = time.perf_counter() - started
    guarded = check_grounding(draft.text, draft.context)
    after = check_grounding(guarded.text, draft.context)
    shown = guarded.text.lower()
    n_tokens = _tokens(guarded.text, tokenizer)
    return {
        "id": item.get("id"),
        "topic": item.get("topic"),
        "answerable": bool(item.get("answerable", True)),
        "reply": guarded.text,
        "raw": draft.text,
        "passage": draft.passage,
        "sources": [s.title for s in draft.sources],
        "fact": any(f.lower() in shown for f in item["facts"]),
        "ids": all(i in guarded.text for i in item["ids"]),
        "invented_before": [f"{f['label']}:{f['text']}" for f in guarded.flagged],
        "invented_after": [f"{f['label']}:{f['text']}" for f in after.flagged],
        "words": len(guarded.text.split()),
        "tokens": n_tokens,
        "first_words_s": round((stamps[0] if stamps else time.perf_counter()) - started, 4),
        "total_s": round(total, 4),
    }


def _rate(rows: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> float | None:
    return round(sum(1 for r in rows if test(r)) / len(rows), 4) if rows else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    total = sum(r["total_s"] for r in rows)
    return {
        "n": len(rows),
        "fact_rate": _rate(rows, lambda r: r["fact"]),
        "fact_rate_answerable": _rate(answerable, lambda r: r["fact"]),
        "says_it_will_check_unanswerable": _rate(unanswerable, lambda r: r["fact"]),
        "identifier_rate": _rate(rows, lambda r: r["ids"]),
        "invented_before_guard": _rate(rows, lambda r: bool(r["invented_before"])),
        "invented_after_guard": _rate(rows, lambda r: bool(r["invented_after"])),
        "mean_reply_words": round(statistics.fmean(r["words"] for r in rows), 1) if rows else None,
        "p50_first_words_s": round(statistics.median(r["first_words_s"] for r in rows), 4) if rows else None,
        "p50_total_s": round(statistics.median(r["total_s"] for r in rows), 4) if rows else None,
        "tokens_per_s": round(sum(r["tokens"] for r in rows) / total, 1) if total else None,
    }


def evaluate_replies(
    path: Path,
    *,
    mode: str,
    model: Any = None,
    tokenizer: Any = None,
    version: ModelVersion | None = None,
    limit: int | None = None,
    seed: int = 0,
    min_score: float | None = None,
    timing: bool = True,
    on_item: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], EvaluationRun]:
    """Score every item of ``path`` and store the report as an ``EvaluationRun`` (pipeline ``replies``)."""
    items = load_items(path, limit)
    if not items:
        raise ValueError(f"{path} holds no items")
    started = time.perf_counter()
    rows = []
    for item in items:
        row = score_item(item, mode=mode, model=model, tokenizer=tokenizer, seed=seed, min_score=min_score)
        rows.append(row)
        if on_item is not None:
            on_item(row)
    summary = summarise(rows)
    if not timing:  # quality figures only: speed measured on a busy machine is not worth keeping
        for key in ("p50_first_words_s", "p50_total_s", "tokens_per_s"):
            summary.pop(key)
        for row in rows:
            for key in ("first_words_s", "total_s"):
                row.pop(key)
    report = {
        "pipeline": PIPELINES[mode],
        "mode": mode,
        "model_version": version.name if version else None,
        "model_opening": bool(mode == "compose" and model is not None),
        "backend": describe_backend(model),
        "min_score": (settings.CHAT_COMPOSE_MIN_SCORE if min_score is None else min_score)
        if mode == "compose"
        else None,
        "retrieval_top_k": settings.CHAT_RETRIEVAL_TOP_K,
        "data": {"path": str(path), "fingerprint": fingerprint(path), "items": len(items)},
        **summary,
        "items": rows,
    }
    run = EvaluationRun.objects.create(
        model_version=version,
        pipeline=PIPELINES[mode],
        data_path=str(path)[:500],
        data_fingerprint=report["data"]["fingerprint"],
        status=EvaluationRun.Status.DONE,
        metrics=report,
        duration_s=time.perf_counter() - started,
    )
    return report, run

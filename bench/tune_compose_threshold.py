"""Tune the composed reply's passage choice on the dev split: the word-level weights and ``CHAT_COMPOSE_MIN_SCORE``.

    DJANGO_DEBUG=1 DATA_DIR=/tmp/replies-bench python manage.py migrate
    DJANGO_DEBUG=1 DATA_DIR=/tmp/replies-bench python bench/tune_compose_threshold.py

For every dev item the candidate passages of the demo knowledge base are scored exactly as a
suggestion scores them (:func:`chat.compose.rank_passages`), split into their parts: the
cosine, the question-word overlap and the answer-type match (:mod:`chat.lexical`).  For each
pair of weights on the grid and each threshold ``t`` the best passage is quoted when its
score is at least ``t``, and the reply says the agent will check otherwise.  Utility per item:
+1 for a quoted passage holding the expected fact, +1 for "will check" on a question the
knowledge base does not answer, -1 for a quoted passage without the fact (a wrong answer),
0 for "will check" on an answerable question.  For the best weights (ties: the smaller
weights) the chosen threshold is the middle of the widest run of thresholds with the best
utility.  Writes ``bench/results/compose_threshold.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")

import django  # noqa: E402

django.setup()

from chat import compose  # noqa: E402
from chat.demo import ensure_demo_kb  # noqa: E402
from chat.generation import retrieve_sources  # noqa: E402

LEXICAL_GRID = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
TYPE_GRID = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(81)]


def passage_features(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Each candidate passage with its cosine, overlap and answer-type parts (the score is linear in them)."""
    turns = [(t["role"], t["text"]) for t in item["turns"]]
    inbound = [text for role, text in turns if role == "customer" and text.strip()]
    sources = retrieve_sources(" ".join(inbound[-3:]), "compose")
    queries = compose.question_queries(inbound)

    def scores(lex: float, typ: float) -> dict[tuple[str, int, str], float]:
        ranked = compose.rank_passages(queries, sources, lexical_weight=lex, answer_type_weight=typ)
        return {(p.source.kind, p.source.id, p.text): p.score for p in ranked}

    base, with_lex, with_type = scores(0.0, 0.0), scores(1.0, 0.0), scores(0.0, 1.0)
    facts = [f.lower() for f in item["facts"]]
    return [
        {
            "text": key[2],
            "cosine": cos,
            "overlap": with_lex[key] - cos,
            "answer_type": with_type[key] - cos,
            "has_fact": any(f in key[2].lower() for f in facts),
        }
        for key, cos in base.items()
    ]


def best(features: list[dict[str, Any]], lex: float, typ: float) -> tuple[float, dict[str, Any] | None]:
    scored = [(f["cosine"] + lex * f["overlap"] + typ * f["answer_type"], f) for f in features]
    if not scored:
        return 0.0, None
    score, top = max(scored, key=lambda pair: pair[0])
    return score, top


def utility(picks: list[tuple[bool, float, dict[str, Any] | None]], t: float) -> int:
    total = 0
    for answerable, score, top in picks:
        if top is not None and score >= t:
            total += 1 if (answerable and top["has_fact"]) else -1
        elif not answerable:
            total += 1
    return total


def widest_best(scores: dict[float, int]) -> tuple[int, list[float]]:
    top = max(scores.values())
    runs: list[list[float]] = []
    for t in THRESHOLDS:
        if scores[t] == top:
            if runs and round(runs[-1][-1] + 0.01, 2) == t:
                runs[-1].append(t)
            else:
                runs.append([t])
    return top, max(runs, key=len)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data" / "replies_dev.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compose_threshold.json")
    args = parser.parse_args()
    ensure_demo_kb()
    items = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    features = [(item, passage_features(item)) for item in items]

    grid: list[dict[str, Any]] = []
    for lex in LEXICAL_GRID:
        for typ in TYPE_GRID:
            picks = [(bool(item["answerable"]), *best(f, lex, typ)) for item, f in features]
            by_t = {t: utility(picks, t) for t in THRESHOLDS}
            best_utility, widest = widest_best(by_t)
            grid.append({"lexical_weight": lex, "answer_type_weight": typ, "best_utility": best_utility, "run": widest})
    # Best utility, then the widest run of thresholds (a stable choice), then the smaller weights.
    chosen = max(grid, key=lambda g: (g["best_utility"], len(g["run"]), -g["lexical_weight"], -g["answer_type_weight"]))
    lex, typ = chosen["lexical_weight"], chosen["answer_type_weight"]
    threshold = round(chosen["run"][len(chosen["run"]) // 2], 2)
    rows: list[dict[str, Any]] = []
    for item, f in features:
        score, top = best(f, lex, typ)
        rows.append(
            {
                "id": item["id"],
                "answerable": item["answerable"],
                "score": round(score, 4),
                "passage": top["text"] if top else "",
                "has_fact": bool(top and top["has_fact"]),
            }
        )
    answerable = [r for r in rows if r["answerable"]]
    baseline = next(g for g in grid if g["lexical_weight"] == 0 and g["answer_type_weight"] == 0)
    report = {
        "command": " ".join(["bench/tune_compose_threshold.py", *sys.argv[1:]]),
        "data": str(args.data.relative_to(ROOT)) if args.data.is_relative_to(ROOT) else str(args.data),
        "items": len(rows),
        "chosen": {"lexical_weight": lex, "answer_type_weight": typ, "threshold": threshold},
        "best_utility": chosen["best_utility"],
        "best_range": [chosen["run"][0], chosen["run"][-1]],
        "cosine_only_best_utility": baseline["best_utility"],
        "at_chosen": {
            "answerable_quoted_with_fact": sum(1 for r in answerable if r["score"] >= threshold and r["has_fact"]),
            "answerable_quoted_without_fact": sum(
                1 for r in answerable if r["score"] >= threshold and not r["has_fact"]
            ),
            "answerable_will_check": sum(1 for r in answerable if r["score"] < threshold),
            "unanswerable_will_check": sum(1 for r in rows if not r["answerable"] and r["score"] < threshold),
            "unanswerable_quoted": sum(1 for r in rows if not r["answerable"] and r["score"] >= threshold),
        },
        "grid": grid,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in {"rows", "grid"}}, indent=2))
    for g in sorted(grid, key=lambda g: -g["best_utility"])[:8]:
        print(g["lexical_weight"], g["answer_type_weight"], g["best_utility"], g["run"][0], g["run"][-1])


if __name__ == "__main__":
    main()

"""Tune ``CHAT_COMPOSE_MIN_SCORE`` (the passage similarity a composed reply needs) on the dev split.

    DJANGO_DEBUG=1 DATA_DIR=/tmp/replies-bench python manage.py migrate
    DJANGO_DEBUG=1 DATA_DIR=/tmp/replies-bench python bench/tune_compose_threshold.py

For every dev item the best passage of the demo knowledge base is found exactly as a
suggestion finds it (:func:`chat.compose.best_score`).  A threshold ``t`` quotes the passage
when its score is at least ``t`` and says the agent will check otherwise.  Utility per item:
+1 for a quoted passage holding the expected fact, +1 for "will check" on a question the
knowledge base does not answer, -1 for a quoted passage without the fact (a wrong answer),
0 for "will check" on an answerable question.  The chosen threshold is the middle of the
widest run of thresholds with the best utility.  Writes ``bench/results/compose_threshold.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")

import django  # noqa: E402

django.setup()

from chat.compose import best_score  # noqa: E402
from chat.demo import ensure_demo_kb  # noqa: E402
from chat.generation import retrieval_k  # noqa: E402
from chat.retrieval import retrieve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data" / "replies_dev.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "compose_threshold.json")
    args = parser.parse_args()
    ensure_demo_kb()
    items = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    rows = []
    for item in items:
        turns = [(t["role"], t["text"]) for t in item["turns"]]
        inbound = [text for role, text in turns if role == "customer"]
        sources = retrieve(" ".join(inbound[-3:]), k=retrieval_k("compose"))
        best = best_score(turns, sources)
        has_fact = best is not None and any(f.lower() in best.text.lower() for f in item["facts"])
        rows.append(
            {
                "id": item["id"],
                "answerable": item["answerable"],
                "score": round(best.score, 4) if best else 0.0,
                "passage": best.text if best else "",
                "has_fact": has_fact,
            }
        )

    def utility(t: float) -> int:
        total = 0
        for r in rows:
            quoted = r["score"] >= t
            if quoted:
                total += 1 if (r["answerable"] and r["has_fact"]) else -1
            elif not r["answerable"]:
                total += 1
        return total

    grid = [round(0.20 + 0.01 * i, 2) for i in range(51)]
    scores = {t: utility(t) for t in grid}
    top = max(scores.values())
    runs: list[list[float]] = []
    for t in grid:
        if scores[t] == top:
            if runs and round(runs[-1][-1] + 0.01, 2) == t:
                runs[-1].append(t)
            else:
                runs.append([t])
    widest = max(runs, key=len)
    chosen = round(widest[len(widest) // 2], 2)
    answerable = [r for r in rows if r["answerable"]]
    report = {
        "command": " ".join(["bench/tune_compose_threshold.py", *sys.argv[1:]]),
        "data": str(args.data.relative_to(ROOT)) if args.data.is_relative_to(ROOT) else str(args.data),
        "items": len(rows),
        "chosen_threshold": chosen,
        "best_utility": top,
        "best_range": [widest[0], widest[-1]],
        "at_chosen": {
            "answerable_quoted_with_fact": sum(1 for r in answerable if r["score"] >= chosen and r["has_fact"]),
            "answerable_quoted_without_fact": sum(1 for r in answerable if r["score"] >= chosen and not r["has_fact"]),
            "answerable_will_check": sum(1 for r in answerable if r["score"] < chosen),
            "unanswerable_will_check": sum(1 for r in rows if not r["answerable"] and r["score"] < chosen),
            "unanswerable_quoted": sum(1 for r in rows if not r["answerable"] and r["score"] >= chosen),
        },
        "utility_by_threshold": scores,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in {"rows", "utility_by_threshold"}}, indent=2))


if __name__ == "__main__":
    main()

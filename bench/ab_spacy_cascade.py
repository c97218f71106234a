"""spaCy only where the tagger is unsure (``NER_SPACY_UNSURE_MARGIN``) against spaCy on every text, side by side.

Quality: for each margin, the share of texts spaCy is skipped on and strict micro F1 of the
default merged pipeline on UNER EWT dev, WNUT-17 dev and ``synthetic-heldout:600:7`` (the
synthetic dev seed), the same active tagger and combiner weights.  Speed: messages/s on
synthetic held-out customer messages, one call per message and in batches of 64, each setting
measured in alternating rounds (this host's speed drifts by 20% within minutes, so one round
each would say little); the 1-minute load average is recorded::

    DJANGO_DEBUG=1 .venv/bin/python bench/ab_spacy_cascade.py --margins 0 0.01 0.02 0.05 \\
        --out bench/results/spacy_cascade.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--margins", nargs="+", type=float, default=[0.0, 0.01, 0.02, 0.05])
    parser.add_argument("--speed-margins", nargs="+", type=float, default=[0.0, 0.02])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()
    from django.conf import settings

    from ner.corpora.convert import sentence_to_example
    from ner.corpora.specs import load_examples
    from ner.corpora.types import SpanExample
    from ner.evaluation.scoring import evaluate_pipeline
    from ner.extraction.pipeline import extract, run_pipeline

    settings.NER_GENERAL_MERGE = "combiner"
    dev_sets: list[tuple[str, list[str] | None]] = [("synthetic-heldout:600:7", None)]
    if (SHARED / "uner_ewt_dev.conll").exists():
        dev_sets.append((f"uner:{SHARED / 'uner_ewt_dev.conll'}", ["PER", "ORG", "LOC"]))
    if (SHARED / "wnut17_dev.conll").exists():
        dev_sets.append((f"wnut17:{SHARED / 'wnut17_dev.conll'}", ["PER", "ORG", "LOC", "PRODUCT"]))
    quality: dict[str, Any] = {}
    for spec, labels in dev_sets:
        examples = load_examples(spec)
        rows = {}
        for margin in args.margins:
            settings.NER_SPACY_UNSURE_MARGIN = margin

            def predict(texts: list[str]) -> list[list[Any]]:
                return run_pipeline(texts).spans

            report = evaluate_pipeline(examples, pipeline="merged", labels=labels, predict=predict)
            rows[str(margin)] = {"micro_f1": round(report["strict"]["micro"]["f1"], 4)}
        quality[spec.split(":")[0]] = rows
        # Which texts spaCy ran on, per margin: counted one text at a time.
        texts = [e.text if isinstance(e, SpanExample) else sentence_to_example(e).text for e in examples]
        for margin in args.margins:
            settings.NER_SPACY_UNSURE_MARGIN = margin
            skipped = sum("spacy" not in run_pipeline([t]).used_recognizers for t in texts if t)
            rows[str(margin)]["spacy_skipped_share"] = round(skipped / len(texts), 3)
        print(spec, json.dumps(rows), flush=True)

    messages = [e.text for e in load_examples("synthetic-heldout:1000:1") if isinstance(e, SpanExample)]
    messages = messages[: args.messages]
    speed: dict[str, dict[str, list[float]]] = {
        str(m): {"one_by_one": [], "batches_of_64": []} for m in args.speed_margins
    }
    load_at_start = os.getloadavg()
    for margin in args.speed_margins:
        settings.NER_SPACY_UNSURE_MARGIN = margin
        extract(messages[:16])  # models loaded and warm
    for _ in range(args.rounds):
        for margin in args.speed_margins:
            settings.NER_SPACY_UNSURE_MARGIN = margin
            started = time.perf_counter()
            for text in messages:
                extract([text])
            speed[str(margin)]["one_by_one"].append(round(len(messages) / (time.perf_counter() - started), 1))
            started = time.perf_counter()
            for i in range(0, len(messages), 64):
                extract(messages[i : i + 64])
            speed[str(margin)]["batches_of_64"].append(round(len(messages) / (time.perf_counter() - started), 1))
    results = {
        "command": "bench/ab_spacy_cascade.py " + " ".join(sys.argv[1:]),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": describe(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "quality": quality,
        "speed_messages_per_second": {
            margin: {kind: {"rounds": v, "median": statistics.median(v)} for kind, v in kinds.items()}
            for margin, kinds in speed.items()
        },
    }
    print(json.dumps(results["speed_messages_per_second"]))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

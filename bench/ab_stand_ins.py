"""A/B: the models read identifiers as written, or as stand-in words (``NER_IDENTIFIER_STAND_INS``).

The default ``merged`` pipeline's strict micro F1 and the general labels' F1 on the development sets
(UNER English-EWT dev and WNUT-17 dev where ``../shared/data`` has them; the synthetic set of seed 7,
which is for development), with the setting off, then on.  Each text runs alone, as chat messages
do: in batches, ONNX Runtime's dynamic int8 scales activations per batch, so a text's result
depends on the texts batched with it and would blur the comparison.  Speed: ``bench/bench_presidio.py
--merges combiner,combiner:written,...`` measures both side by side.

    DJANGO_DEBUG=1 DATA_DIR=var .venv/bin/python bench/ab_stand_ins.py --out bench/results/stand_ins_dev.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
GENERAL = ("PER", "ORG", "LOC", "PRODUCT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", default="synthetic-heldout:2000:7", help="synthetic dev spec (seed 7)")
    parser.add_argument("--out", default="bench/results/stand_ins_dev.json")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()
    from django.conf import settings

    from ner.corpora.specs import load_examples
    from ner.evaluation.scoring import evaluate_pipeline
    from ner.extraction.pipeline import run_pipeline

    sets = {
        "uner_ewt_dev": str(SHARED / "uner_ewt_dev.conll"),
        "wnut17_dev": f"wnut17:{SHARED / 'wnut17_dev.conll'}",
        "synthetic_dev": args.synthetic,
    }
    started = time.time()
    results: dict[str, Any] = {
        "command": "bench/ab_stand_ins.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe(),
        "datasets": {},
    }
    for name, spec in sets.items():
        if not spec.startswith("synthetic") and not Path(spec.split(":", 1)[-1]).is_file():
            print(f"skipping {name}: {spec} is not present")
            continue
        examples = load_examples(spec)
        row: dict[str, Any] = {"data": spec}
        for written in (True, False):
            settings.NER_IDENTIFIER_STAND_INS = not written
            report = evaluate_pipeline(
                examples, pipeline="merged", predict=lambda batch: [run_pipeline([t]).spans[0] for t in batch]
            )
            per_type = report["strict"]["per_type"]
            row["as_written" if written else "stand_ins"] = {
                "micro_f1": report["micro_f1"],
                "general_f1": {k: per_type[k]["f1"] for k in GENERAL if k in per_type},
            }
        row["change"] = round(row["stand_ins"]["micro_f1"] - row["as_written"]["micro_f1"], 4)
        results["datasets"][name] = row
        print(name, json.dumps(row), flush=True)
    results["seconds"] = round(time.time() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

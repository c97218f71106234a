"""A/B of the default tagger recipe: train one variant per setting, score each on the dev sets.

Each variant is ``ner.training.default_model``'s recipe (``DEFAULT_SPECS``, or ``--train``;
``DEFAULT_HYPERPARAMETERS``) with ``--set KEY=VALUE`` overrides, trained one after the other (a
new ``tagger-vN`` each, not activated) and scored with ``evaluate_pipeline`` (tagger alone,
``merged`` with the same combiner weights, and ``merged`` with ``NER_GENERAL_MERGE=tagger``) on
UNER English-EWT dev (PER/ORG/LOC), WNUT-17 dev (PER/ORG/LOC/PRODUCT) and
``synthetic-heldout:600:7`` (the synthetic dev seed; seed 1 is the evaluation set and is never
used here).  F1 does not depend on the machine's load; the training seconds do, so the 1-minute
load average is recorded after each variant::

    DJANGO_DEBUG=1 .venv/bin/python bench/ab_default_recipe.py --variant precision=fp32 \\
        --variant precision=bf16 --set epochs=4 --out bench/results/tagger_precision_epochs.json

``--set max_seconds=420`` reproduces ``make run``'s budget.
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

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _pairs(items: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", required=True, help="KEY=VALUE[,KEY=VALUE] of one variant")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for every variant")
    parser.add_argument("--train", nargs="+", help="training corpus specs instead of the recipe's DEFAULT_SPECS")
    parser.add_argument("--shared", default=str(SHARED), help="folder with uner_ewt_dev.conll and wnut17_dev.conll")
    parser.add_argument("--out", help="write the results here as JSON")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()
    from django.conf import settings
    from django.test import override_settings

    from ner.corpora.specs import load_examples
    from ner.evaluation.scoring import evaluate_pipeline
    from ner.labels import GENERAL_LABELS
    from ner.training.default_model import DEFAULT_HYPERPARAMETERS, DEFAULT_SPECS
    from ner.training.trainer import TrainConfig, load_specs, train

    shared = Path(args.shared)
    dev_sets: list[tuple[str, list[str] | None]] = [("synthetic-heldout:600:7", None)]
    if (shared / "uner_ewt_dev.conll").exists():
        dev_sets.insert(0, (f"uner:{shared / 'uner_ewt_dev.conll'}", ["PER", "ORG", "LOC"]))
    if (shared / "wnut17_dev.conll").exists():
        dev_sets.insert(1, (f"wnut17:{shared / 'wnut17_dev.conll'}", ["PER", "ORG", "LOC", "PRODUCT"]))
    common = _pairs(args.set)
    train_specs = list(args.train or DEFAULT_SPECS)
    results: dict[str, Any] = {
        "command": "bench/ab_default_recipe.py " + " ".join(sys.argv[1:]),
        "machine": describe(),
        "recipe": {"specs": train_specs, **DEFAULT_HYPERPARAMETERS, **common},
        "variants": {},
    }
    for variant in args.variant:
        overrides = {**common, **_pairs(variant.split(","))}
        config = TrainConfig(labels=list(GENERAL_LABELS), **{**DEFAULT_HYPERPARAMETERS, **overrides})
        started = time.time()
        row = train(load_specs(train_specs), None, config=config, specs={"train": train_specs})
        scores: dict[str, Any] = {
            "version": row.name,
            "train_s": round(time.time() - started),
            "epochs_run": row.metrics.get("epochs_run"),
            "stopped": row.metrics.get("stopped"),
            "training_precision": row.metrics.get("training_precision"),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        }
        for spec, labels in dev_sets:
            examples = load_examples(spec)
            for pipeline, merge in (("tagger", None), ("merged", None), ("merged", "tagger")):
                with override_settings(NER_GENERAL_MERGE=merge or settings.NER_GENERAL_MERGE):
                    report = evaluate_pipeline(examples, pipeline=pipeline, labels=labels, tagger_version=row.name)
                key = f"{spec.split(':')[0]}_{pipeline}" + (f"_{merge}" if merge else "")
                scores[key] = round(report["strict"]["micro"]["f1"], 4)
                scores[key + "_per_type"] = {
                    label: round(values["f1"], 4) for label, values in report["strict"]["per_type"].items()
                }
        results["variants"][variant] = scores
        print(variant, json.dumps(scores), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark the extraction pipelines with ``evaluate_ner``, side by side in one run.

- ``evaluate_ner --compare rules,spacy,merged`` on the shared dev sets (UNER English-EWT dev,
  WNUT-17 dev mapped with ``--scheme wnut17``) when ``../shared/data`` is present; the
  ``spacy`` row is spaCy's small pipeline scored on its own, ``merged`` includes the
  tagger only when a tagger version is active;
- the same three pipelines on the synthetic held-out split (template families the
  training split never saw), with per-type P/R/F1 for the structured labels.

Writes ``bench/results/evaluate_pipelines.json`` (full reports) and prints the table of docs/benchmarks::

    DJANGO_DEBUG=1 .venv/bin/python bench/bench_evaluate.py [--synthetic 2000] [--seed 1]

It runs against the configured database (``DATA_DIR``/``DATABASE_URL``): it migrates it
and runs the idempotent bootstrap steps that seed the default extraction rules and the
demo gazetteer, so the ``rules`` pipeline is the one ``make run`` serves.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEV_SETS = (("uner_ewt_dev", "uner_ewt_dev.conll", None), ("wnut17_dev", "wnut17_dev.conll", "wnut17"))
PIPELINES = ["rules", "spacy", "merged"]  # plus "tagger" (alone) when a tagger version is active


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ["HF_HUB_OFFLINE"] = "1"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from nlpapp import bootstrap

    seeds = [step.partition(":")[2] for step in bootstrap.STEPS if "seed" in step]
    if seeds:
        bootstrap.run_steps(lambda line: None, only=seeds)


def evaluate(data: str, scheme: str | None, pipelines: list[str]) -> list[dict[str, Any]]:
    from django.core.management import call_command

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        options: dict[str, Any] = {"data": data, "compare": pipelines, "json_out": str(out), "no_save": True}
        if scheme:
            options["scheme"] = scheme
        buffer = io.StringIO()
        call_command("evaluate_ner", no_progress=True, stdout=buffer, **options)
        print(buffer.getvalue())
        return list(json.loads(out.read_text())["runs"])


def summary(report: dict[str, Any]) -> dict[str, Any]:
    strict = report["strict"]
    return {
        "pipeline": report["pipeline"],
        "model_version": report["model_version"],
        "micro": strict["micro"],
        "macro_f1": strict["macro"]["f1"],
        "conlleval_micro_f1": report["conlleval"]["micro"]["f1"],
        "per_type_f1": {label: row["f1"] for label, row in strict["per_type"].items()},
        "words_per_second": report["timing"]["words_per_second"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=2000, help="held-out examples to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "evaluate_pipelines.json"))
    parser.add_argument(
        "--only-synthetic", action="store_true", help="rerun only the synthetic set, keeping the dev sets from --out"
    )
    parser.add_argument("--table", metavar="JSON", help="only print the table of an earlier results file")
    args = parser.parse_args()
    if args.table:
        print(markdown(json.loads(Path(args.table).read_text())))
        return
    setup_django()
    from ner.extraction.pipeline import PIPELINES as RECOGNIZER_SETS
    from ner.extraction.pipeline import used_recognizers

    merged = list(used_recognizers(RECOGNIZER_SETS["merged"]))
    pipelines = ["rules", "spacy", "tagger", "merged"] if "tagger" in merged else list(PIPELINES)
    started = time.time()
    results: dict[str, Any] = {
        "command": "DJANGO_DEBUG=1 .venv/bin/python bench/bench_evaluate.py "
        f"--synthetic {args.synthetic} --seed {args.seed}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**describe(), "platform": platform.platform()},
        "merged_recognizers": merged,
        "pipelines": pipelines,
        "datasets": {},
    }
    if args.only_synthetic:  # keep the dev-set results of an earlier run in --out, redo the synthetic set
        earlier = json.loads(Path(args.out).read_text())
        results["datasets"] = {k: v for k, v in earlier["datasets"].items() if k != "synthetic_heldout"}
        results["dev_sets_date"] = earlier.get("dev_sets_date", earlier["date"])
    for name, filename, scheme in DEV_SETS if not args.only_synthetic else ():
        path = SHARED / filename
        if not path.is_file():
            print(f"skipping {name}: {path} is not present")
            continue
        reports = evaluate(str(path), scheme, pipelines)
        results["datasets"][name] = {"data": str(path), "scheme": scheme, "summary": [summary(r) for r in reports]}
        results["datasets"][name]["reports"] = reports
    spec = f"synthetic-heldout:{args.synthetic}:{args.seed}"
    reports = evaluate(spec, None, pipelines)
    results["datasets"]["synthetic_heldout"] = {"data": spec, "summary": [summary(r) for r in reports]}
    results["datasets"]["synthetic_heldout"]["reports"] = reports
    results["seconds"] = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}\n")
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| data | pipeline | P | R | F1 (strict) | F1 (conlleval) | macro F1 | words/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, block in results["datasets"].items():
        for row in block["summary"]:
            micro = row["micro"]
            lines.append(
                f"| {name} | {row['pipeline']} | {micro['precision']:.3f} | {micro['recall']:.3f} | "
                f"{micro['f1']:.3f} | {row['conlleval_micro_f1']:.3f} | {row['macro_f1']:.3f} | "
                f"{row['words_per_second']:,.0f} |"
            )
    synthetic = results["datasets"].get("synthetic_heldout")
    if synthetic:
        by_name = {r["pipeline"]: r for r in synthetic["reports"]}
        names = [n for n in ("rules", "spacy", "tagger") if n in by_name]
        merged = by_name["merged"]
        lines += [
            "",
            "| synthetic held-out | support | "
            + " | ".join(f"{n} F1" for n in names)
            + " | merged P | merged R | merged F1 |",
            "|---|---|" + "---|" * (len(names) + 3),
        ]
        for label, row in merged["strict"]["per_type"].items():
            cells = " | ".join(f"{by_name[n]['strict']['per_type'][label]['f1']:.3f}" for n in names)
            merged_cells = f"{row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f}"
            lines.append(f"| {label} | {row['support']} | {cells} | {merged_cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

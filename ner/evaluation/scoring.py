"""Score an extraction pipeline on a tagged corpus (the ``evaluate_ner`` contract).

The tokens of each sentence are joined with single spaces, the pipeline runs on
that text, and its spans are mapped back onto the gold tokens
(``ner.corpora.convert.spans_to_tags``: a token belongs to the first predicted
span that overlaps it).  Only the evaluated labels count: gold and predicted
entities of other types are read as ``O``.  Scores come from seqeval, once in
strict IOB2 mode and once in its default (conlleval-compatible) mode.

The report is a JSON-ready dict with stable keys (documented in docs/commands.md,
``evaluate_ner``); :mod:`ner.evaluation.report` prints it and :mod:`ner.evaluation.runs`
stores it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from ner.corpora.convert import example_tokens, spans_to_sentence, spans_to_tags, tags_to_spans, token_offsets
from ner.corpora.types import Sentence, SpanExample
from ner.spans import Span

logger = logging.getLogger(__name__)

Predictor = Callable[[list[str]], list[list[Span]]]
Progress = Callable[[int, int], None]  # (sentences done, total)
REPORT_SCHEMA = 1


class EvaluationError(ValueError):
    """The evaluation cannot run as asked (unknown pipeline, no tagger, no labels)."""


def gold_labels(items: Sequence[Sentence | SpanExample]) -> list[str]:
    """The entity types present in the gold data, sorted."""
    found: set[str] = set()
    for item in items:
        if isinstance(item, SpanExample):
            found.update(label for _, _, label in item.spans)
        else:
            found.update(tag[2:] for tag in item.tags if tag.startswith("B-"))
    return sorted(found)


def _prepared(item: Sentence | SpanExample) -> tuple[str, list[tuple[int, int]], list[str]]:
    """The text the pipeline sees, the gold tokens' offsets in it, and the gold tags.

    A ``Sentence`` is joined with single spaces; a ``SpanExample`` keeps its original text.
    """
    if isinstance(item, SpanExample):
        pieces, tags = example_tokens(item)
        return item.text, [(start, end) for _, start, end in pieces], tags
    return " ".join(item.tokens), token_offsets(item.tokens), list(item.tags)


def restrict_tags(tags: Sequence[str], labels: set[str]) -> list[str]:
    return [tag if tag == "O" or tag[2:] in labels else "O" for tag in tags]


def _prf(block: dict[str, Any]) -> dict[str, float]:
    return {
        "precision": round(float(block["precision"]), 4),
        "recall": round(float(block["recall"]), 4),
        "f1": round(float(block["f1-score"]), 4),
    }


def score_tags(gold: list[list[str]], pred: list[list[str]], labels: Sequence[str], *, strict: bool) -> dict[str, Any]:
    """Micro/macro P/R/F1 and per-type P/R/F1/support from seqeval (strict IOB2 or conlleval mode)."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    has_entities = any(t != "O" for tags in gold for t in tags) or any(t != "O" for tags in pred for t in tags)
    per_type = {label: {**zero, "support": 0} for label in labels}
    if not has_entities:
        return {"micro": dict(zero), "macro": dict(zero), "per_type": per_type}
    kwargs: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if strict else {}
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **kwargs)
    for label in labels:
        if label in report:
            per_type[label] = {**_prf(report[label]), "support": int(report[label]["support"])}
    return {"micro": _prf(report["micro avg"]), "macro": _prf(report["macro avg"]), "per_type": per_type}


def span_confusion(gold: list[list[str]], pred: list[list[str]]) -> dict[str, Any]:
    """Which predictions were right, wrongly typed, mis-bounded, spurious; which gold entities were missed.

    ``matrix[gold][pred]`` counts predictions whose tokens match a gold entity exactly
    (the diagonal holds the correct ones); a prediction that only overlaps a gold
    entity is a ``boundary`` error; one that touches none is ``spurious``; a gold
    entity that no prediction touches is ``missed``.
    """
    matrix: dict[str, Counter[str]] = {}
    boundary: Counter[str] = Counter()
    spurious: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        gold_spans = tags_to_spans(gold_tags)
        pred_spans = tags_to_spans(pred_tags)
        exact = {(a, b): label for a, b, label in gold_spans}
        for a, b, label in pred_spans:
            if (a, b) in exact:
                matrix.setdefault(exact[(a, b)], Counter())[label] += 1
            elif any(a < gb and ga < b for ga, gb, _ in gold_spans):
                boundary[label] += 1
            else:
                spurious[label] += 1
        for a, b, label in gold_spans:
            if not any(a < pb and pa < b for pa, pb, _ in pred_spans):
                missed[label] += 1
    wrong = sum(n for g, row in matrix.items() for p, n in row.items() if g != p)
    return {
        "matrix": {g: dict(sorted(row.items())) for g, row in sorted(matrix.items())},
        "wrong_type": wrong,
        "boundary": dict(sorted(boundary.items())),
        "spurious": dict(sorted(spurious.items())),
        "missed": dict(sorted(missed.items())),
    }


def pipeline_predictor(pipeline: str, tagger_version: str | None = None) -> tuple[Predictor, str | None]:
    """A predictor running the pipeline (``extract``) with the pipeline's recognizers, and the tagger version used.

    The predictor's ``recognizers`` attribute lists the recognizers that run.
    """
    from ner.extraction.pipeline import PIPELINES, extract

    if pipeline not in PIPELINES:
        raise EvaluationError(f"unknown pipeline {pipeline!r}; use one of {', '.join(PIPELINES)}")
    recognizers = PIPELINES[pipeline]
    version: str | None = None
    if "tagger" in recognizers:
        from ner.extraction.recognizers.tagger import get_tagger

        tagger = get_tagger(tagger_version)
        if tagger is not None:
            version = tagger.version_name
        elif pipeline == "tagger" or tagger_version:
            wanted = f"tagger version {tagger_version!r}" if tagger_version else "an active tagger"
            raise EvaluationError(f"the {pipeline} pipeline needs {wanted}, and there is none ready")

    def predict(texts: list[str]) -> list[list[Span]]:
        return extract(texts, recognizers=recognizers, tagger_version=version)

    predict.recognizers = [name for name in recognizers if name != "tagger" or version]  # type: ignore[attr-defined]
    return predict, version


def _max_chars() -> int:
    try:
        from django.conf import settings

        return int(getattr(settings, "NER_MAX_TEXT_CHARS", 100_000))
    except Exception:  # settings not configured: plain library use
        return 100_000


def evaluate_pipeline(
    sentences: Sequence[Sentence | SpanExample],
    *,
    pipeline: str = "merged",
    labels: Sequence[str] | None = None,
    tagger_version: str | None = None,
    predict: Predictor | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run ``pipeline`` (or ``predict``, for tests and custom extractors) on ``sentences`` and score it.

    Items are ``Sentence``s (run on their tokens joined by single spaces) or ``SpanExample``s
    (run on their original text, scored on its tokens).  ``labels`` defaults to the types
    in the gold data.  Returns the report dict.
    """
    from ner.corpora.specs import fingerprint

    if not sentences:
        raise EvaluationError("the data set has no sentences")
    model_version: str | None = None
    if predict is None:
        predict, model_version = pipeline_predictor(pipeline, tagger_version)
    evaluated = list(labels) if labels else gold_labels(sentences)
    if not evaluated:
        raise EvaluationError("no labels to evaluate: the data has no entities and --labels was not given")
    label_set = set(evaluated)
    max_chars = _max_chars()

    gold: list[list[str]] = []
    pred: list[list[str]] = []
    ignored: Counter[str] = Counter()
    inside_tokens = 0
    too_long = 0
    predicted_entities = 0
    prepared = [_prepared(item) for item in sentences]
    # One untimed call first, so words/s measures extraction, not loading models or compiling rules.
    started = time.perf_counter()
    predict([prepared[0][0][:max_chars]])
    warmup = time.perf_counter() - started
    seconds = 0.0
    for first in range(0, len(prepared), batch_size):
        batch = prepared[first : first + batch_size]
        texts = [text for text, _, _ in batch]
        runnable = [i for i, text in enumerate(texts) if len(text) <= max_chars]
        too_long += len(texts) - len(runnable)
        started = time.perf_counter()
        found = predict([texts[i] for i in runnable]) if runnable else []
        seconds += time.perf_counter() - started
        spans_by_index: dict[int, list[Span]] = dict(zip(runnable, found, strict=True))
        for i, (_, offsets, gold_tags) in enumerate(batch):
            kept: list[tuple[int, int, str]] = []
            for span in spans_by_index.get(i, []):
                if span.label in label_set:
                    kept.append((span.start, span.end, span.label))
                else:
                    ignored[span.label] += 1
            tags, inside = spans_to_tags(offsets, kept)
            inside_tokens += inside
            predicted_entities += sum(t.startswith("B-") for t in tags)
            pred.append(tags)
            gold.append(restrict_tags(gold_tags, label_set))
        if progress is not None:
            progress(min(first + batch_size, len(sentences)), len(sentences))

    tokens = sum(len(offsets) for _, offsets, _ in prepared)
    as_sentences = [spans_to_sentence(i) if isinstance(i, SpanExample) else i for i in sentences]
    strict = score_tags(gold, pred, evaluated, strict=True)
    return {
        "schema": REPORT_SCHEMA,
        "pipeline": pipeline,
        "model_version": model_version,
        "labels": evaluated,
        "recognizers": getattr(predict, "recognizers", None),
        "data": {
            "fingerprint": fingerprint(as_sentences),
            "text": "original" if any(isinstance(i, SpanExample) for i in sentences) else "joined_tokens",
        },
        "counts": {
            "sentences": len(sentences),
            "tokens": tokens,
            "gold_entities": sum(t.startswith("B-") for tags in gold for t in tags),
            "predicted_entities": predicted_entities,
            "ignored_predictions": dict(sorted(ignored.items())),
            "boundaries_inside_tokens": inside_tokens,
            "texts_too_long": too_long,
        },
        "micro_f1": strict["micro"]["f1"],
        "strict": strict,
        "conlleval": score_tags(gold, pred, evaluated, strict=False),
        "confusion": span_confusion(gold, pred),
        "timing": {
            "seconds": round(seconds, 3),
            "warmup_seconds": round(warmup, 3),
            "words_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
            "sentences_per_second": round(len(sentences) / seconds, 1) if seconds > 0 else None,
        },
    }

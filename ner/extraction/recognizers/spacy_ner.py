"""The spaCy recognizer: ``settings.SPACY_MODEL``'s entity recognizer, labels mapped to ours.

The pipeline is loaded lazily, once per process and model name, with only the
``ner`` component (in ``en_core_web_sm`` it has its own token-to-vector layer,
so the tagger, parser, lemmatizer and shared ``tok2vec`` are excluded: same
entities, about 40% less time).  Labels go through ``ner.labels`` (scheme
``spacy``); types without a counterpart (CARDINAL, NORP, ...) are dropped.

By default only the general labels (PER, ORG, LOC, PRODUCT) are kept: dates
and amounts come from the validated patterns, and spaCy's DATE and MONEY also
cover durations and bare numbers ("20 weeks", "the last 3 years", "45"), which
cost the merged pipeline far more precision than they add recall (measured on
the synthetic held-out set: DATE F1 0.97 from patterns alone, 0.74 with spaCy's
DATE merged in).  Pass ``labels=ALL_LABELS`` to keep them.

spaCy gives no per-entity confidence, so every span gets :data:`SPACY_SCORE`.  A model that has
learned ``NER_SPACY_VOCAB_LIMIT`` new words from the texts is loaded afresh (:mod:`.vocabulary`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from ner.extraction.recognizers import vocabulary
from ner.labels import GENERAL_LABELS, map_label
from ner.spans import Span, make_span

logger = logging.getLogger(__name__)

SPACY_SCORE = 0.7
BATCH_SIZE = 64
EXCLUDE = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")

_lock = threading.Lock()
_models: dict[str, Any] = {}
_baselines: dict[str, int] = {}  # each loaded model's vocabulary size when it was loaded


class SpacyModelMissing(RuntimeError):
    pass


def load_model(name: str) -> Any:
    """The named spaCy pipeline with only its NER component, loaded once per process."""
    with _lock:
        if name not in _models:
            import spacy

            try:
                nlp = spacy.load(name, exclude=list(EXCLUDE))
            except OSError as exc:
                raise SpacyModelMissing(
                    f"spaCy model {name!r} is not installed (SPACY_MODEL); install its package "
                    "(make install does) or remove 'spacy' from NER_RECOGNIZERS."
                ) from exc
            if "ner" not in nlp.pipe_names:
                raise SpacyModelMissing(f"spaCy model {name!r} has no 'ner' component")
            # Our own length limit (NER_MAX_TEXT_CHARS) applies before this one.
            nlp.max_length = max(nlp.max_length, 2_000_000)
            _models[name] = nlp
            _baselines[name] = vocabulary.strings(nlp)
        return _models[name]


def _renew_if_outgrown(name: str, nlp: Any) -> None:
    """Load the model afresh on its next use once it has learned too many strings (``vocabulary``)."""
    if vocabulary.outgrown(nlp, _baselines.get(name, 0)):
        with _lock:
            if _models.get(name) is nlp:
                del _models[name]
                logger.info("spaCy model %s learned %d new strings: loading it afresh", name, vocabulary.strings(nlp))


def _map(label: str) -> str | None:
    try:
        return map_label(label, "spacy")
    except KeyError:
        return None  # a type this table does not know (a custom spaCy model): dropped


class SpacyRecognizer:
    name = "spacy"

    def __init__(
        self, model_name: str | None = None, *, batch_size: int = BATCH_SIZE, labels: Iterable[str] = GENERAL_LABELS
    ) -> None:
        self._model_name = model_name
        self.batch_size = batch_size
        self.labels = frozenset(labels)

    @property
    def model_name(self) -> str:
        if self._model_name:
            return self._model_name
        from django.conf import settings

        return str(settings.SPACY_MODEL)

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        if not texts:
            return []
        name = self.model_name
        nlp = load_model(name)
        source = f"spacy:{name}"
        results: list[list[Span]] = []
        for text, doc in zip(texts, nlp.pipe(texts, batch_size=self.batch_size), strict=True):
            spans = []
            for ent in doc.ents:
                label = _map(ent.label_)
                if label is None or label not in self.labels:
                    continue
                start, end = ent.start_char, ent.end_char
                # spaCy entities sometimes end in whitespace or punctuation-only tokens: trim to the name.
                while end > start and text[end - 1].isspace():
                    end -= 1
                if end > start:
                    # spaCy's own label (GPE, FAC, ...) says more than ours; the combiner reads it.
                    spans.append(
                        make_span(text, start, end, label, SPACY_SCORE, source, meta={"spacy_label": ent.label_})
                    )
            results.append(spans)
        _renew_if_outgrown(name, nlp)
        return results

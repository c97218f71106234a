"""The learned combiner: per span, keep the tagger's or spaCy's general entity, or neither.

The fine-tuned tagger and spaCy's small pipeline are good at different things (the
uncased tagger on people and on social and customer text, spaCy on places and
organisations in edited web and news text), and neither a fixed priority nor a
per-label routing wins on every kind of text (docs/benchmarks/tagger.md). So every
general-label span either model proposes becomes a candidate, described by a few
features (which model proposed it and with what label, whether the other model
agrees, overlaps it with another label or says nothing there, the tagger's score and,
for any candidate, the tagger's probabilities over its words (``WordProbabilities``),
spaCy's own label, casing and length), and a logistic model gives the probability
that the candidate is a correct entity. Candidates are then kept greedily, most
probable first, without overlaps, down to the threshold.

The weights live in ``combiner.json`` beside this module. They were fitted by
``bench/fit_combiner.py`` on the shared development sets (UNER English-EWT dev and
WNUT-17 dev, never a test split) with the default tagger recipe, and the file
records the cross-validated figures of that fit. :func:`candidate_features` is the one
definition of the features, used by the fit and at run time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ner.labels import GENERAL_LABELS
from ner.spans import Span

if TYPE_CHECKING:
    from ner.extraction.recognizers.tagger import WordProbabilities

WEIGHTS_FILE = Path(__file__).with_name("combiner.json")
ORIGINS: tuple[str, ...] = ("tagger", "spacy", "both")
SPACY_RAW_LABELS: tuple[str, ...] = ("PERSON", "ORG", "GPE", "LOC", "FAC", "PRODUCT")


def feature_names() -> list[str]:
    names = [f"{origin}:{label}" for origin in ORIGINS for label in GENERAL_LABELS]
    names += ["tagger_score", "spacy_only:tagger_silent", "spacy_only:tagger_same_label_other_bounds"]
    names += ["spacy_only:tagger_other_label", "tagger_only:spacy_silent", "tagger_only:spacy_same_label_other_bounds"]
    names += ["tagger_only:spacy_other_label"]
    names += [f"spacy_raw:{label}" for label in SPACY_RAW_LABELS]
    names += ["title_case", "has_lower_word", "all_upper", "one_word", "two_words", "three_plus_words"]
    names += ["has_digit", "text_start", "tagger_only:score", "both:score"]
    names += ["tagger_p_entity", "tagger_p_label", "tagger_p_begin", "spacy_only:tagger_p_entity"]
    names += ["spacy_only:tagger_p_label", "bias"]
    return names


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int
    end: int
    label: str
    tagger: Span | None
    spacy: Span | None


def candidates(tagger_spans: Sequence[Span], spacy_spans: Sequence[Span]) -> list[Candidate]:
    """Every distinct (start, end, label) either model proposed, with the span(s) behind it."""
    found: dict[tuple[int, int, str], list[Span | None]] = {}
    for span in tagger_spans:
        if span.label in GENERAL_LABELS:
            found.setdefault((span.start, span.end, span.label), [None, None])[0] = span
    for span in spacy_spans:
        if span.label in GENERAL_LABELS:
            found.setdefault((span.start, span.end, span.label), [None, None])[1] = span
    return [Candidate(s, e, label, t, sp) for (s, e, label), (t, sp) in sorted(found.items())]


def candidate_features(
    text: str,
    candidate: Candidate,
    tagger_spans: Sequence[Span],
    spacy_spans: Sequence[Span],
    word_probs: WordProbabilities | None = None,
) -> list[float]:
    """The feature vector of one candidate, in :func:`feature_names` order.

    Without ``word_probs`` (a tagger that does not expose them) those features are 0.
    """
    s, e, label = candidate.start, candidate.end, candidate.label
    origin = "both" if candidate.tagger and candidate.spacy else ("tagger" if candidate.tagger else "spacy")
    out = [float(origin == o and label == lab) for o in ORIGINS for lab in GENERAL_LABELS]
    out.append(candidate.tagger.score if candidate.tagger else 0.0)

    def _other_view(others: Sequence[Span]) -> list[float]:
        near = [x for x in others if x.start < e and s < x.end]
        return [float(not near), float(any(x.label == label for x in near)), float(any(x.label != label for x in near))]

    out += _other_view(tagger_spans) if origin == "spacy" else [0.0, 0.0, 0.0]
    out += _other_view(spacy_spans) if origin == "tagger" else [0.0, 0.0, 0.0]
    raw = str(candidate.spacy.meta.get("spacy_label", "")) if candidate.spacy else ""
    out += [float(raw == name) for name in SPACY_RAW_LABELS]
    words = text[s:e].split()
    lettered = [w for w in words if any(ch.isalpha() for ch in w)]
    title_case = float(bool(lettered) and all(w[0].isupper() for w in lettered))
    out += [
        title_case,
        float(any(w[0].islower() for w in lettered)),
        float(bool(lettered) and all(w.isupper() and len(w) > 1 for w in lettered)),
        float(len(words) == 1),
        float(len(words) == 2),
        float(len(words) >= 3),
        float(any(ch.isdigit() for ch in text[s:e])),
        float(not text[:s].strip()),
    ]
    tagger_score = candidate.tagger.score if candidate.tagger else 0.0
    out += [tagger_score * float(origin == "tagger"), tagger_score * float(origin == "both")]
    entity, same, first = word_probs.over(s, e, label) if word_probs is not None else (0.0, 0.0, 0.0)
    spacy_only = float(origin == "spacy")
    out += [entity, same, first, entity * spacy_only, same * spacy_only, 1.0]
    return out


@dataclass(frozen=True)
class Combiner:
    weights: tuple[float, ...]
    threshold: float
    info: dict[str, Any]

    def probability(self, features: Sequence[float]) -> float:
        z = sum(w * x for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def combine(
        self,
        text: str,
        tagger_spans: Sequence[Span],
        spacy_spans: Sequence[Span],
        word_probs: WordProbabilities | None = None,
    ) -> list[Span]:
        """The kept general-label spans of one text (non-overlapping, start-sorted); scores are probabilities."""
        found = {(c.start, c.end, c.label): c for c in candidates(tagger_spans, spacy_spans)}
        scored = [
            (self.probability(candidate_features(text, c, tagger_spans, spacy_spans, word_probs)), key)
            for key, c in found.items()
        ]
        kept: list[Span] = []
        for p, key in keep_most_probable(scored, self.threshold):
            candidate = found[key]
            base = candidate.tagger or candidate.spacy
            assert base is not None
            kept.append(Span(*key, base.text, round(p, 4), base.source))
        return sorted(kept, key=lambda span: span.start)


def keep_most_probable(
    scored: Sequence[tuple[float, tuple[int, int, str]]], threshold: float
) -> list[tuple[float, tuple[int, int, str]]]:
    """Candidates at or above ``threshold``, most probable first, each kept unless it overlaps a kept one.

    Ties go to the earlier, then shorter, span. The one selection rule of the combiner, at run time
    and in the fit (``bench/fit_combiner.py``).
    """
    kept: list[tuple[float, tuple[int, int, str]]] = []
    for p, key in sorted((item for item in scored if item[0] >= threshold), key=lambda item: (-item[0], item[1])):
        if not any(key[0] < k[1] and k[0] < key[1] for _, k in kept):
            kept.append((p, key))
    return kept


@lru_cache(maxsize=1)
def load_combiner(path: str = str(WEIGHTS_FILE)) -> Combiner:
    data = json.loads(Path(path).read_text())
    if data.get("features") != feature_names():
        raise ValueError(f"{path}: its feature list does not match this code's; refit it with bench/fit_combiner.py")
    return Combiner(tuple(float(w) for w in data["weights"]), float(data["threshold"]), data.get("fit", {}))

"""The gazetteer recognizer: known names (``GazetteerTerm`` rows) matched with spaCy's ``PhraseMatcher``.

Terms are tokenized with a blank English pipeline (tokenizer only, no model), so
building and matching are fast.  Case-insensitive terms match on the ``LOWER``
attribute, the others on the exact text.  Where matches overlap, the longest
wins ("Acme Cloud Pro" over "Acme").  The matcher is cached per process and
rebuilt when the terms change (one aggregate query per call); its tokenizer is built afresh once
it has learned ``NER_SPACY_VOCAB_LIMIT`` new words from the texts (:mod:`.vocabulary`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ner.extraction.recognizers import freshness, vocabulary
from ner.spans import Span, make_span

GAZETTEER_SCORE = 0.85
BATCH_SIZE = 256


@dataclass(frozen=True)
class _Built:
    """A blank English tokenizer and the two phrase matchers built on its vocabulary."""

    nlp: Any
    exact: Any  # PhraseMatcher on ORTH
    lower: Any  # PhraseMatcher on LOWER
    baseline: int  # the vocabulary's size once the terms were added


class _Matcher:
    def __init__(self, terms: Iterable[tuple[str, str, bool]]) -> None:
        self.terms = [(label, term.strip(), ci) for label, term, ci in terms if term.strip()]
        self.size = len(self.terms)
        self.built = self._build()

    def _build(self) -> _Built:
        import spacy
        from spacy.matcher import PhraseMatcher

        nlp = spacy.blank("en")
        exact, lower = PhraseMatcher(nlp.vocab, attr="ORTH"), PhraseMatcher(nlp.vocab, attr="LOWER")
        for label, term, case_insensitive in self.terms:
            (lower if case_insensitive else exact).add(label, [nlp.make_doc(term)])
        return _Built(nlp, exact, lower, vocabulary.strings(nlp))

    def match(self, texts: Sequence[str]) -> list[list[Span]]:
        built = self.built  # one set of objects for the whole call, even if another thread renews them
        results: list[list[Span]] = []
        for text, doc in zip(texts, built.nlp.pipe(texts, batch_size=BATCH_SIZE), strict=True):
            found: list[tuple[int, int, str]] = []
            for matcher in (built.exact, built.lower):
                for match_id, start, end in matcher(doc):
                    span = doc[start:end]
                    found.append((span.start_char, span.end_char, built.nlp.vocab.strings[match_id]))
            results.append(_longest_first(text, found))
        if vocabulary.outgrown(built.nlp, built.baseline):
            self.built = self._build()  # the words of the texts read so far go with the old vocabulary
        return results


def _longest_first(text: str, found: list[tuple[int, int, str]]) -> list[Span]:
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0], f[2]))
    kept: list[tuple[int, int, str]] = []
    for start, end, label in found:
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, label))
    kept.sort()
    return [make_span(text, s, e, label, GAZETTEER_SCORE, "gazetteer") for s, e, label in kept]


_lock = threading.Lock()
_cache: dict[str, Any] = {"key": None, "matcher": None}


def _database_matcher() -> _Matcher:
    from django.db.models import Count, Max, Q, Sum
    from django.db.models.functions import Length

    from ner.models import GazetteerTerm

    with _lock:
        if not freshness.due(_cache) and _cache["key"] is not None:
            cached: _Matcher = _cache["matcher"]
            return cached
    # GazetteerTerm has no updated_at: this summary changes on any add, delete, rename or toggle
    # (a rename to a term of the same length in the same row is the one edit it can miss).
    key = tuple(
        GazetteerTerm.objects.aggregate(
            n=Count("id"),
            last=Max("id"),
            chars=Sum(Length("term")),
            enabled=Count("id", filter=Q(enabled=True)),
            ci=Count("id", filter=Q(case_insensitive=True)),
            newest=Max("created_at"),  # ids can be reused (SQLite after a delete); creation times are not
        ).values()
    )
    with _lock:
        if _cache["key"] != key:
            rows = GazetteerTerm.objects.filter(enabled=True).values_list("label", "term", "case_insensitive")
            _cache["matcher"] = _Matcher(rows)
            _cache["key"] = key
        matcher: _Matcher = _cache["matcher"]
        return matcher


def clear_cache() -> None:
    with _lock:
        _cache.update(key=None, matcher=None, checked_at=None)


class GazetteerRecognizer:
    """Literal matches of known terms; from the database unless ``terms`` are given."""

    name = "gazetteer"

    def __init__(self, terms: Sequence[Mapping[str, Any] | tuple[str, str, bool]] | None = None) -> None:
        self._fixed: _Matcher | None = None
        self._terms = terms

    def _matcher(self) -> _Matcher:
        if self._terms is None:
            return _database_matcher()
        if self._fixed is None:
            rows = [
                (str(t["label"]), str(t["term"]), bool(t.get("case_insensitive", True)))
                if isinstance(t, Mapping)
                else t
                for t in self._terms
            ]
            self._fixed = _Matcher(rows)
        return self._fixed

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        matcher = self._matcher()
        if matcher.size == 0:
            return [[] for _ in texts]
        return matcher.match(texts)


DEMO_TERMS: tuple[tuple[str, str], ...] = (
    ("PRODUCT", "Acme Cloud Pro"),
    ("PRODUCT", "Acme Cloud"),
    ("PRODUCT", "SmartHome Hub"),
    ("PRODUCT", "SmartHome Hub Mini"),
    ("PRODUCT", "Nimbus X2"),
    ("PRODUCT", "Nimbus X2 Max"),
    ("PRODUCT", "AirPods Pro"),
    ("PRODUCT", "Galaxy Buds"),
    ("PRODUCT", "Kindle Paperwhite"),
    ("ORG", "Acme Corp"),
    ("ORG", "DHL Express"),
    ("ORG", "FedEx"),
    ("ORG", "UPS"),
    ("ORG", "PayPal"),
)


def seed_demo_gazetteer(say: Any) -> None:
    """Demo gazetteer terms (a few products and carriers)."""
    # Acronyms like UPS are matched exactly, so "ups and downs" is not a carrier.
    _seed_terms([(label, term, not term.isupper()) for label, term in DEMO_TERMS], "gazetteer term", say)


def seed_parcel_carriers(say: Any) -> None:
    """Parcel carriers and postal services as gazetteer organisations (switch any off in the admin)."""
    from ner.extraction.recognizers.carriers import carrier_terms

    _seed_terms(carrier_terms(), "carrier", say)


def seed_country_names(say: Any) -> None:
    """Country names of two or more words as gazetteer places (switch any off in the admin)."""
    from ner.extraction.recognizers.countries import country_terms

    _seed_terms(country_terms(), "country name", say)


def _seed_terms(terms: Sequence[tuple[str, str, bool]], what: str, say: Any) -> None:
    """Add the terms not stored yet (an administrator's edits and switched-off terms stay as they are)."""
    from ner.models import GazetteerTerm

    stored = set(GazetteerTerm.objects.values_list("label", "term"))
    new = [
        GazetteerTerm(label=label, term=term, case_insensitive=ci)
        for label, term, ci in terms
        if (label, term) not in stored
    ]
    GazetteerTerm.objects.bulk_create(new, ignore_conflicts=True)
    say(f"  {len(new)} {what}(s) added, {len(terms) - len(new)} already present")

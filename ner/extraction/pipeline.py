"""Run the enabled recognizers on a batch of texts and merge their spans into one list per text.

Recognizers: ``patterns`` (built-in regexes with validators), ``rules`` (admin
rules under RE2), ``gazetteer`` (known terms), ``spacy`` and ``tagger`` (the
active fine-tuned model, used only when one is ready).  The default set is
``settings.NER_RECOGNIZERS``; a call can name its own.

Merge policy (:func:`merge_spans`).  Overlapping candidates are resolved
greedily: the best-ranked candidate is kept and every candidate overlapping it
is dropped, then the next, and so on.  Ranking, first difference wins:

==== ============================================================ ================================
rank candidate                                                    why
==== ============================================================ ================================
1    validated pattern spans (Luhn card, IBAN checksum,           a checksum or parser confirmed
     phonenumbers, ipaddress, e-mail/URL syntax, real calendar    the value; models mislabel IDs
     date, parsed money amount)
2    admin-rule spans with an identifier label (anything but      the rule passed its own examples
     PER, ORG, LOC, PRODUCT), e.g. ORDER_ID                       and counter-examples on save;
                                                                  models split or mislabel IDs
3    tagger spans                                                 fine-tuned on our domain
4    spaCy and gazetteer spans                                    general-purpose model; term list
5    everything else: unvalidated patterns (relative dates),      regex shape only
     rules with a general label
==== ============================================================ ================================

Within a rank: higher score, then longer span, then earlier start, then source
name (so the result never depends on recognizer order).  One exception to the ranks: a
known name, that is a gazetteer term (a carrier, a country, the company's products) or an admin
rule's match with a general label (the default street-address rules), that covers a model's span
replaces it, whatever its label: ``Post`` (ORG) inside ``An Post``, ``Chronopost`` (PRODUCT),
``H.No`` inside ``H.No. 35\nParsa Marg`` (:func:`known_names_first`).  So on identifiers a
validated pattern always beats a model, and a model span overlapping a
validated identifier is dropped, while a model beats an unvalidated pattern.
Before any ranking, a candidate without a letter or digit (an emoji, bare
punctuation) is dropped: :func:`has_word_character`; so is a model's span made only
of function words ("The"): :func:`could_be_a_name`.

General labels (PER, ORG, LOC, PRODUCT) when a tagger runs: ``NER_GENERAL_MERGE``.
``combiner`` (the default) runs spaCy and lets the learned combiner
(:mod:`ner.extraction.combiner`) keep, per span, the tagger's entity, spaCy's, or neither;
the kept spans then enter the merge above at their model's rank.  spaCy runs on every text,
beside the tagger in a thread of its own (``NER_PARALLEL_SPACY``); with ``NER_SPACY_UNSURE_MARGIN``
above 0 it runs after the tagger, only on the texts with a word whose most likely type the tagger
gave less than 1 minus the margin (``WordProbabilities.unsure``), and a text the tagger was sure
of keeps the tagger's spans (0.02: 24-57% of the dev sets' texts, no change in their F1; faster
in batches, slower one message at a time: docs/benchmarks/pipelines.md).
``tagger`` skips spaCy (the tagger alone owns general labels: the fastest); ``union`` ranks both
as in the table, and is also what ``combiner`` does for a tagger whose held-out F1 is under
``NER_COMBINER_MIN_TAGGER_F1``.
With no tagger, spaCy is the general-entity model whatever the setting.

The models read each text with the identifiers the merge keeps whatever they find (ranks 1 and 2:
:func:`identifiers_kept`) replaced by stand-in words, so the patterns and rules run first and spaCy
starts after them; what the models find maps back to the original offsets (:mod:`ner.extraction.stand_ins`,
``NER_IDENTIFIER_STAND_INS``).

Before any of this, a model's spans go through :func:`model_spans`: cut at a line break
(:func:`first_line`), edges repaired (:mod:`ner.extraction.boundaries`), and dropped when they hold
no letter or digit.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ner import device
from ner.extraction.boundaries import extend_address, extend_company, repair_span, split_span
from ner.extraction.stand_ins import ModelView, model_view, word_probabilities_back
from ner.labels import GENERAL_LABELS
from ner.spans import Recognizer, Span

logger = logging.getLogger(__name__)

RECOGNIZER_NAMES: tuple[str, ...] = ("patterns", "rules", "gazetteer", "spacy", "tagger")
PIPELINES: dict[str, tuple[str, ...]] = {
    "rules": ("patterns", "rules", "gazetteer"),
    "spacy": ("spacy",),
    "tagger": ("tagger",),
    "merged": ("patterns", "rules", "gazetteer", "spacy", "tagger"),
}
PIPELINE_NAMES: tuple[str, ...] = tuple(PIPELINES)


SPACY_BESIDE_TAGGER = "a tagger runs and owns the general labels (NER_GENERAL_MERGE=tagger)"
SPACY_NOT_NEEDED = "the tagger was sure of every word (NER_SPACY_UNSURE_MARGIN)"


class TextTooLong(ValueError):
    """A text is longer than ``settings.NER_MAX_TEXT_CHARS``."""


# --- merging -----------------------------------------------------------------------------


def merge_rank(span: Span) -> int:
    """The span's rank in the merge policy (1 is best); see the module docstring."""
    kind = span.kind
    if kind == "pattern" and span.validated:
        return 1
    if kind == "rule" and span.label not in GENERAL_LABELS:
        return 2
    if kind == "tagger":
        return 3
    if kind in {"spacy", "gazetteer"}:
        return 4
    return 5


def merge_key(span: Span) -> tuple[int, float, int, int, str, str, bool]:
    return (
        merge_rank(span),
        -span.score,
        -(span.end - span.start),
        span.start,
        span.source,
        span.label,
        not span.validated,
    )


# Words that are never a whole name: a span made only of them ("The" at the start of a sentence,
# which the uncased tagger now and then calls a place) is dropped.
FUNCTION_WORDS = frozenset({"the", "a", "an", "this", "that", "these", "those", "my", "our", "your", "their"})


def has_word_character(text: str) -> bool:
    """Whether a span holds a letter or digit: one made only of emoji, symbols or punctuation
    (``🙏``, which spaCy's small model calls an ORG) is never an entity, whoever proposed it."""
    return any(ch.isalnum() for ch in text)


# Nationality and regional adjectives and their plurals ("Israeli air strikes", "the Palestinians"):
# a people, not a place or an organisation, and in none of our labels; the uncased tagger now and
# then calls one a place.  Only a span that is one such word alone is dropped ("Indian Ocean" stays).
DEMONYMS = frozenset(
    word
    for stem in """
    american british english scottish welsh irish french german italian spanish portuguese dutch belgian swiss
    austrian polish czech slovak hungarian romanian bulgarian greek turkish russian ukrainian belarusian swedish
    norwegian danish finnish icelandic estonian latvian lithuanian serbian croatian bosnian slovenian albanian
    chinese japanese korean taiwanese indian pakistani bangladeshi afghan iranian iraqi syrian lebanese israeli
    palestinian jordanian saudi yemeni emirati egyptian libyan moroccan algerian tunisian nigerian kenyan
    ethiopian somali sudanese ghanaian mexican canadian brazilian argentine argentinian chilean colombian peruvian
    venezuelan cuban australian vietnamese thai filipino indonesian malaysian european asian african arab latino
    """.split()
    for word in (stem, stem + "s")
)


def could_be_a_name(text: str) -> bool:
    """Whether a model's span may be an entity: it holds a letter or digit, is not only function words,
    and is not a nationality word alone."""
    words = text.split()
    return (
        has_word_character(text)
        and not all(word.lower() in FUNCTION_WORDS for word in words)
        and not (len(words) == 1 and words[0].lower() in DEMONYMS)
    )


# Labels whose names never continue on the next line (a signature's "Anna Berg\nMobile: ..."); a
# place may (a postal address).
ONE_LINE_LABELS = frozenset({"PER", "ORG", "PRODUCT"})
MODEL_RECOGNIZERS = frozenset({"tagger", "spacy"})


def first_line(span: Span) -> Span:
    """A model's person, organisation or product span cut at its first line break (trailing spaces dropped)."""
    cut = span.text.find("\n")
    if span.label not in ONE_LINE_LABELS or cut < 0:
        return span
    text = span.text[:cut].rstrip()
    return dataclasses.replace(span, end=span.start + len(text), text=text)


def model_spans(text: str, spans: Sequence[Span]) -> list[Span]:
    """A model's spans of ``text`` with their edges repaired (:func:`first_line`, :mod:`ner.extraction.boundaries`)
    and without the ones that cannot be a name (:func:`could_be_a_name`): what the merge and the combiner see."""
    repaired = [part for span in spans for part in split_span(repair_span(first_line(span), text), text)]
    return [span for span in repaired if could_be_a_name(span.text)]


def grow_kept_spans(text: str, spans: Sequence[Span]) -> list[Span]:
    """A model's chosen spans, a country filed as a place (:func:`a_country_is_a_place`), grown over a
    company designator after them (:func:`extend_company`) and,
    for a street, over its house number (:func:`extend_address`), without the fragments that growth
    covered ("45" inside "Strada Montesano, 45").

    It runs after the combiner, which judges names and would take a number in a span as a sign of
    no name."""
    grown = [extend_address(extend_company(a_country_is_a_place(span), text), text) for span in spans]
    if all(a is b for a, b in zip(grown, spans, strict=True)):
        return list(spans)
    return [span for span in grown if not any(_inside(span, other) for other in grown)]


def a_country_is_a_place(span: Span) -> Span:
    """A model's organisation whose whole text is a country's name ("Israel said no") as a place: the
    corpora file a country as LOC even where it acts (``countries.one_word_countries``)."""
    from ner.extraction.recognizers.countries import one_word_countries

    if span.label == "ORG" and span.text.lower() in one_word_countries():
        return dataclasses.replace(span, label="LOC")
    return span


def _within(span: Span, outer: Span) -> bool:
    """Whether ``span`` lies within ``outer`` (the same bounds count)."""
    return outer.start <= span.start and span.end <= outer.end


def _inside(span: Span, other: Span) -> bool:
    """Whether ``span`` lies within ``other`` and is shorter."""
    return _within(span, other) and other.end - other.start > span.end - span.start


def is_known_name(span: Span) -> bool:
    """A gazetteer term, or an admin rule's match with a general label (a street address)."""
    return span.kind == "gazetteer" or (span.kind == "rule" and span.label in GENERAL_LABELS)


def known_names_first(candidates: Sequence[Span]) -> list[Span]:
    """``candidates`` without the model spans that lie within a known name (see the merge policy), and
    without a product category from the gazetteer written right after a model's product name
    ("Vela Flex 8 smart watch": the product is "Vela Flex 8"; "smart watch" says what it is)."""
    known = [span for span in candidates if is_known_name(span)]
    if not known:
        return list(candidates)
    products = {span.end for span in candidates if span.kind in MODEL_RECOGNIZERS and span.label == "PRODUCT"}

    def inside_known(span: Span) -> bool:
        return span.kind in MODEL_RECOGNIZERS and any(_within(span, k) for k in known)

    def category_after_product(span: Span) -> bool:
        return (
            span.kind == "gazetteer" and span.label == "PRODUCT" and span.text.islower() and span.start - 1 in products
        )

    return [span for span in candidates if not inside_known(span) and not category_after_product(span)]


def merge_spans(candidates: Sequence[Span]) -> list[Span]:
    """Non-overlapping, start-sorted spans chosen from ``candidates`` by the merge policy."""
    starts: list[int] = []  # kept spans, sorted by start (they never overlap, so ends are sorted too)
    kept: list[Span] = []
    for span in sorted(candidates, key=merge_key):
        i = bisect.bisect_right(starts, span.start)
        if i > 0 and kept[i - 1].end > span.start:
            continue  # overlaps the kept span starting at or before it
        if i < len(kept) and kept[i].start < span.end:
            continue  # overlaps the kept span starting after it
        starts.insert(i, span.start)
        kept.insert(i, span)
    return kept


# --- recognizers ---------------------------------------------------------------------------

_instances: dict[str, Recognizer] = {}


def _recognizer(name: str) -> Recognizer:
    """The process-wide instance of a non-tagger recognizer (each caches its own compiled state)."""
    if name not in _instances:
        if name == "patterns":
            from ner.extraction.recognizers.patterns import PatternRecognizer

            _instances[name] = PatternRecognizer()
        elif name == "rules":
            from ner.extraction.recognizers.rules import RuleRecognizer

            _instances[name] = RuleRecognizer()
        elif name == "gazetteer":
            from ner.extraction.recognizers.gazetteer import GazetteerRecognizer

            _instances[name] = GazetteerRecognizer()
        elif name == "spacy":
            from ner.extraction.recognizers.spacy_ner import SpacyRecognizer

            _instances[name] = SpacyRecognizer()
        else:
            raise ValueError(f"unknown recognizer {name!r}")
    return _instances[name]


def _tagger(version: str | None) -> tuple[Recognizer | None, str]:
    """The tagger recognizer, or None and why it is skipped."""
    from ner.extraction.recognizers.tagger import get_tagger  # imports torch lazily, inside

    tagger = get_tagger(version)
    if tagger is None:
        return None, f"no ready tagger model{f' named {version!r}' if version else ' is active'}"
    return tagger, ""


def resolve_recognizers(recognizers: Iterable[str] | None = None) -> tuple[str, ...]:
    """The recognizer names to run, in canonical order; unknown names raise ``ValueError``."""
    if recognizers is None:
        wanted = list(getattr(settings, "NER_RECOGNIZERS", RECOGNIZER_NAMES))
    elif isinstance(recognizers, str):
        wanted = [part.strip() for part in recognizers.split(",") if part.strip()]
    else:
        wanted = list(recognizers)
    unknown = [name for name in wanted if name not in RECOGNIZER_NAMES]
    if unknown:
        raise ValueError(f"unknown recognizer(s) {', '.join(map(repr, unknown))}; known: {', '.join(RECOGNIZER_NAMES)}")
    return tuple(name for name in RECOGNIZER_NAMES if name in wanted)


@dataclass
class PipelineResult:
    spans: list[list[Span]]
    used_recognizers: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # recognizer -> why it did not run
    tagger_version: str | None = None  # name of the tagger ModelVersion used, if any
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spans": [[s.as_dict() for s in spans] for spans in self.spans],
            "used_recognizers": list(self.used_recognizers),
            "skipped": dict(self.skipped),
            "tagger_version": self.tagger_version,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


def length_problem(text: str) -> str | None:
    """Why ``text`` is too long for the pipeline (``NER_MAX_TEXT_CHARS``), or ``None``: the one home of that limit."""
    limit = int(settings.NER_MAX_TEXT_CHARS)
    if len(text) <= limit:
        return None
    return f"{len(text)} characters long; the limit is {limit} (NER_MAX_TEXT_CHARS). Split it into smaller documents."


def check_texts(texts: Sequence[str]) -> None:
    """Raise ``TypeError`` for a non-string and :class:`TextTooLong` for an over-long text."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text #{i} is a {type(text).__name__}, not a string")
        if problem := length_problem(text):
            raise TextTooLong(f"text #{i} is {problem}")


def run_pipeline(
    texts: Sequence[str], *, recognizers: Iterable[str] | None = None, tagger_version: str | None = None
) -> PipelineResult:
    """Like :func:`extract`, also saying which recognizers ran, which were skipped and how long each took."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    texts = list(texts)
    check_texts(texts)
    names = resolve_recognizers(recognizers)
    # Empty texts give empty results without reaching any recognizer.
    todo = [i for i, text in enumerate(texts) if text]
    batch = [texts[i] for i in todo]
    used: list[str] = []
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    tagger_name: str | None = None
    tagger, why_no_tagger = _tagger(tagger_version) if "tagger" in names else (None, "")
    general_merge = str(settings.NER_GENERAL_MERGE)
    by_recognizer: dict[str, list[list[Span]]] = {}
    word_probs: list[Any] | None = None
    # With the combiner, spaCy may run only on the texts where the tagger is unsure of a word: after it.
    margin = float(settings.NER_SPACY_UNSURE_MARGIN)
    after_tagger = (
        "spacy" in names
        and tagger is not None
        and general_merge == "combiner"
        and margin > 0
        and hasattr(tagger, "analyse")
        and _trusted_for_combining(tagger)
    )
    # Otherwise spaCy, when it runs beside a tagger, starts in its own thread as soon as the identifiers are
    # known (patterns and rules, which run first); the tagger leaves it a core.
    spacy_beside = (
        "spacy" in names
        and tagger is not None
        and general_merge != "tagger"
        and not after_tagger
        and bool(batch)
        and _spacy_beside()
    )
    beside: Future[tuple[list[list[Span]], float]] | None = None
    # What the models read: the texts with the identifiers the merge keeps replaced by stand-ins (stand_ins).
    views: list[ModelView] = [ModelView(text, text) for text in batch]

    def start_models() -> None:
        nonlocal views, beside
        if settings.NER_IDENTIFIER_STAND_INS:
            views = _stand_in_views(batch, _by_text(by_recognizer, len(batch)))
        if spacy_beside:
            beside = _spacy_pool().submit(_timed, _recognizer("spacy").recognize, [v.text for v in views])

    def found_by(name: str, found: list[list[Span]]) -> list[list[Span]]:
        if len(found) != len(batch):
            raise RuntimeError(f"recognizer {name!r} returned {len(found)} results for {len(batch)} texts")
        if name in MODEL_RECOGNIZERS:
            return [
                model_spans(view.original, view.spans_back(spans)) for view, spans in zip(views, found, strict=True)
            ]
        return [[span for span in spans if has_word_character(span.text)] for spans in found]

    models_started = False
    for name in names:
        if not models_started and name not in IDENTIFIER_RECOGNIZERS and (spacy_beside or name in MODEL_RECOGNIZERS):
            start_models()
            models_started = True
        if name == "tagger":
            if tagger is None:
                skipped[name] = why_no_tagger
                continue
            recognizer: Recognizer = tagger
            tagger_name = getattr(tagger, "version_name", None)
        elif name == "spacy" and tagger is not None and general_merge == "tagger":
            skipped[name] = SPACY_BESIDE_TAGGER
            continue
        else:
            recognizer = _recognizer(name)
        used.append(name)
        if not batch:
            continue
        if name == "spacy" and (beside is not None or after_tagger):
            continue  # running already, or to run after the tagger
        started = time.perf_counter()
        with _cores_reserved() if beside is not None else contextlib.nullcontext():
            model_texts = [view.text for view in views] if name in MODEL_RECOGNIZERS else batch
            if name == "tagger" and general_merge == "combiner" and hasattr(recognizer, "analyse"):
                analysed = recognizer.analyse(model_texts)  # the combiner also reads the tagger's word probabilities
                found = [spans for spans, _ in analysed]
                word_probs = [word_probabilities_back(v, probs) for v, (_, probs) in zip(views, analysed, strict=True)]
            else:
                found = recognizer.recognize(model_texts)
        timings[name] = (time.perf_counter() - started) * 1000
        by_recognizer[name] = found_by(name, found)
    if beside is not None:
        found, timings["spacy"] = beside.result()
        by_recognizer["spacy"] = found_by("spacy", found)
    combine: list[int] | None = None  # the texts to combine (None: all)
    if after_tagger and batch:
        combine = [i for i, probs in enumerate(word_probs or []) if probs is not None and probs.unsure(margin)]
        if combine:
            started = time.perf_counter()
            found = [[] for _ in batch]
            for i, spans in zip(combine, _recognizer("spacy").recognize([views[i].text for i in combine]), strict=True):
                found[i] = spans
            timings["spacy"] = (time.perf_counter() - started) * 1000
            by_recognizer["spacy"] = found_by("spacy", found)
        else:
            used.remove("spacy")
            skipped["spacy"] = SPACY_NOT_NEEDED
    # A weak tagger's silence says nothing: then both models' spans go to the merge (union).
    if (
        general_merge == "combiner"
        and "tagger" in by_recognizer
        and "spacy" in by_recognizer
        and _trusted_for_combining(tagger)
    ):
        started = time.perf_counter()
        _combine_general(batch, by_recognizer, word_probs, combine)
        timings["combiner"] = (time.perf_counter() - started) * 1000
    for name in sorted(MODEL_RECOGNIZERS & by_recognizer.keys()):
        by_recognizer[name] = [
            grow_kept_spans(text, spans) for text, spans in zip(batch, by_recognizer[name], strict=True)
        ]
    results: list[list[Span]] = [[] for _ in texts]
    for i, spans in zip(todo, _by_text(by_recognizer, len(batch)), strict=True):
        results[i] = merge_spans(known_names_first(spans))
    return PipelineResult(results, tuple(used), skipped, tagger_name, timings)


# The recognizers whose identifiers the models need not read (stand_ins): they run before the models.
IDENTIFIER_RECOGNIZERS = frozenset({"patterns", "rules"})


def identifiers_kept(spans: Sequence[Span]) -> list[Span]:
    """The identifiers among ``spans`` that the merge will keep whatever the models find: validated patterns
    and rules with an identifier label (ranks 1 and 2), without those that lose to another of them."""
    return merge_spans([span for span in spans if merge_rank(span) <= 2])


def model_views(texts: Sequence[str]) -> list[ModelView]:
    """``texts`` as :func:`run_pipeline` gives them to the models, for tools that run the models themselves
    (``bench/fit_combiner.py``): identifiers replaced by stand-ins unless ``NER_IDENTIFIER_STAND_INS`` is off."""
    if not settings.NER_IDENTIFIER_STAND_INS:
        return [ModelView(text, text) for text in texts]
    return _stand_in_views(texts, run_pipeline(texts, recognizers=IDENTIFIER_RECOGNIZERS).spans)


def _stand_in_views(texts: Sequence[str], found: Sequence[Sequence[Span]]) -> list[ModelView]:
    """Each text with the identifiers the merge keeps among the spans found in it replaced by stand-ins."""
    return [model_view(text, identifiers_kept(spans)) for text, spans in zip(texts, found, strict=True)]


def _by_text(by_recognizer: dict[str, list[list[Span]]], n: int) -> list[list[Span]]:
    """The spans every recognizer so far found in each of ``n`` texts."""
    out: list[list[Span]] = [[] for _ in range(n)]
    for found in by_recognizer.values():
        for bucket, spans in zip(out, found, strict=True):
            bucket.extend(spans)
    return out


_SPACY_POOL: ThreadPoolExecutor | None = None
_SPACY_POOL_LOCK = threading.Lock()


def _spacy_beside() -> bool:
    """Whether spaCy runs in its own thread beside the other recognizers (``NER_PARALLEL_SPACY``, 2+ cores)."""
    return bool(settings.NER_PARALLEL_SPACY) and device.usable_cores() > 1


def _spacy_pool() -> ThreadPoolExecutor:
    """One thread per process for spaCy: its calls never overlap (its vocabulary grows as it reads)."""
    global _SPACY_POOL
    with _SPACY_POOL_LOCK:
        if _SPACY_POOL is None:
            _SPACY_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spacy")
        return _SPACY_POOL


def _cores_reserved() -> contextlib.AbstractContextManager[None]:
    from ner.extraction.recognizers.tagger_onnx import cores_reserved

    return cores_reserved(1)


def _timed(recognize: Any, batch: list[str]) -> tuple[list[list[Span]], float]:
    started = time.perf_counter()
    found = recognize(batch)
    return found, (time.perf_counter() - started) * 1000


def _trusted_for_combining(tagger: Recognizer | None) -> bool:
    """Whether the tagger is good enough for the combiner, whose weights read its silence as evidence.

    A version whose held-out F1 (``metrics.json``) is below ``NER_COMBINER_MIN_TAGGER_F1`` (a
    default model trained for a minute on a busy machine, say) would have the combiner drop
    spaCy's entities where the tagger found nothing; such a version is merged as ``union``.
    """
    dev_f1 = getattr(tagger, "dev_f1", None)
    return dev_f1 is None or dev_f1 >= float(settings.NER_COMBINER_MIN_TAGGER_F1)


def _combine_general(
    texts: Sequence[str],
    by_recognizer: dict[str, list[list[Span]]],
    word_probs: Sequence[Any] | None,
    only: Sequence[int] | None = None,
) -> None:
    """Replace the tagger's and spaCy's general-label spans by the combiner's choice (in place).

    ``only``: the indices of the texts spaCy ran on; the others keep the tagger's spans.
    """
    from ner.extraction.combiner import load_combiner

    combiner = load_combiner()
    tagged, found = by_recognizer["tagger"], by_recognizer["spacy"]
    for i in range(len(texts)) if only is None else only:
        text = texts[i]
        general = [span for span in tagged[i] if span.label in GENERAL_LABELS]
        others = [span for span in tagged[i] if span.label not in GENERAL_LABELS]
        spacy_general = [span for span in found[i] if span.label in GENERAL_LABELS]
        probs = word_probs[i] if word_probs is not None else None
        tagged[i] = others + combiner.combine(text, general, spacy_general, probs)
        found[i] = [span for span in found[i] if span.label not in GENERAL_LABELS]


def extract(
    texts: Sequence[str], *, recognizers: Iterable[str] | None = None, tagger_version: str | None = None
) -> list[list[Span]]:
    """One non-overlapping, start-sorted span list per text.

    ``recognizers`` defaults to ``settings.NER_RECOGNIZERS`` (a comma-separated
    string is accepted too); the tagger runs only when a ready model exists
    (else it is skipped, see :func:`run_pipeline`).  Empty text gives ``[]``;
    a text over ``NER_MAX_TEXT_CHARS`` raises :class:`TextTooLong` before any
    recognizer runs.
    """
    return run_pipeline(texts, recognizers=recognizers, tagger_version=tagger_version).spans


def used_recognizers(recognizers: Iterable[str] | None = None, *, tagger_version: str | None = None) -> tuple[str, ...]:
    """The recognizers :func:`extract` would run now (the tagger when a ready one exists; then spaCy only if asked)."""
    names = resolve_recognizers(recognizers)
    if "tagger" not in names:
        return names
    if _tagger(tagger_version)[0] is None:
        return tuple(n for n in names if n != "tagger")
    if settings.NER_GENERAL_MERGE == "tagger":
        return tuple(n for n in names if n != "spacy")
    return names

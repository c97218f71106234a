"""The models read identifiers as stand-in words (ner.extraction.stand_ins), and their findings map back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from ner.extraction import pipeline
from ner.extraction.recognizers.spacy_ner import SpacyRecognizer
from ner.extraction.recognizers.tagger import WordProbabilities, split_words
from ner.extraction.stand_ins import ModelView, model_view
from ner.spans import Span, make_span

TEXT = "Hi, Maria Lopez here, maria.lopez@example.com, card 4111 1111 1111 1111 for order in Madrid."


def at(text: str, piece: str, label: str, source: str, *, validated: bool = False) -> Span:
    start = text.index(piece)
    return make_span(text, start, start + len(piece), label, 0.9, source, validated=validated)


def test_each_identifier_becomes_one_word_and_offsets_map_back() -> None:
    email = at(TEXT, "maria.lopez@example.com", "EMAIL", "pattern:email", validated=True)
    card = at(TEXT, "4111 1111 1111 1111", "CREDIT_CARD", "pattern:card", validated=True)
    view = model_view(TEXT, [card, email])
    assert view.text == "Hi, Maria Lopez here, email, card card for order in Madrid."
    # Every word outside a stand-in maps back to the same characters.
    for word, start, end in split_words(view.text):
        if not view.touches_stand_in(start, end):
            assert TEXT[view.position(start) : view.position(end, end=True)] == word
    # The stand-in words cover their identifiers.
    start = view.text.index("email")
    assert (view.position(start), view.position(start + 5, end=True)) == (email.start, email.end)


def test_spans_touching_a_stand_in_are_dropped_and_the_others_move_back() -> None:
    card = at(TEXT, "4111 1111 1111 1111", "CREDIT_CARD", "pattern:card", validated=True)
    view = model_view(TEXT, [card])
    found = [
        at(view.text, "Madrid", "LOC", "tagger:t"),
        at(view.text, "Maria Lopez", "PER", "tagger:t"),
        at(view.text, "card card", "PRODUCT", "tagger:t"),
    ]
    back = view.spans_back(found)
    assert [(s.text, s.label, s.start) for s in back] == [
        ("Madrid", "LOC", TEXT.index("Madrid")),
        ("Maria Lopez", "PER", TEXT.index("Maria")),
    ]


def test_a_stand_in_inside_a_word_stays_a_word_of_its_own() -> None:
    text = "refABC-123x done"
    rule = make_span(text, 3, 10, "ORDER_ID", 0.9, "rule:order")
    view = model_view(text, [rule])
    assert view.text == "ref number x done"
    assert view.position(view.text.index("done")) == text.index("done")
    assert view.spans_back([at(view.text, "done", "LOC", "t")])[0].text == "done"


def test_no_identifier_no_copy() -> None:
    view = model_view(TEXT, [])
    assert view == ModelView(TEXT, TEXT)
    spans = [at(TEXT, "Madrid", "LOC", "t")]
    assert view.spans_back(spans) == spans


class RecordingModels:
    """A fake tagger and spaCy that record what they read and find "Madrid" wherever it is."""

    def __init__(self) -> None:
        self.read: dict[str, list[str]] = {"tagger": [], "spacy": []}

    def found(self, who: str, texts: Sequence[str]) -> list[list[Span]]:
        self.read[who].extend(texts)
        out = []
        for text in texts:
            spans = [at(text, "Madrid", "LOC", f"{who}:test")] if "Madrid" in text else []
            if "email" in text.split(", "):  # a model that would have called the stand-in a product
                spans.append(at(text, "email", "PRODUCT", f"{who}:test"))
            out.append(spans)
        return out


class ReadingTagger:
    name = "tagger"
    version_name = "tagger-test"

    def __init__(self, models: RecordingModels) -> None:
        self.models = models

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        return self.models.found("tagger", texts)

    def analyse(self, texts: Sequence[str]) -> list[tuple[list[Span], WordProbabilities]]:
        out = []
        for text, spans in zip(texts, self.recognize(texts), strict=True):
            words = split_words(text)
            probs = np.zeros((len(words), 3), dtype=np.float32)
            probs[:, 0] = 1.0
            for k, (_, start, end) in enumerate(words):  # what it found, it was sure of
                if any(span.start <= start and end <= span.end for span in spans):
                    probs[k] = (0.0, 1.0, 0.0)
            out.append((spans, WordProbabilities(("O", "B-LOC", "I-LOC"), tuple((s, e) for _, s, e in words), probs)))
        return out


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> RecordingModels:
    recording = RecordingModels()
    monkeypatch.setattr(SpacyRecognizer, "recognize", lambda self, texts: recording.found("spacy", texts))
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (ReadingTagger(recording), ""))
    return recording


@pytest.mark.django_db
@pytest.mark.parametrize("merge", ["combiner", "union", "tagger"])
def test_the_pipeline_gives_the_models_stand_ins_and_the_result_original_offsets(
    models: RecordingModels, settings: Any, merge: str
) -> None:
    settings.NER_GENERAL_MERGE = merge
    settings.NER_IDENTIFIER_STAND_INS = True
    result = pipeline.run_pipeline([TEXT], recognizers=["patterns", "spacy", "tagger"])
    assert models.read["tagger"] == ["Hi, Maria Lopez here, email, card card for order in Madrid."]
    if merge != "tagger":
        assert models.read["spacy"] == models.read["tagger"]
    found = {(s.text, s.label) for s in result.spans[0]}
    assert {("maria.lopez@example.com", "EMAIL"), ("4111 1111 1111 1111", "CREDIT_CARD"), ("Madrid", "LOC")} <= found
    assert all(TEXT[s.start : s.end] == s.text for s in result.spans[0])
    assert not any(s.label == "PRODUCT" for s in result.spans[0])


@pytest.mark.django_db
def test_switched_off_the_models_read_the_text_as_written(models: RecordingModels, settings: Any) -> None:
    settings.NER_IDENTIFIER_STAND_INS = False
    result = pipeline.run_pipeline([TEXT], recognizers=["patterns", "spacy", "tagger"])
    assert models.read["tagger"] == [TEXT]
    assert ("Madrid", "LOC") in {(s.text, s.label) for s in result.spans[0]}


@pytest.mark.django_db
def test_an_unvalidated_pattern_stays_visible_to_the_models(models: RecordingModels, settings: Any) -> None:
    # A relative date is a pattern the models may overrule (merge rank 5): they read it as written.
    text = "See you next Monday in Madrid."
    pipeline.run_pipeline([text], recognizers=["patterns", "tagger"])
    assert models.read["tagger"] == [text]


@pytest.mark.django_db
def test_tools_that_run_the_models_themselves_get_the_same_views(settings: Any) -> None:
    settings.NER_IDENTIFIER_STAND_INS = True
    (view,) = pipeline.model_views([TEXT])
    assert view.text == "Hi, Maria Lopez here, email, card card for order in Madrid."
    settings.NER_IDENTIFIER_STAND_INS = False
    assert pipeline.model_views([TEXT]) == [ModelView(TEXT, TEXT)]

"""spaCy pipelines are built afresh after learning NER_SPACY_VOCAB_LIMIT new strings (recognizers.vocabulary)."""

from __future__ import annotations

from typing import Any

import pytest

from ner.extraction.recognizers import spacy_ner
from ner.extraction.recognizers.gazetteer import GazetteerRecognizer

# Every text brings words no vocabulary has seen.
NEW_WORDS = [f"Ticket zq{i}x{i * 7} from Xylo{i}corp about Acme Cloud Pro" for i in range(40)]


def test_the_gazetteer_renews_its_tokenizer_and_keeps_matching(settings: Any) -> None:
    settings.NER_SPACY_VOCAB_LIMIT = 50
    recognizer = GazetteerRecognizer([("PRODUCT", "Acme Cloud Pro", True)])
    first = recognizer._matcher().built
    found = recognizer.recognize(NEW_WORDS)
    assert all([(s.text, s.label) for s in spans] == [("Acme Cloud Pro", "PRODUCT")] for spans in found)
    renewed = recognizer._matcher().built
    assert renewed is not first
    assert len(renewed.nlp.vocab.strings) == renewed.baseline  # none of the texts' words are kept
    assert recognizer.recognize(["is acme cloud pro down?"])[0][0].text == "acme cloud pro"


def test_without_a_limit_the_gazetteer_keeps_its_tokenizer(settings: Any) -> None:
    settings.NER_SPACY_VOCAB_LIMIT = 0
    recognizer = GazetteerRecognizer([("PRODUCT", "Acme Cloud Pro", True)])
    first = recognizer._matcher().built
    recognizer.recognize(NEW_WORDS)
    assert recognizer._matcher().built is first
    assert len(first.nlp.vocab.strings) > first.baseline + 50


def test_the_ner_model_is_loaded_afresh_after_too_many_new_strings(settings: Any) -> None:
    pytest.importorskip(settings.SPACY_MODEL)
    recognizer = spacy_ner.SpacyRecognizer()
    text = "Maria Lopez flew from Madrid to Berlin with Lufthansa."
    settings.NER_SPACY_VOCAB_LIMIT = 0
    before = recognizer.recognize([text])
    assert ("Maria Lopez", "PER") in [(s.text, s.label) for s in before[0]]
    model = spacy_ner.load_model(settings.SPACY_MODEL)
    recognizer.recognize(NEW_WORDS)
    assert spacy_ner.load_model(settings.SPACY_MODEL) is model  # no limit: the same object
    settings.NER_SPACY_VOCAB_LIMIT = 50
    recognizer.recognize(NEW_WORDS[:1])  # the words learned so far are over the limit now
    fresh = spacy_ner.load_model(settings.SPACY_MODEL)
    assert fresh is not model
    assert [s.as_dict() for s in recognizer.recognize([text])[0]] == [s.as_dict() for s in before[0]]

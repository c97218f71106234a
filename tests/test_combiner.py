"""The learned combiner of tagger and spaCy spans (ner/extraction/combiner.py) and its place in the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ner.extraction import combiner
from ner.extraction.combiner import Combiner, candidate_features, candidates, feature_names, load_combiner
from ner.extraction.recognizers.tagger import WordProbabilities, split_words
from ner.spans import Span

TEXT = "Anna Berg flew from Paris to Acme Corp yesterday"


def tagger_span(start: int, end: int, label: str, score: float = 0.9) -> Span:
    return Span(start, end, label, TEXT[start:end], score, "tagger:tagger-test")


def spacy_span(start: int, end: int, label: str, raw: str) -> Span:
    return Span(start, end, label, TEXT[start:end], 0.7, "spacy:sm", meta={"spacy_label": raw})


def weights_for(**named: float) -> tuple[float, ...]:
    names = feature_names()
    unknown = set(named) - set(names)
    assert not unknown, unknown
    return tuple(named.get(name, 0.0) for name in names)


def test_candidates_pool_both_models_and_mark_agreement() -> None:
    t = [tagger_span(0, 9, "PER"), tagger_span(20, 25, "ORG")]
    s = [spacy_span(0, 9, "PER", "PERSON"), spacy_span(20, 25, "LOC", "GPE")]
    found = {(c.start, c.end, c.label): (c.tagger is not None, c.spacy is not None) for c in candidates(t, s)}
    assert found == {(0, 9, "PER"): (True, True), (20, 25, "ORG"): (True, False), (20, 25, "LOC"): (False, True)}
    for candidate in candidates(t, s):
        features = dict(zip(feature_names(), candidate_features(TEXT, candidate, t, s), strict=True))
        assert features["bias"] == 1.0
        if candidate.label == "PER":
            assert features["both:PER"] == 1.0 and features["title_case"] == 1.0 and features["text_start"] == 1.0
            assert features["spacy_raw:PERSON"] == 1.0
        if candidate.label == "LOC":  # spaCy's: the tagger tagged the same words with another label
            assert features["spacy:LOC"] == 1.0 and features["spacy_only:tagger_other_label"] == 1.0
            assert features["spacy_raw:GPE"] == 1.0 and features["tagger_score"] == 0.0
        if candidate.label == "ORG":
            assert features["tagger_only:spacy_other_label"] == 1.0 and features["tagger_score"] == 0.9


def test_combine_keeps_the_most_probable_of_overlapping_candidates() -> None:
    t = [tagger_span(0, 9, "PER"), tagger_span(20, 25, "ORG", 0.6)]
    s = [spacy_span(20, 25, "LOC", "GPE"), spacy_span(29, 38, "ORG", "ORG")]
    # Trust GPE over the tagger's ORG, agreement or a confident tagger; nothing else.
    model = Combiner(weights_for(**{"spacy_raw:GPE": 4.0, "tagger_score": 4.0, "bias": -3.0}), 0.5, {})
    kept = model.combine(TEXT, t, s)
    assert [(k.text, k.label) for k in kept] == [("Anna Berg", "PER"), ("Paris", "LOC")]
    assert kept[0].source == "tagger:tagger-test" and kept[1].source == "spacy:sm"
    assert all(0.5 <= k.score <= 1.0 for k in kept)
    # A higher threshold keeps less.
    strict = Combiner(model.weights, 0.7, {})  # Anna Berg: p = 0.65; Paris: p = 0.73
    assert [k.text for k in strict.combine(TEXT, t, s)] == ["Paris"]


def test_the_shipped_weights_match_the_features_and_record_their_fit() -> None:
    model = load_combiner()
    assert len(model.weights) == len(feature_names())
    assert 0.0 < model.threshold < 1.0
    assert model.info["data"] and "cv_f1" in model.info  # what it was fitted on, and how it scored out of fold


def test_weights_for_other_features_are_refused(tmp_path: Path) -> None:
    data = json.loads(combiner.WEIGHTS_FILE.read_text())
    data["features"] = data["features"][:-1]
    path = tmp_path / "combiner.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="refit"):
        load_combiner(str(path))


def word_probs_for(text: str, rows: dict[str, dict[str, float]]) -> WordProbabilities:
    """Word probabilities over ``text``'s words: ``rows`` gives some words' non-``O`` mass, the rest is ``O``."""
    labels = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    words = split_words(text)
    probs = np.zeros((len(words), len(labels)), dtype=np.float32)
    for i, (word, _, _) in enumerate(words):
        for label, p in rows.get(word, {}).items():
            probs[i, labels.index(label)] = p
        probs[i, 0] = 1.0 - probs[i].sum()
    return WordProbabilities(labels, tuple((s, e) for _, s, e in words), probs)


def test_word_probabilities_describe_what_the_tagger_thought_of_a_span() -> None:
    probs = word_probs_for(TEXT, {"Acme": {"B-ORG": 0.3, "B-LOC": 0.1}, "Corp": {"I-ORG": 0.5}})
    entity, same, first = probs.over(29, 38, "ORG")  # "Acme Corp"
    assert entity == pytest.approx((0.4 + 0.5) / 2) and same == pytest.approx((0.3 + 0.5) / 2)
    assert first == pytest.approx(0.3)
    assert probs.over(20, 25, "LOC") == (0.0, 0.0, 0.0)  # "Paris": all O
    assert probs.over(30, 33, "ORG") == (0.0, 0.0, 0.0)  # inside a word: no whole word lies in the span


def test_the_taggers_doubt_lets_the_combiner_keep_a_spacy_span() -> None:
    # The tagger decoded nothing over "Acme Corp", but gave it some ORG probability; over "Paris" none.
    s = [spacy_span(20, 25, "LOC", "GPE"), spacy_span(29, 38, "ORG", "ORG")]
    probs = word_probs_for(TEXT, {"Acme": {"B-ORG": 0.4}, "Corp": {"I-ORG": 0.4}})
    model = Combiner(weights_for(**{"spacy_only:tagger_p_label": 10.0, "bias": -2.0}), 0.5, {})
    assert [k.text for k in model.combine(TEXT, [], s, probs)] == ["Acme Corp"]
    assert model.combine(TEXT, [], s) == []  # without the probabilities those features are 0

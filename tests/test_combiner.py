"""The learned combiner of tagger and spaCy spans (ner/extraction/combiner.py) and its place in the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ner.extraction import combiner
from ner.extraction.combiner import Combiner, candidate_features, candidates, feature_names, load_combiner
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

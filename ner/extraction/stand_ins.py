"""The text the models read: each identifier the merge keeps replaced by one stand-in word.

A validated pattern (a Luhn-checked card, an e-mail address, a parsed phone number) or an admin
rule with an identifier label outranks every model span it overlaps (``pipeline.merge_rank`` 1
and 2), so the tagger and spaCy gain nothing from reading its characters, and they pay for each:
an IBAN is about fifteen of the tagger's pieces, an e-mail address about eight, and on our synthetic
customer messages identifiers hold 28% of them.  The models read instead one ordinary word per
identifier ("email", "phone", "card"...), which keeps the sentence's shape for the words around it.

:class:`ModelView` maps what a model found back to the original text: a span that touches a
stand-in is dropped (the merge would drop it anyway, beside the identifier it overlaps), the others
move to their original offsets; so do the tagger's word probabilities, the stand-in word covering
the whole identifier.  ``NER_IDENTIFIER_STAND_INS`` switches it off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ner.spans import Span

# One lower-case word of one piece in the tagger's vocabulary per identifier label.
STAND_IN_WORDS: dict[str, str] = {
    "EMAIL": "email",
    "PHONE": "phone",
    "URL": "website",
    "IP_ADDRESS": "address",
    "CREDIT_CARD": "card",
    "IBAN": "account",
    "MONEY": "money",
    "DATE": "today",
}
DEFAULT_STAND_IN = "number"  # order numbers, tracking codes and the other admin-rule identifiers


@dataclass(frozen=True, slots=True)
class ModelView:
    """``text`` as a model reads it.

    ``edits``: one per stand-in, its (start, end) in ``text`` (with any space added around it) and in ``original``.
    """

    original: str
    text: str
    edits: tuple[tuple[int, int, int, int], ...] = ()

    def position(self, pos: int, *, end: bool = False) -> int:
        """The original offset of ``pos`` in :attr:`text`; inside a stand-in, its identifier's start (or ``end``)."""
        shift = 0
        for start, stop, original_start, original_stop in self.edits:
            if pos <= start:
                break
            if pos >= stop:
                shift = original_stop - stop
                continue
            return original_stop if end else original_start
        return pos + shift

    def touches_stand_in(self, start: int, end: int) -> bool:
        return any(start < stop and s < end for s, stop, _, _ in self.edits)

    def spans_back(self, spans: Sequence[Span]) -> list[Span]:
        """A model's spans of :attr:`text` on the original text, without those touching a stand-in."""
        if not self.edits:
            return list(spans)
        out = []
        for span in spans:
            if self.touches_stand_in(span.start, span.end):
                continue
            start, end = self.position(span.start), self.position(span.end, end=True)
            out.append(dataclasses.replace(span, start=start, end=end, text=self.original[start:end]))
        return out

    def bounds_back(self, bounds: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
        """Word offsets in :attr:`text` on the original text (a stand-in word covers its whole identifier)."""
        return tuple((self.position(s), self.position(e, end=True)) for s, e in bounds)


def stand_in_word(label: str) -> str:
    return STAND_IN_WORDS.get(label, DEFAULT_STAND_IN)


def model_view(text: str, identifiers: Sequence[Span]) -> ModelView:
    """``text`` with each of ``identifiers`` (non-overlapping) replaced by its stand-in word.

    A stand-in next to a letter or digit (an admin rule may match inside a word) gets a space on that side,
    so that it stays a word of its own.
    """
    if not identifiers:
        return ModelView(text, text)
    parts: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    pos = 0  # in the original
    length = 0  # of the new text so far
    for span in sorted(identifiers, key=lambda s: s.start):
        before = text[pos : span.start]
        parts.append(before)
        length += len(before)
        word = stand_in_word(span.label)
        if span.start > 0 and text[span.start - 1].isalnum():
            word = " " + word
        if span.end < len(text) and text[span.end].isalnum():
            word += " "
        edits.append((length, length + len(word), span.start, span.end))
        parts.append(word)
        length += len(word)
        pos = span.end
    parts.append(text[pos:])
    return ModelView(text, "".join(parts), tuple(edits))


def word_probabilities_back(view: ModelView, probs: Any) -> Any:
    """The tagger's :class:`~ner.extraction.recognizers.tagger.WordProbabilities` on the original text."""
    if not view.edits or probs is None:
        return probs
    return dataclasses.replace(probs, bounds=view.bounds_back(probs.bounds))

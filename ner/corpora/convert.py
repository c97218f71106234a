"""Character spans <-> token tags, both ways.

Rules:

- ``tokenize_with_offsets`` splits on whitespace, then peels punctuation off the
  ends of each piece (quotes, brackets, ``.,;:!?``) while keeping inner
  punctuation, so ``j.doe@example.com``, ``ORD-123456``, ``1,250.00`` and
  ``https://a.example/x`` stay single tokens.
- Span -> tags (``spans_to_sentence``): a token that an entity boundary falls
  inside is split at that boundary, so every entity keeps its exact characters
  (counted as ``split_tokens``).  A span that covers no token (only whitespace)
  is dropped and counted as ``empty_spans``.
- Tags -> span (``sentence_to_example``): tokens are joined with single spaces.
- Predicted spans -> tags over fixed tokens (``spans_to_tags``, used by the
  evaluator, where the tokens come from the gold file and cannot be split): a
  token belongs to the first predicted span that overlaps any of its characters;
  the number of span boundaries that fell inside a token is returned.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence

from ner.corpora.conll import ReadStats
from ner.corpora.types import Sentence, SpanExample

_RUN_RE = re.compile(r"\S+")
# Quotes, brackets and sentence punctuation, including the typographic quotes U+2018/2019/201C/201D/201E.
LEADING_PUNCT = frozenset("\"'([{<\u00ab\u201c\u2018\u201e\u00bf\u00a1")
TRAILING_PUNCT = frozenset(".,;:!?)]}>\u00bb\u201d\u2019\"'\u2026")


def tokenize_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Tokens with their ``start``/``end`` character offsets into ``text``."""
    tokens: list[tuple[str, int, int]] = []
    for match in _RUN_RE.finditer(text):
        start, end = match.span()
        while start < end and text[start] in LEADING_PUNCT:
            tokens.append((text[start], start, start + 1))
            start += 1
        trailing: list[tuple[str, int, int]] = []
        while end > start and text[end - 1] in TRAILING_PUNCT:
            trailing.append((text[end - 1], end - 1, end))
            end -= 1
        if start < end:
            tokens.append((text[start:end], start, end))
        tokens.extend(reversed(trailing))
    return tokens


def tags_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """IOB2 tags -> ``(first_token, end_token_exclusive, label)``; a stray ``I-X`` starts an entity."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    label = ""
    for index, tag in enumerate(tags):
        prefix, _, tag_label = tag.partition("-")
        if start is not None and (prefix != "I" or tag_label != label):
            spans.append((start, index, label))
            start = None
        if prefix in ("B", "I") and start is None:
            start, label = index, tag_label
    if start is not None:
        spans.append((start, len(tags), label))
    return spans


def token_offsets(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Offsets of each token in ``" ".join(tokens)``."""
    offsets: list[tuple[int, int]] = []
    position = 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return offsets


def example_tokens(
    example: SpanExample, *, stats: ReadStats | None = None
) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Tokens of ``example.text`` with offsets, split at entity boundaries, and their IOB2 tags."""
    stats = stats if stats is not None else ReadStats()
    boundaries = sorted({offset for start, end, _ in example.spans for offset in (start, end)})
    pieces: list[tuple[str, int, int]] = []
    for _token, start, end in tokenize_with_offsets(example.text):
        cuts = [b for b in boundaries if start < b < end]
        if cuts:
            stats.count("split_tokens")
        edges = [start, *cuts, end]
        for left, right in itertools.pairwise(edges):
            pieces.append((example.text[left:right], left, right))
    tags = ["O"] * len(pieces)
    for start, end, label in example.spans:
        inside = [i for i, (_, s, e) in enumerate(pieces) if s >= start and e <= end]
        if not inside:
            stats.count("empty_spans")
            continue
        tags[inside[0]] = f"B-{label}"
        for i in inside[1:]:
            tags[i] = f"I-{label}"
    return pieces, tags


def spans_to_sentence(example: SpanExample, *, stats: ReadStats | None = None) -> Sentence:
    """Tokenize ``example.text`` and tag it in IOB2 from its character spans (see the module rules)."""
    pieces, tags = example_tokens(example, stats=stats)
    return Sentence([p[0] for p in pieces], tags, source=example.source)


def sentence_to_example(sentence: Sentence) -> SpanExample:
    """Join the tokens with single spaces and turn the tags into character spans."""
    offsets = token_offsets(sentence.tokens)
    spans = [(offsets[a][0], offsets[b - 1][1], label) for a, b, label in tags_to_spans(sentence.tags)]
    return SpanExample(" ".join(sentence.tokens), spans, source=sentence.source)


def spans_to_tags(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, str]]) -> tuple[list[str], int]:
    """Tag fixed tokens (given by offsets) from character spans; returns tags and boundaries inside tokens."""
    tags = ["O"] * len(offsets)
    inside_token = 0
    ends = [e for _, e in offsets]  # tokens are ordered and disjoint, so ends are sorted
    for start, end, label in sorted(spans):
        hit = []
        i = bisect.bisect_right(ends, start)  # first token ending after the span starts
        while i < len(offsets) and offsets[i][0] < end:
            hit.append(i)
            i += 1
        if not hit:
            continue
        first, last = offsets[hit[0]], offsets[hit[-1]]
        inside_token += (first[0] < start) + (last[1] > end)
        free = [i for i in hit if tags[i] == "O"]
        if not free:
            continue
        tags[free[0]] = f"B-{label}"
        for i in free[1:]:
            tags[i] = f"I-{label}"
    return tags, inside_token

"""Card numbers and IBANs masked on screen (the last four characters kept).

Agents' inbox previews and message lists (``chat``) and the review queue's and agreement
page's previews use these; ``CHAT_MASK_ON_SCREEN`` switches masking off.  Cards and IBANs are
validated patterns (Luhn, ISO 13616), so only the ``patterns`` recognizer runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from ner.extraction.pipeline import extract
from ner.spans import Span

# Labels masked wherever staff see text in lists and previews.
MASKED_LABELS: tuple[str, ...] = ("CREDIT_CARD", "IBAN")
MASK_CHAR = "•"
KEEP_LAST = 4


def mask_value(value: str) -> str:
    """``value`` with every letter and digit but the last four replaced, separators kept.

    ``4111 1111 1111 1111`` -> ``•••• •••• •••• 1111``.
    """
    n_alnum = sum(ch.isalnum() for ch in value)
    out: list[str] = []
    seen = 0
    for ch in value:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > n_alnum - KEEP_LAST else MASK_CHAR)
        else:
            out.append(ch)
    return "".join(out)


def sensitive_spans(texts: Sequence[str]) -> list[list[Span]]:
    """Card numbers and IBANs in each text (validated patterns), for masking on screen."""
    if not texts:
        return []
    wanted = set(MASKED_LABELS)
    return [[s for s in spans if s.label in wanted] for spans in extract(list(texts), recognizers=("patterns",))]


def mask(text: str, spans: Sequence[Span] | None = None) -> str:
    """``text`` with its card numbers and IBANs masked (``spans`` from ``sensitive_spans`` when given)."""
    found = sensitive_spans([text])[0] if spans is None else spans
    out: list[str] = []
    pos = 0
    for span in sorted(found, key=lambda s: s.start):
        if span.start < pos:
            continue
        out += [text[pos : span.start], mask_value(text[span.start : span.end])]
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def mask_all(texts: Sequence[str]) -> list[str]:
    """Each text masked, the recognizer run once over all of them."""
    return [mask(text, spans) for text, spans in zip(texts, sensitive_spans(texts), strict=True)]

"""Guard rails for suggested replies: the identifier grounding check and outgoing redaction.

Both use the cheap, deterministic recognizers (``patterns`` and ``rules``) of
``ner.extraction.pipeline``.  Until that module is installed a small built-in set of
patterns stands in, so the guard never silently lets everything through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ner.extraction.masking import KEEP_LAST as KEEP_LAST
from ner.extraction.masking import MASK_CHAR as MASK_CHAR
from ner.extraction.masking import MASKED_LABELS as MASKED_LABELS
from ner.extraction.masking import mask as mask
from ner.extraction.masking import mask_value as mask_value
from ner.extraction.masking import sensitive_spans as sensitive_spans
from ner.extraction.pipeline import extract
from ner.spans import Span, make_span

# Labels whose values a reply must never invent.
GROUNDED_LABELS: tuple[str, ...] = ("ORDER_ID", "EMAIL", "PHONE", "MONEY", "CREDIT_CARD", "IBAN")
# Labels removed from outgoing text when redaction is on.
PERSONAL_LABELS: tuple[str, ...] = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN")

PLACEHOLDERS: dict[str, str] = {
    "ORDER_ID": "[check order number]",
    "EMAIL": "[check email address]",
    "PHONE": "[check phone number]",
    "MONEY": "[check amount]",
    "CREDIT_CARD": "[check card number]",
    "IBAN": "[check IBAN]",
}
REDACTIONS: dict[str, str] = {
    "EMAIL": "[email removed]",
    "PHONE": "[phone removed]",
    "CREDIT_CARD": "[card removed]",
    "IBAN": "[IBAN removed]",
}

_FALLBACK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")),
    ("CREDIT_CARD", re.compile(r"\b(?:\d{4}[ -]?){3}\d{1,4}\b")),
    # Order-number shapes, and any bare run of 6-12 digits: in a reply that is an identifier of some kind.
    ("ORDER_ID", re.compile(r"(?:\b[A-Z]{2,5}-?\d{4,12}|#\d{5,12}|(?<![\w.,+-])\d{6,12})\b")),
    (
        "MONEY",
        re.compile(r"(?:[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:USD|EUR|GBP|dollars|euros)\b)"),
    ),
    ("PHONE", re.compile(r"(?<![\w-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3}[ .-]\d{3,4}(?:[ .-]\d{2,4})?\b")),
)


@dataclass
class GuardResult:
    text: str
    flagged: list[dict[str, object]] = field(default_factory=list)


def _fallback_find(text: str) -> list[Span]:
    found: list[Span] = []
    for label, pattern in _FALLBACK_PATTERNS:
        for m in pattern.finditer(text):
            span = make_span(text, m.start(), m.end(), label, 0.9, f"guard:{label.lower()}")
            if not any(span.overlaps(other) for other in found):
                found.append(span)
    return sorted(found, key=lambda s: s.start)


def find_identifiers(texts: Sequence[str], labels: Iterable[str] = GROUNDED_LABELS) -> list[list[Span]]:
    """Identifier spans of the given labels in each text (patterns + admin rules)."""
    wanted = set(labels)
    per_text = extract(list(texts), recognizers=("patterns", "rules"))
    # Order numbers come from admin-defined rules; with none configured the built-in shape still counts.
    for i, text in enumerate(texts):
        extra = [s for s in _fallback_find(text) if s.label == "ORDER_ID"]
        per_text[i] = sorted(
            list(per_text[i]) + [s for s in extra if not any(s.overlaps(o) for o in per_text[i])],
            key=lambda s: s.start,
        )
    return [[s for s in spans if s.label in wanted] for spans in per_text]


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _amounts(text: str) -> set[Decimal]:
    values: set[Decimal] = set()
    for m in _NUMBER.finditer(text):
        try:
            values.add(Decimal(m.group().replace(",", "")).normalize())
        except InvalidOperation:
            continue
    return values


def _is_grounded(span: Span, context_alnum: str, context_amounts: set[Decimal]) -> bool:
    if span.label == "MONEY":
        amounts = _amounts(span.text)
        return bool(amounts) and amounts <= context_amounts
    key = _alnum(span.text)
    return bool(key) and key in context_alnum


def _replace(text: str, spans: Sequence[Span], replacement: dict[str, str]) -> str:
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < pos:
            continue
        out.append(text[pos : span.start])
        out.append(replacement.get(span.label, "[removed]"))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def check_grounding(text: str, context: Sequence[str]) -> GuardResult:
    """Replace every identifier in ``text`` that appears in none of the ``context`` texts.

    Matching ignores case, spaces and punctuation (``ORD-1234`` = ``ord 1234``);
    amounts match by value (``$25`` = ``25.00 USD``).  The removed identifiers are
    listed in ``flagged`` with their label, text and the placeholder used.
    """
    if not text.strip():
        return GuardResult(text)
    joined = "\n".join(context)
    context_alnum = _alnum(joined)
    context_amounts = _amounts(joined)
    spans = find_identifiers([text])[0]
    bad = [s for s in spans if not _is_grounded(s, context_alnum, context_amounts)]
    if not bad:
        return GuardResult(text)
    flagged: list[dict[str, object]] = [
        {"label": s.label, "text": s.text, "start": s.start, "end": s.end, "replacement": PLACEHOLDERS[s.label]}
        for s in bad
    ]
    return GuardResult(_replace(text, bad, PLACEHOLDERS), flagged)


def redact(text: str, labels: Iterable[str] = PERSONAL_LABELS) -> tuple[str, list[Span]]:
    """``text`` with personal data (emails, phones, cards, IBANs) replaced, and the spans removed."""
    if not text.strip():
        return text, []
    spans = find_identifiers([text], labels)[0]
    return _replace(text, spans, REDACTIONS), spans


# --- On screen: card numbers and IBANs masked (ner.extraction.masking, which the review pages
# share), and a preview of outgoing redaction ----------------------------------------------------


def redaction_preview(text: str) -> dict[str, object]:
    """What ``redact`` would do to ``text``: the text as it would be sent and each removed value."""
    redacted, spans = redact(text)
    return {
        "text": redacted,
        "removed": [
            {"label": s.label, "text": s.text, "replacement": REDACTIONS.get(s.label, "[removed]")} for s in spans
        ],
    }


# A sentence that says the agent (or the team) has already done something: "I've issued your
# refund", "we have cancelled it", "I've just emailed you a label".  Canned responses are written
# for after the action; a suggestion built from one is sent before it, unless the agent checks.
_CLAIM = re.compile(
    r"\b(?:I|we)(?:['\u2019]ve| have)\s+(?:just\s+|already\s+|now\s+)?"
    r"(?!been\b|had\b|got\b)(?:[a-z]+ed|sent|made|put|set|given|taken|done|paid|sold|built|found|told)\b",
    re.IGNORECASE,
)
_CLAIM_SENTENCE = re.compile(r"[^.!?\n]*[.!?]?")


def action_claims(text: str) -> list[str]:
    """The sentences of ``text`` that say an action was already taken, in order, each once.

    The agent UI lists them under the suggestion ("check before sending"): the reply is true only
    once the agent has done what it says.
    """
    claims: list[str] = []
    for match in _CLAIM_SENTENCE.finditer(text):
        sentence = match.group(0).strip()
        if sentence and _CLAIM.search(sentence) and sentence not in claims:
            claims.append(sentence)
    return claims

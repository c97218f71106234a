"""Pattern recognizers: a candidate regex per entity type, then a validator that confirms it.

Each :class:`PatternSpec` pairs a regular expression (written in the subset that
RE2 and Python's ``re`` both accept, so the benchmark can run the same patterns
under both engines) with a check that can narrow, confirm or reject a candidate:

========== ============================================ ==========================
label      candidate                                    confirmed by (validated)
========== ============================================ ==========================
EMAIL      local@domain.tld                             length and label syntax
PHONE      digit runs with ``+ ( ) . -`` and spaces     phonenumbers (VALID) in the regions ``NER_PHONE_REGIONS``
                                                        and those the text names (:mod:`.phones`); only
                                                        *possible* at home: kept unvalidated, score 0.5
URL        ``http(s)://`` or ``www.`` up to a space     host is a domain, IP or localhost;
           or ``host.suffix[/path]`` with no scheme     host ends in a public suffix (:mod:`.hosts`)
IP_ADDRESS dotted quads, colon groups                   :mod:`ipaddress` (v4 and v6)
CREDIT_CARD 12-19 digits, optional space/dash groups    Luhn and issuer prefix/length
IBAN       country, check digits, BBAN                  ISO 13616 checksum (python-stdnum)
MONEY      symbol or ISO code before or after amount    amount parses as a number
DATE       ISO, numeric, month names                    a real calendar date
DATE       today, next Monday, in 3 days, ...           not validated (relative)
========== ============================================ ==========================

A candidate touching a letter or digit on either side (embedded in a longer
token) is dropped.  ``NER_PHONE_REGIONS`` is read when a recognizer first runs
(once per process for the pipeline's shared instance).  Context words within a few words of a match raise its score
by :data:`CONTEXT_BOOST`, as Presidio does.  Offsets are Python code points into
the text as received.
"""

from __future__ import annotations

import bisect
import calendar
import ipaddress
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

from ner.extraction.recognizers import hosts, phones
from ner.spans import Span, make_span

logger = logging.getLogger(__name__)

CONTEXT_BOOST = 0.1
CONTEXT_WINDOW_CHARS = 40  # looked at before the match (and half of it after)
ENGINES = ("re2", "re")


class Hit(NamedTuple):
    """A confirmed (possibly narrowed) candidate."""

    start: int
    end: int
    validated: bool
    meta: dict[str, object]
    score: float | None = None  # overrides the spec's score (e.g. a phone number that is only possible)


Check = Callable[[str, int, int], list[Hit]]


@dataclass(frozen=True)
class PatternSpec:
    name: str  # the span source is ``pattern:<name>``
    label: str
    regex: str
    check: Check
    score: float
    context: tuple[str, ...] = ()


# --- helpers ------------------------------------------------------------------------


def is_word_char(ch: str) -> bool:
    """Letters, digits, underscore and combining marks (a mark belongs to the character before it)."""
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def clean_edges(text: str, start: int, end: int) -> bool:
    """True when the match is not glued to a letter or digit on either side."""
    if start > 0 and is_word_char(text[start - 1]) and is_word_char(text[start]):
        return False
    return not (end < len(text) and is_word_char(text[end]) and is_word_char(text[end - 1]))


def _pieces(text: str, start: int, end: int, separators: str) -> tuple[list[int], list[int]]:
    """Possible starts (after a separator) and ends (before one) inside ``text[start:end]``."""
    starts, ends = [start], []
    for i in range(start, end):
        if text[i] in separators:
            ends.append(i)
            starts.append(i + 1)
    ends.append(end)
    return starts, ends


def _best_sub_hits(
    text: str, start: int, end: int, separators: str, accept: Callable[[str], dict[str, object] | None], max_pieces: int
) -> list[Hit]:
    """Non-overlapping separator-aligned pieces that ``accept`` confirms, longest first from the left.

    A greedy candidate regex may swallow a neighbouring group ("4111 1111 1111 1111 2025"):
    trying the separator-aligned sub-ranges recovers the real value.
    """
    starts, ends = _pieces(text, start, end, separators)
    if len(starts) > max_pieces:
        return []
    hits: list[Hit] = []
    position = start
    for s in starts:
        if s < position:
            continue
        for e in reversed(ends):
            if e <= s:
                break
            meta = accept(text[s:e])
            if meta is not None and clean_edges(text, s, e):
                hits.append(Hit(s, e, True, meta))
                position = e
                break
    return hits


# --- EMAIL --------------------------------------------------------------------------

EMAIL_RE = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$")


def valid_domain(host: str) -> bool:
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not labels[-1].isalpha() or len(labels[-1]) < 2:
        return False
    return all(_DOMAIN_LABEL.match(label) for label in labels)


def check_email(text: str, start: int, end: int) -> list[Hit]:
    local, _, domain = text[start:end].rpartition("@")
    # A leading dot belongs to the sentence, not the address.
    while local.startswith("."):
        local = local[1:]
        start += 1
    if not local or len(local) > 64 or end - start > 254 or ".." in local or local.endswith("."):
        return []
    if not valid_domain(domain) or not clean_edges(text, start, end):
        return []
    return [Hit(start, end, True, {"domain": domain.lower()})]


# --- PHONE --------------------------------------------------------------------------

PHONE_RE = r"(?:\+|\( ?)?[0-9][0-9 ().\-]{5,24}[0-9](?: ?(?:x|ext\.?) ?[0-9]{1,6})?"
POSSIBLE_PHONE_SCORE = 0.5
_PHONE_SEPARATORS = " ().-+"


# Shapes other patterns own: numeric dates and dotted quads are never reported as phone numbers.
_NOT_PHONE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:[0-9]{4}|[0-9]{2})"
    r"|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
)
_PHONE_FORMATTING = re.compile(r"^\+|^\(|[0-9][ .\-][0-9]")
_MAX_PHONE_DIGITS = 15  # E.164, not counting an extension
_DECIMAL = re.compile(r"0[.,][0-9]{3}")  # "0.3931 (0.0076)": a fraction, never a trunk prefix
_CARD_SHAPE = re.compile(r"[0-9]{4}(?:[ \-][0-9]{4}){2,3}")  # 4111 1111 1111: a card, even when not valid
_TRAILING_COUNT = re.compile(r"(?<=[0-9]) [0-9]{1,2}$")
_EXTENSION = re.compile(r" ?(?:x|ext\.?) ?[0-9]{1,6}$")


_LINE_LABEL = re.compile(r"[ \t]*(?:[A-Za-z][:.][ \t]*)?")  # "M: ", "T. ": a one-letter label at most


def _signature_line(text: str, start: int, end: int) -> bool:
    """Whether the number stands alone on a line after the first (a signature's "Anna Berg\\n01173 539785").

    It counts as a phone word: a line holding nothing but a valid number, or a one-letter label
    such as ``M:`` and the number, is how people sign with their phone.
    """
    line_start = text.rfind("\n", 0, start) + 1
    if line_start == 0:
        return False
    line_end = text.find("\n", end)
    after = text[end:] if line_end < 0 else text[end:line_end]
    return not after.strip() and bool(_LINE_LABEL.fullmatch(text[line_start:start]))


def _trailing_count(window: str, cut: int) -> bool:
    """A last group shorter than the one before it, with a whole number still before it."""
    groups = re.findall(r"[0-9]+", window[:cut])
    return bool(groups) and len(groups[-1]) > len(window) - cut - 1 and sum(map(len, groups)) >= 7


def make_phone_check(regions: Sequence[str]) -> Check:
    """Check a phone candidate against ``regions`` (the first is home; see :mod:`.phones`)."""
    regions = phones.normalise_regions(regions)

    def one_number(text: str, start: int, end: int, hints: Sequence[str]) -> tuple[Hit, bool] | None:
        """The hit, and whether the number's region writes it grouped exactly as the text does."""
        window = text[start:end]
        if sum(ch.isdigit() for ch in window) < 7:
            return None
        word = context_word(text, start, end, phones.PHONE_WORDS) is not None or _signature_line(text, start, end)
        formatted = bool(_PHONE_FORMATTING.search(window))
        found = phones.parse_phone(window, regions, hints=hints, formatted=formatted, phone_word=word)
        if found is None:
            return None
        # A number that is only possible (right length, phone-like, no such number plan) is reported
        # unvalidated and with a low score, so any model or validated pattern overrides it.
        score = None if found.validated else POSSIBLE_PHONE_SCORE
        meta: dict[str, object] = {"e164": found.e164, "region": found.region}
        return Hit(start, end, found.validated, meta, score), found.as_written

    def check_phone(text: str, start: int, end: int) -> list[Hit]:
        window = text[start:end]
        digits = sum(ch.isdigit() for ch in _EXTENSION.split(window)[0])
        if digits < 7 or _NOT_PHONE.fullmatch(window) or not clean_edges(text, start, end):
            return []
        if start >= 2 and text[start - 1] == "-" and text[start - 2].isalpha():
            return []  # the digits of an identifier such as ORD-12345678
        if _beside_money_or_iban(text, start, end) or _CARD_SHAPE.fullmatch(window) or _DECIMAL.match(window):
            return []
        hints = phones.hinted_regions(text, start)
        if digits <= _MAX_PHONE_DIGITS:
            # One number at most: parsing it directly is about twice as fast as the matcher.
            count = _TRAILING_COUNT.search(window)
            if count is not None:
                # "I called 0151 23456789 10 times", "06 47 14 52 36 50 times": the count is not part of
                # the number when it is shorter than the group before it, or when the number without
                # it is grouped exactly as its region writes numbers.
                trimmed = one_number(text, start, start + count.start(), hints)
                if trimmed is not None and trimmed[0].validated:
                    if trimmed[1] or _trailing_count(window, count.start()):
                        return [trimmed[0]]
            whole = one_number(text, start, end, hints)
            return [whole[0]] if whole is not None else []
        if "+" not in window[1:] and "(" not in window[1:]:
            return []  # too many digits for one number, and no sign that a second one starts inside
        hits = []
        # Runs like "+1 415 555 0132 (212) 555 0198" hold several numbers: the matcher splits them.
        region = (*hints, *regions)[0]
        for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID):
            s, e = start + match.start, start + match.end
            if clean_edges(text, s, e):
                number = match.number
                where = phonenumbers.region_code_for_number(number) or region
                hits.append(Hit(s, e, True, {"e164": _e164(number), "region": where}))
        return hits

    return check_phone


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- URL ----------------------------------------------------------------------------

_URL_CHAR = "[^ \t\r\n\f\v<>\"'`\u00a0\u2000-\u200b\u3000]"
URL_RE = (
    f"(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\\.){_URL_CHAR}+"
    # No scheme: dotted labels, an optional port and path; the host's public suffix decides (hosts.py).
    f"|[A-Za-z0-9\\-]+(?:\\.[A-Za-z0-9\\-]+)+(?::[0-9]{{1,5}})?(?:[/?#]{_URL_CHAR}*)?"
)
_SCHEME_OR_WWW = re.compile(r"(?i:https?://|www\.)")
_HOST_END = re.compile(r"[:/?#]")
_URL_TRAILING = ".,;:!?'\"*"
_URL_CLOSERS = {")": "(", "]": "[", "}": "{"}


def check_url(text: str, start: int, end: int) -> list[Hit]:
    # Stop at the first non-ASCII symbol or control (an emoji after a link is not part of it).
    for i in range(start, end):
        ch = text[i]
        if ord(ch) > 127 and unicodedata.category(ch)[0] not in "LMN":
            end = i
            break
    # Drop sentence punctuation and unbalanced closing brackets at the end.
    while end > start:
        last = text[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last in _URL_CLOSERS and text.count(_URL_CLOSERS[last], start, end) < text.count(last, start, end):
            end -= 1
        else:
            break
    value = text[start:end]
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return []
    if not (host == "localhost" or valid_domain(host) or _is_ip(host)):
        return []
    if start > 0 and is_word_char(text[start - 1]):
        return []
    if not _SCHEME_OR_WWW.match(value) and not _bare_url(text, start, end, value):
        return []
    return [Hit(start, end, True, {"host": host})]


def _bare_url(text: str, start: int, end: int, value: str) -> bool:
    """A link written without ``http://`` or ``www.``: see :mod:`.hosts` for what is refused."""
    if start > 0 and text[start - 1] in "@./\\:-_#%&=+~$":
        return False  # the domain of an e-mail address, a path, a longer name or a query
    token_start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1
    token_end = min((i for i in (text.find(" ", end), text.find("\n", end)) if i >= 0), default=len(text))
    if "@" in text[token_start:token_end]:
        return False  # part of an e-mail address ("anna.design+shop@example.com")
    host = _HOST_END.split(value, maxsplit=1)[0]
    return hosts.bare_host_is_web_address(host, has_path=len(host) < len(value))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# --- IP_ADDRESS -----------------------------------------------------------------------

IPV4_RE = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
IPV6_RE = (
    r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
    r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
)


_HEX_COLONS = re.compile(r"[0-9A-Fa-f:]*:[0-9A-Fa-f]*:")


def check_ipv4(text: str, start: int, end: int) -> list[Hit]:
    # Part of a longer dotted number (a version string like 1.2.3.4.5) is not an address.
    if start >= 2 and text[start - 1] == "." and text[start - 2].isdigit():
        return []
    if end + 1 < len(text) and text[end] == "." and text[end + 1].isdigit():
        return []
    if start > 0 and text[start - 1] == ":" and _HEX_COLONS.fullmatch(text[max(0, start - 40) : start].split()[-1]):
        return []  # the IPv4 tail of an IPv6 address (::ffff:192.0.2.1), reported as IPv6
    if not clean_edges(text, start, end):
        return []
    try:
        address = ipaddress.IPv4Address(text[start:end])
    except ValueError:
        return []
    return [Hit(start, end, True, {"version": 4, "private": address.is_private})]


def check_ipv6(text: str, start: int, end: int) -> list[Hit]:
    while end > start and text[end - 1] == ":" and text[end - 2 : end] != "::":
        end -= 1  # "fe80::1:" at the end of a clause
    value = text[start:end]
    if not any(c.isalnum() for c in value) or not clean_edges(text, start, end):
        return []
    if (start > 0 and text[start - 1] == ":") or (end < len(text) and text[end] == ":"):
        return []
    if end + 1 < len(text) and text[end] == "." and text[end + 1].isdigit():
        return []  # the start of an embedded IPv4 part that did not parse
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return []
    return [Hit(start, end, True, {"version": 6, "private": address.is_private})]


# --- CREDIT_CARD ----------------------------------------------------------------------

CARD_RE = r"[0-9](?:[ \-]?[0-9]){11,}"

# (issuer, prefix ranges as (low, high) on the leading digits, allowed lengths). Prefixes are
# compared as strings of their own width, so a prefix with a leading zero (Maestro's 0604) works.
CARD_ISSUERS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[int, ...]], ...] = (
    ("amex", (("34", "34"), ("37", "37")), (15,)),
    ("visa", (("4", "4"),), (13, 16, 19)),
    ("mastercard", (("51", "55"), ("2221", "2720")), (16,)),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")), (16, 17, 18, 19)),
    # JCB's block is 35: 3528-3589 are issued today, but card generators (and test data) use all of it.
    ("jcb", (("35", "35"),), (16, 17, 18, 19)),
    ("jcb", (("2131", "2131"), ("1800", "1800")), (15,)),  # legacy 15-digit JCB
    ("diners", (("300", "305"), ("36", "36"), ("38", "39")), (14, 15, 16, 17, 18, 19)),
    ("unionpay", (("62", "62"),), (16, 17, 18, 19)),
    (
        "maestro",
        (("50", "50"), ("56", "58"), ("63", "63"), ("67", "67"), ("6759", "6759"), ("6761", "6763"), ("0604", "0604")),
        tuple(range(12, 20)),
    ),
)


def card_issuer(digits: str) -> str | None:
    """The card network whose prefix and length fit ``digits``, or ``None``."""
    for issuer, ranges, lengths in CARD_ISSUERS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            if low <= digits[: len(low)] <= high:
                return issuer
    return None


def _accept_card(value: str) -> dict[str, object] | None:
    digits = value.replace(" ", "").replace("-", "")
    if not 12 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return None
    issuer = card_issuer(digits)
    return {"issuer": issuer, "last4": digits[-4:]} if issuer else None


def check_card(text: str, start: int, end: int) -> list[Hit]:
    return _best_sub_hits(text, start, end, " -", _accept_card, max_pieces=12)


# --- IBAN -----------------------------------------------------------------------------

IBAN_RE = r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){10,32}"


def _accept_iban(value: str) -> dict[str, object] | None:
    compact = value.replace(" ", "").upper()
    if not stdnum_iban.is_valid(compact):
        return None
    return {"country": compact[:2], "iban": compact}


def check_iban(text: str, start: int, end: int) -> list[Hit]:
    # The country code anchors the start: only the end may move back to a space.
    _, ends = _pieces(text, start, end, " ")
    for e in reversed(ends):
        meta = _accept_iban(text[start:e])
        if meta is not None and clean_edges(text, start, e):
            return [Hit(start, e, True, meta)]
    return []


# --- MONEY ----------------------------------------------------------------------------

CURRENCY_SYMBOLS = {
    "$": "USD",
    "US$": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₩": "KRW",
    "₽": "RUB",
    "₺": "TRY",
    "₪": "ILS",
    "₫": "VND",
    "฿": "THB",
    "₱": "PHP",
    "zł": "PLN",
}
CURRENCY_CODES = (
    "USD EUR GBP JPY CHF CAD AUD NZD CNY HKD SGD INR KRW SEK NOK DKK PLN CZK HUF RON BGN "
    "BRL MXN ARS CLP COP ZAR TRY RUB UAH AED SAR ILS THB IDR MYR VND EGP NGN KES"
).split()  # PHP is left out: "PHP 8.2" is far more often the language than the peso (₱ is kept)
_WORDLIKE_CODES = {"TRY"}  # matched in capitals only ("try 5 times" is not money)
CURRENCY_WORDS = {"dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR", "cents": "USD", "cent": "USD"}

_SYMBOL_RE = "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True))
_UPPER_CODE_RE = "|".join(CURRENCY_CODES)
_CODE_RE = "(?i:" + "|".join(c for c in CURRENCY_CODES if c not in _WORDLIKE_CODES) + ")|" + "|".join(_WORDLIKE_CODES)
_AMOUNT_RE = (
    r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]{1,2})?|[0-9]+(?:[.,][0-9]{1,2})?"
)
_MAGNITUDE_RE = r"(?: (?:million|billion|thousand))?"
MONEY_RE = (
    # A code glued to the amount must be in capitals ("USD10"; "cad5" is more likely a hex group).
    f"(?:{_SYMBOL_RE}|{_UPPER_CODE_RE}) ?(?:{_AMOUNT_RE}){_MAGNITUDE_RE}"
    f"|(?:{_CODE_RE}) (?:{_AMOUNT_RE}){_MAGNITUDE_RE}"
    f"|(?:{_AMOUNT_RE}){_MAGNITUDE_RE}[ \u00a0]?(?:{_SYMBOL_RE}|{_CODE_RE})"
    f"|(?:{_AMOUNT_RE}) (?i:dollars?|euros?|cents?)"
)
_AMOUNT_PY = re.compile(_AMOUNT_RE)

# What stands just before an amount ("€ 1 299 000") or the groups of an IBAN ("NL91 ABNA 0417 1643 00").
_MONEY_BEFORE = re.compile("(?:" + "|".join(re.escape(s) for s in CURRENCY_SYMBOLS) + r") ?$")
_MONEY_AFTER = re.compile(f" ?(?:{_CODE_RE}|{_SYMBOL_RE})(?![A-Za-z])")
_IBAN_BEFORE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4})* ?$")


def _beside_money_or_iban(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    return bool(_MONEY_BEFORE.search(before) or _IBAN_BEFORE.search(before) or _MONEY_AFTER.match(text, end))


def parse_amount(raw: str) -> Decimal | None:
    """``1,299.00`` -> 1299.00; ``1.299,50`` -> 1299.50; ``45`` -> 45."""
    if "," in raw and "." in raw:
        raw = raw.replace(",", "") if raw.rfind(".") > raw.rfind(",") else raw.replace(".", "").replace(",", ".")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = raw.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    elif raw.count(".") > 1 or (raw.count(".") == 1 and len(raw.rpartition(".")[2]) == 3 and raw[0] != "0"):
        raw = raw.replace(".", "")  # European thousands: "1.299"
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def check_money(text: str, start: int, end: int) -> list[Hit]:
    value = text[start:end]
    # A symbol glued to a word ("A$" inside "USA$5") is checked like any edge.
    if not clean_edges(text, start, end):
        return []
    amount_match = _AMOUNT_PY.search(value)
    if amount_match is None:
        return []
    amount = parse_amount(amount_match.group())
    if amount is None:
        return []
    rest = (value[: amount_match.start()] + " " + value[amount_match.end() :]).strip()
    currency = ""
    for token in rest.replace("\u00a0", " ").split():
        lowered = token.lower()
        if token in CURRENCY_SYMBOLS:
            currency = CURRENCY_SYMBOLS[token]
        elif token.upper() in CURRENCY_CODES:
            currency = token.upper()
        elif lowered in CURRENCY_WORDS:
            currency = CURRENCY_WORDS[lowered]
            if lowered.startswith("cent"):
                amount = amount / 100
    if not currency:
        # Symbol written without a space before the amount: "$45", "€45".
        for symbol in sorted(CURRENCY_SYMBOLS, key=len, reverse=True):
            if value.startswith(symbol) or value.endswith(symbol):
                currency = CURRENCY_SYMBOLS[symbol]
                break
    return [Hit(start, end, True, {"amount": str(amount), "currency": currency})]


# --- DATE -----------------------------------------------------------------------------

_MONTHS = (
    "(?i:January|February|March|April|May|June|July|August|September|October|November|December"
    "|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\\.?)"
)
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_WEEKDAYS_ANY_CASE = f"(?i:{_WEEKDAYS})"
_DAY = r"(?:3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)[0-9]{2}"
DATE_RE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}/[0-9]{2}/[0-9]{2}"
    r"|[0-9]{1,2}/[0-9]{1,2}/(?:[0-9]{4}|[0-9]{2})|[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}|[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}"
    f"|(?:{_WEEKDAYS_ANY_CASE} ?,? )?{_MONTHS} {_DAY}(?: ?,? {_YEAR})?"
    f"|(?:{_WEEKDAYS_ANY_CASE} ?,? )?(?:the )?{_DAY} (?:of )?{_MONTHS}(?: ?,? {_YEAR})?"
    f"|{_MONTHS} ?,? {_YEAR}"
)
_NUMBER_WORDS = "a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of"
_UNITS = "days?|weeks?|months?|years?|hours?"
RELATIVE_DATE_RE = (
    "(?i:the day after tomorrow|the day before yesterday|today|tomorrow|yesterday|tonight"
    f"|(?:next|last|this|coming|past) (?:{_WEEKDAYS.lower()}|week|month|year|weekend)"
    f"|in (?:[0-9]{{1,3}}|{_NUMBER_WORDS}) (?:{_UNITS})"
    f"|(?:[0-9]{{1,3}}|{_NUMBER_WORDS}) (?:{_UNITS}) ago)"
    f"|{_WEEKDAYS}"
)
_MONTH_NUMBERS = {
    name: i
    for i, name in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
_DIGITS = re.compile(r"[0-9]+")
_MONTH_WORD = re.compile(r"[A-Za-z]+")


_WEEKDAY_NAMES = {d.lower() for d in _WEEKDAYS.split("|")}
_ORDINALS = {"st", "nd", "rd", "th", "the", "of"}


def _real_date(year: int | None, month: int, day: int) -> bool:
    if not 1 <= month <= 12:
        return False
    return 1 <= day <= calendar.monthrange(year if year is not None else 2024, month)[1]


def check_date(text: str, start: int, end: int) -> list[Hit]:
    if not clean_edges(text, start, end):
        return []
    value = text[start:end]
    numbers = [int(n) for n in _DIGITS.findall(value)]
    month_word = next(
        (
            w
            for w in _MONTH_WORD.findall(value)
            if w[:3].lower() in _MONTH_NUMBERS and w.lower() not in _WEEKDAY_NAMES and w.lower() not in _ORDINALS
        ),
        None,
    )
    if month_word is not None:
        month = _MONTH_NUMBERS[month_word[:3].lower()]
        if len(numbers) == 1 and numbers[0] >= 1900:
            ok = True  # "March 2024"
        else:
            day = numbers[0]
            year = numbers[1] if len(numbers) > 1 else None
            ok = _real_date(year, month, day)
    elif len(numbers) == 3 and numbers[0] >= 1000:
        ok = _real_date(numbers[0], numbers[1], numbers[2])
    elif len(numbers) == 3:
        year = numbers[2] + (2000 if numbers[2] < 100 else 0)
        ok = _real_date(year, numbers[1], numbers[0]) or _real_date(year, numbers[0], numbers[1])
    else:
        ok = False
    return [Hit(start, end, True, {"kind": "absolute"})] if ok else []


def check_relative_date(text: str, start: int, end: int) -> list[Hit]:
    if not clean_edges(text, start, end):
        return []
    return [Hit(start, end, False, {"kind": "relative"})]


# --- the recognizer ---------------------------------------------------------------------


def default_specs(phone_regions: Sequence[str] = ("US",)) -> list[PatternSpec]:
    return [
        PatternSpec(
            "email",
            "EMAIL",
            EMAIL_RE,
            check_email,
            0.9,
            ("email", "e-mail", "mail", "contact", "address", "reach", "write"),
        ),
        PatternSpec(
            "phone",
            "PHONE",
            PHONE_RE,
            make_phone_check(phone_regions),
            0.85,
            ("phone", "call", "tel", "telephone", "mobile", "cell", "number", "whatsapp", "sms", "text", "reach"),
        ),
        PatternSpec("url", "URL", URL_RE, check_url, 0.85, ("link", "site", "website", "url", "page", "visit", "open")),
        PatternSpec(
            "ipv4",
            "IP_ADDRESS",
            IPV4_RE,
            check_ipv4,
            0.8,
            ("ip", "address", "server", "host", "login", "device", "vpn"),
        ),
        PatternSpec(
            "ipv6", "IP_ADDRESS", IPV6_RE, check_ipv6, 0.8, ("ip", "ipv6", "address", "server", "host", "device")
        ),
        PatternSpec(
            "credit_card",
            "CREDIT_CARD",
            CARD_RE,
            check_card,
            0.85,
            ("card", "credit", "debit", "visa", "mastercard", "amex", "payment", "charged", "cc"),
        ),
        PatternSpec(
            "iban", "IBAN", IBAN_RE, check_iban, 0.9, ("iban", "bank", "account", "transfer", "sepa", "refund", "wire")
        ),
        PatternSpec(
            "money",
            "MONEY",
            MONEY_RE,
            check_money,
            0.85,
            ("price", "cost", "paid", "pay", "charge", "charged", "refund", "total", "fee", "amount", "balance"),
        ),
        PatternSpec(
            "date",
            "DATE",
            DATE_RE,
            check_date,
            0.85,
            ("date", "on", "delivery", "delivered", "shipped", "arrive", "due", "since", "ordered", "until", "by"),
        ),
        PatternSpec(
            "relative_date",
            "DATE",
            RELATIVE_DATE_RE,
            check_relative_date,
            0.6,
            ("delivery", "delivered", "shipped", "arrive", "arrived", "due", "ordered", "since", "until", "by"),
        ),
    ]


def compile_regex(regex: str, engine: str = "re2") -> Any:
    """Compile ``regex`` with RE2 (linear time) or Python's backtracking ``re``."""
    if engine == "re2":
        import re2

        options = re2.Options()
        options.log_errors = False
        return re2.compile(regex, options)
    if engine == "re":
        return re.compile(regex)
    raise ValueError(f"unknown regex engine {engine!r}; use one of {', '.join(ENGINES)}")


_WORDS = re.compile(r"\w+")


def context_word(text: str, start: int, end: int, words: frozenset[str]) -> str | None:
    """The first context word found just before (or shortly after) ``text[start:end]``."""
    if not words:
        return None
    before = text[max(0, start - CONTEXT_WINDOW_CHARS) : start].lower()
    after = text[end : end + CONTEXT_WINDOW_CHARS // 2].lower()
    for word in _WORDS.findall(before + " " + after):
        if word in words:
            return word
    return None


class PatternRecognizer:
    """All built-in patterns (or the named subset), run with the chosen regex engine."""

    name = "patterns"

    def __init__(
        self,
        *,
        engine: str = "re2",
        phone_regions: Sequence[str] | None = None,
        only: Sequence[str] | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown regex engine {engine!r}; use one of {', '.join(ENGINES)}")
        self.engine = engine
        self._phone_regions = tuple(phone_regions) if phone_regions else None
        self._only = tuple(only) if only is not None else None
        self._compiled: list[tuple[PatternSpec, Any, frozenset[str]]] | None = None

    def _regions(self) -> tuple[str, ...]:
        if self._phone_regions:
            return self._phone_regions
        from django.conf import settings

        return tuple(settings.NER_PHONE_REGIONS)

    def specs(self) -> list[tuple[PatternSpec, Any, frozenset[str]]]:
        if self._compiled is None:
            specs = default_specs(self._regions())
            if self._only is not None:
                unknown = set(self._only) - {s.name for s in specs}
                if unknown:
                    raise ValueError(f"unknown patterns {sorted(unknown)}; known: {[s.name for s in specs]}")
                specs = [s for s in specs if s.name in self._only]
            self._compiled = [(s, compile_regex(s.regex, self.engine), frozenset(s.context)) for s in specs]
        return self._compiled

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        """Each regex runs once over the whole batch, joined by newlines (a per-call cost saved per text).

        No built-in pattern can match a newline, so no match crosses from one text
        into the next (one that would is dropped); validators and context words see
        only their own text.
        """
        specs = self.specs()
        starts: list[int] = []
        position = 0
        for text in texts:
            starts.append(position)
            position += len(text) + 1
        joined = "\n".join(texts)
        results: list[list[Span]] = [[] for _ in texts]
        for spec, compiled, words in specs:
            source = f"pattern:{spec.name}"
            for match in compiled.finditer(joined):
                start, end = match.span()
                if start == end:
                    continue
                i = bisect.bisect_right(starts, start) - 1
                text = texts[i]
                start, end = start - starts[i], end - starts[i]
                if end > len(text):
                    continue
                for hit in spec.check(text, start, end):
                    if hit.end > hit.start:
                        results[i].append(self._span(text, hit, spec, source, words))
        for spans in results:
            spans.sort(key=lambda s: (s.start, -s.end))
        return results

    @staticmethod
    def _span(text: str, hit: Hit, spec: PatternSpec, source: str, words: frozenset[str]) -> Span:
        score = spec.score if hit.score is None else hit.score
        word = context_word(text, hit.start, hit.end, words)
        if word is not None:
            score += CONTEXT_BOOST
        span = make_span(text, hit.start, hit.end, spec.label, score, source, validated=hit.validated)
        span.meta.update(hit.meta)
        if word is not None:
            span.meta["context"] = word
        return span

"""Admin-defined extraction rules: validation on save and safe execution.

Rules are untrusted input, so they run only under RE2, whose matching time is
linear in the input whatever the pattern, and on at most ``NER_MAX_TEXT_CHARS``
characters.  What validation rejects, and why:

- a pattern longer than :data:`MAX_PATTERN_CHARS` or that RE2 cannot compile
  (backreferences, look-around, atomic groups and possessive quantifiers have no
  linear-time implementation, so RE2 leaves them out);
- nested unbounded quantifiers such as ``(a+)+`` or ``(\\w*\\s?)*``, and a repeated group
  whose alternatives can start with the same character, such as ``(a|aa)+``: RE2 would run
  them safely, but the same text pasted into a backtracking engine (Python's
  ``re``, a spreadsheet, a log search) takes exponential time, and every such
  pattern has an equivalent without the nesting;
- a pattern that matches the empty string (it would flood the results);
- no examples, an example the pattern does not match in full, or a
  counter-example in which the rule would report anything (checked exactly as
  the rule runs on a message, token boundaries included).

Validation runs RE2 on at most :data:`MAX_EXAMPLES` short examples, so it
answers in milliseconds for any input.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ner.extraction.recognizers.patterns import clean_edges

logger = logging.getLogger(__name__)

MAX_PATTERN_CHARS = 500
MAX_EXAMPLES = 50
MAX_EXAMPLE_CHARS = 500
MAX_MATCH_CHARS = 200  # a rule match longer than this is discarded (an identifier is short)
RE2_MAX_MEM = 8 << 20

_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "look-around ((?=...), (?!...), (?<=...), (?<!...))"),
    (re.compile(r"\\[1-9]|\(\?P=|\\k<"), "backreferences (\\1, (?P=name))"),
    (re.compile(r"\(\?>"), "atomic groups ((?>...))"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "possessive quantifiers (a++, a*+)"),
)


class RuleValidationError(ValueError):
    """Why a rule is refused, per form field (``pattern``, ``examples``, ``counter_examples``)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


def compile_rule(pattern: str, *, case_insensitive: bool = False) -> Any:
    """Compile under RE2; raises ``ValueError`` with RE2's reason when it cannot."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not case_insensitive
    options.max_mem = RE2_MAX_MEM
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from exc


def find_matches(regex: Any, text: str) -> Iterator[tuple[int, int]]:
    """Non-empty matches not glued to a letter or digit on either side, at most MAX_MATCH_CHARS long."""
    for match in regex.finditer(text):
        start, end = match.span()
        if start < end <= start + MAX_MATCH_CHARS and clean_edges(text, start, end):
            yield start, end


def nested_quantifier(pattern: str) -> str | None:
    """The first group that repeats an unbounded quantifier, e.g. ``(a+)+``; None when there is none.

    Parsed with Python's own regex parser; a pattern it cannot parse (RE2-only
    syntax) is left to RE2, which never backtracks.
    """
    try:
        # A private stdlib module: reached through importlib so type checkers need no stub for it.
        sre_parse = importlib.import_module("re._parser")
        tree = sre_parse.parse(pattern)
    except Exception:  # any parse failure means "not Python syntax", not an error
        return None
    return _find_nested(list(tree), inside_repeat=False)


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _find_nested(items: list[Any], *, inside_repeat: bool) -> str | None:
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = value
            unbounded = high > 100  # MAXREPEAT (no upper bound) is far above this
            if inside_repeat and unbounded:
                return "a quantified group contains another unbounded quantifier"
            if unbounded and _ambiguous_branch(list(body)):
                return "a repeated group has alternatives that can start the same way, like (a|aa)+"
            found = _find_nested(list(body), inside_repeat=inside_repeat or (unbounded or high > 1))
            if found:
                return found
        elif name == "SUBPATTERN":
            found = _find_nested(list(value[-1]), inside_repeat=inside_repeat)
            if found:
                return found
        elif name == "BRANCH":
            for branch in value[1]:
                found = _find_nested(list(branch), inside_repeat=inside_repeat)
                if found:
                    return found
        elif name in {"ASSERT", "ASSERT_NOT"}:
            found = _find_nested(list(value[1]), inside_repeat=inside_repeat)
            if found:
                return found
    return None


_ANY = "any"


def _first_chars(items: list[Any]) -> set[Any] | str:
    """The characters a sequence can start with: a set of code points, or ``_ANY`` when that is not simple."""
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            return {value}
        if name == "SUBPATTERN":
            return _first_chars(list(value[-1]))
        if name in {"AT"}:  # anchors take no character: look at what follows
            continue
        if name == "IN" and all(str(o) == "LITERAL" for o, _v in value):
            return {v for _o, v in value}
        if name == "BRANCH":
            found: set[Any] = set()
            for branch in value[1]:
                first = _first_chars(list(branch))
                if isinstance(first, str):
                    return _ANY
                found |= first
            return found
        if name in _REPEATS and value[0] >= 1:
            return _first_chars(list(value[2]))
        return _ANY
    return set()


def _ambiguous_branch(items: list[Any]) -> bool:
    """True when a repeated group can split the same text in several ways: ``(a|aa)``, ``(ab|ac)``.

    Python's parser factors ``a|aa`` into ``a(?:|a)``, so two shapes are looked for: alternatives
    that start with the same character, and an optional part that can start with the group's own
    first character (the next repetition could take it instead).  Only literal characters are
    compared; classes and categories are left alone, so this finds the plain cases, not all.
    """
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    body_first = _first_chars(items)
    for op, value in items:
        name = str(op)
        optional: list[list[Any]] = []
        if name == "BRANCH":
            seen: set[Any] = set()
            branches = [list(b) for b in value[1]]
            for branch in branches:
                first = _first_chars(branch)
                if isinstance(first, set):
                    if seen & first:
                        return True
                    seen |= first
            if any(not b for b in branches):
                optional = [b for b in branches if b]
        elif name in _REPEATS and value[0] == 0:
            optional = [list(value[2])]
        for part in optional:
            first = _first_chars(part)
            if isinstance(first, set) and isinstance(body_first, set) and first & body_first:
                return True
    return False


def validate_rule(
    pattern: str,
    *,
    case_insensitive: bool = False,
    examples: Sequence[str] = (),
    counter_examples: Sequence[str] = (),
) -> Any:
    """Check an admin rule; return the compiled RE2 regex or raise :class:`RuleValidationError`."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    regex = None
    if not pattern or not pattern.strip():
        add("pattern", "The pattern is empty.")
    elif len(pattern) > MAX_PATTERN_CHARS:
        add("pattern", f"The pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN_CHARS}.")
    else:
        try:
            regex = compile_rule(pattern, case_insensitive=case_insensitive)
        except ValueError as exc:
            unsupported = [what for check, what in _UNSUPPORTED if check.search(pattern)]
            if unsupported:
                add(
                    "pattern",
                    f"RE2, the engine rules run on, does not support {', '.join(unsupported)}; "
                    "rewrite the pattern without them.",
                )
            else:
                add("pattern", f"The pattern does not compile under RE2: {exc}.")
        nested = nested_quantifier(pattern)
        if nested:
            add(
                "pattern",
                f"Nested quantifiers: {nested}. A backtracking engine would take exponential "
                "time on it; write it without the nesting or the overlap, e.g. (a+)+ -> a+, (a|aa)+ -> a+.",
            )
            regex = None
        if regex is not None and regex.fullmatch("") is not None:
            add("pattern", "The pattern matches the empty text; make at least one character required.")
            regex = None

    examples = [e for e in examples if e.strip()]
    counter_examples = [e for e in counter_examples if e.strip()]
    for field, values in (("examples", examples), ("counter_examples", counter_examples)):
        if len(values) > MAX_EXAMPLES:
            add(field, f"{len(values)} entries; at most {MAX_EXAMPLES} are allowed.")
        too_long = [v for v in values if len(v) > MAX_EXAMPLE_CHARS]
        if too_long:
            add(field, f"Entries are limited to {MAX_EXAMPLE_CHARS} characters ({too_long[0][:30]!r}... is longer).")
    if not examples:
        add("examples", "Give at least one example the pattern must match, e.g. ORD-123456.")

    if regex is not None and "examples" not in errors:
        for example in examples:
            value = example.strip()
            found = [value[s:e] for s, e in find_matches(regex, value)]
            if regex.fullmatch(value) is None:
                hint = f" (it found {found[0]!r})" if found else " (it found nothing)"
                add("examples", f"The pattern does not match the example {value!r} in full{hint}.")
    if regex is not None and "counter_examples" not in errors:
        for counter in counter_examples:
            found = [counter[s:e] for s, e in find_matches(regex, counter)]
            if found:
                add("counter_examples", f"The pattern matches {found[0]!r} in the counter-example {counter!r}.")
    if errors:
        raise RuleValidationError(errors)
    return regex


# --- defaults for a new installation --------------------------------------------------

# Pieces of the street-address rules below (RE2 syntax).
_WORD = r"\p{L}[\p{L}'.-]{0,30}"
_CAPITALISED = r"\p{Lu}[\p{L}'-]{0,30}"
_HOUSE = r"[0-9]{1,5}[A-Za-z]?(?:[/-][0-9]{1,4}[A-Za-z]?)?"
_ADDRESS_WORDS = ["address", "deliver", "delivered", "ship", "pickups", "moved", "relocated", "ordered"]

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "order-id",
        "label": "ORDER_ID",
        "pattern": r"ORD-?[0-9]{6,10}",
        "case_insensitive": True,
        "examples": ["ORD-123456", "ord-20240315", "ORD351884"],
        "counter_examples": ["ORD-123", "XORD-123456", "ORD-12345678901", "ORD_123456"],
        "context_words": ["order", "purchase", "shipment", "delivery", "package"],
        "score": 0.8,
    },
    {
        "name": "purchase-order",
        "label": "ORDER_ID",
        "pattern": r"PO-[0-9]{5,8}",
        "case_insensitive": True,
        "examples": ["PO-24260", "po-1234567"],
        "counter_examples": ["PO-123", "APO-24260", "PO-123456789"],
        "context_words": ["order", "purchase", "po", "invoice"],
        "score": 0.75,
    },
    {
        "name": "order-number-hash",
        "label": "ORDER_ID",
        "pattern": r"#[0-9]{7,10}",
        "examples": ["#1234567"],
        "counter_examples": ["#123", "#12345678901"],
        "context_words": ["order", "purchase", "shipment"],
        "score": 0.55,
    },
    {
        "name": "tracking-number",
        "label": "ORDER_ID",
        "pattern": r"1Z[0-9A-Z]{16}",
        "examples": ["1Z999AA10123456784"],
        "counter_examples": ["1Z999AA1012345"],
        "context_words": ["tracking", "parcel", "package", "ups", "shipment"],
        "score": 0.7,
    },
    {
        "name": "ticket-id",
        "label": "ORDER_ID",
        "pattern": r"(?:TCK|CASE|INC)-[0-9]{4,8}",
        "case_insensitive": True,
        "examples": ["TCK-20931", "CASE-1234", "inc-0042117"],
        "counter_examples": ["TCK-12", "CASE-"],
        "context_words": ["ticket", "case", "incident", "reference", "ref"],
        "score": 0.7,
    },
    # Street addresses (a place, LOC, as the corpora annotate them).  The models find the street's
    # name and often miss its number or the whole address; these rank below the models, but where
    # one covers a model's span it replaces it (ner.extraction.pipeline.known_names_first).
    {
        "name": "street-polish",
        "label": "LOC",
        "pattern": rf"(?:ul\.|ulica|pl\.|plac|aleja|osiedle)[ \t]{{1,3}}(?:{_WORD},?[ \t]{{1,3}}){{1,4}}{_HOUSE}",
        "case_insensitive": True,
        "examples": ["ul. Sportowa 17", "plac Armii Krajowej 78/10", "pl. głowackiego 19", "aleja Krasińskiego 425"],
        "counter_examples": ["plac 5", "ul. 17"],
        "context_words": _ADDRESS_WORDS,
        "score": 0.6,
    },
    {
        "name": "street-romance",
        "label": "LOC",
        "pattern": r"(?:Viale|Vicolo|Piazza|Corso|Strada|Contrada|Stretto|Rotonda|Largo|Calle|Avenida|Paseo|Rua|Carrer)"
        r"(?:[ \t]{1,3}(?:di|del|della|de|la|las|los|do|da|dos)){0,2}"
        rf"(?:[ \t]{{1,3}}{_CAPITALISED}){{1,3}},?[ \t]{{1,3}}{_HOUSE}",
        "examples": ["Vicolo Agnolo, 73", "Piazza Vito, 6", "Calle de Alcalá 12", "Rua da Prata 5"],
        "counter_examples": ["Corso 5", "via email 2 times", "Largo 12"],
        "context_words": _ADDRESS_WORDS,
        "score": 0.6,
    },
    {
        "name": "street-compound",
        "label": "LOC",
        "pattern": r"\p{L}[\p{L}-]{1,40}"
        r"(?:straße|strasse|str\.|weg|platz|gasse|allee|damm|ufer|straat|laan|singel|gracht|kade)"
        rf"[ \t]{{1,3}}{_HOUSE}",
        "case_insensitive": True,
        "examples": ["Masonweg 167", "pohlstr. 5/1", "Kästerplatz 89/19", "Zdenka-Boucsein-Straße 23-15"],
        "counter_examples": ["weg 5", "Strasse"],
        "context_words": _ADDRESS_WORDS,
        "score": 0.6,
    },
    {
        "name": "street-number-first",
        "label": "LOC",
        "pattern": rf"{_HOUSE},?[ \t]{{1,3}}(?:{_CAPITALISED}[ \t]{{1,3}}){{1,3}}"
        r"(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Way|Court|Place|Square|Boulevard|Terrace|Crescent|Close"
        r"|Path|Marg|Circle|Chowk|Nagar)"
        rf"|{_HOUSE},[ \t]{{1,3}}(?:rue|chemin|avenue|boulevard|allée|impasse|place|quai)"
        rf"(?:[ \t]{{1,3}}(?:de|du|des|la|le)){{0,2}}(?:[ \t]{{1,3}}{_CAPITALISED}){{1,3}}",
        "examples": ["8172 April Street", "36, rue Nathalie Ollivier", "956, Hora Road", "88 Croal Street"],
        "counter_examples": ["2 Street", "12 rue"],
        "context_words": _ADDRESS_WORDS,
        "score": 0.6,
    },
    {
        "name": "flat-then-street",
        "label": "LOC",
        # The street after a comma or on the next line, as addresses are written: "Flat 5 Please help"
        # (a sentence that goes on) is not an address.
        "pattern": r"(?:Flat|Apt\.|Apartment|Studio|H\.No\.)[ \t]{1,3}[0-9]{1,4}[A-Za-z]?"
        r"(?:,[ \t]{0,3}|[ \t]{0,3}\n[ \t]{0,3})"
        rf"{_CAPITALISED}(?:[ \t]{{1,3}}{_CAPITALISED}){{0,2}}",
        "examples": ["Flat 5\nGarry Unions", "H.No. 35\nParsa Marg", "H.No. 699, Varkey", "Studio 20N\nBates Meadow"],
        "counter_examples": ["Flat 5", "Apartment 3 is", "Flat 5 Please help", "Studio 54 New York"],
        "context_words": _ADDRESS_WORDS,
        "score": 0.6,
    },
)


def seed_default_rules(say: Any) -> None:
    """Default extraction rules (order, tracking and ticket numbers; street addresses)."""
    from ner.models import ExtractionRule

    created = 0
    for rule in DEFAULT_RULES:
        validate_rule(
            rule["pattern"],
            case_insensitive=rule.get("case_insensitive", False),
            examples=rule["examples"],
            counter_examples=rule["counter_examples"],
        )
        _, was_created = ExtractionRule.objects.get_or_create(name=rule["name"], defaults=rule)
        created += was_created
    say(f"  {created} extraction rule(s) added, {len(DEFAULT_RULES) - created} already present")

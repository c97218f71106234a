"""Boundary repairs of the models' general-label spans: what a name's shape says about where it ends.

The tagger and spaCy both stop short of, or run past, the same few written conventions;
:func:`repair_span` fixes those from the text around the span:

* a legal form after the name belongs to it and makes it an organisation: ``Dugar`` +
  `` Inc`` is the ORG ``Dugar Inc``; ``Higgins`` (PER) + `` PLC`` is the ORG ``Higgins PLC``
  (a company designator too, ``McAleavy`` + `` Group``, but after the combiner: :func:`extend_company`);
  ``KITZMANN E.V`` + ``.`` keeps the abbreviation's full stop;
* a name does not end on a connector: ``Eastgate &`` grows over a following capitalised
  word (``Eastgate & Juras``), or drops the ``&`` when none follows;
* a possessive is not part of the name: ``Kapinos's`` is ``Kapinos``; nor is a person's title:
  ``Mr. Mosemann`` is ``Mosemann``;
* brackets in a name are balanced: ``Holy See (Vatican City State`` takes the ``)`` that closes
  it on the same line, ``Isole Falkland (`` drops the bracket it cannot close;
* :func:`split_span`: two names joined by an arrow are two (``Fullerfurt -> Lambtown``); a place,
  a comma and a capitalised name without digits are two places, as the corpora annotate them
  (``Springfield, Illinois``; ``8, chemin Blondel, Lyon``; in a span written all in lower case any
  word counts: ``raymondbury, iceland``); a leading house number stays with its street.

Only the span's own edges move; a repair never crosses a line break.  Measured one change at a
time on the dev sets (docs/benchmarks/tagger.md, "Ideas tried"): tried and dropped there, a span
ending in a legal form relabelled ORG, and two same-label spans one space apart joined.
"""

from __future__ import annotations

import dataclasses
import re

from ner.spans import Span

# Company legal forms written after the name.  The first group also matches in capitals or lower
# case ("E.V.", "inc"); the second only as written or in capitals, since in lower case some are
# words ("as", "ab", "se").  "Co" is left out: after a place it is Colorado ("Denver, CO").
LEGAL_FORMS_ANY_CASE = (
    "Inc", "Ltd", "LLC", "L.L.C.", "LLP", "PLC", "Corp", "GmbH", "gGmbH", "KGaA", "e.V.", "S.A.", "S.A.S.",
    "S.p.A.", "S.r.l.", "S.L.L.", "S.L.", "N.V.", "B.V.", "s.r.o.", "d.o.o.", "sp. z o.o.", "SARL", "ApS", "Oyj",
)  # fmt: skip
LEGAL_FORMS_AS_WRITTEN = (
    "Incorporated", "Corporation", "Limited", "AG", "KG", "SE", "SA", "SAS", "SpA", "Srl", "SL", "SLL", "NV",
    "BV", "Oy", "AB", "ASA", "A/S", "Kft", "Zrt", "Pty",
)  # fmt: skip


def _alternatives(forms: tuple[str, ...]) -> str:
    return "|".join(re.escape(form.rstrip(".")) for form in sorted(forms, key=len, reverse=True))


# After the span: optional comma, the legal form, its full stop when it is an abbreviation, then no
# further word character.
_LEGAL_AFTER = re.compile(
    rf"[ \t]*,?[ \t]+(?:(?i:{_alternatives(LEGAL_FORMS_ANY_CASE)})"
    rf"|{_alternatives(LEGAL_FORMS_AS_WRITTEN + tuple(f.upper() for f in LEGAL_FORMS_AS_WRITTEN))})\.?(?![\w])"
)
# Company designators: nouns that, written after a name, make it a company's ("Tidewater Broadband",
# "McAleavy Group", "Singapore Airlines").  Capitalised or in capitals; in lower case only after a
# span written in lower case ("fgx realty").  Nouns that also follow a place as plain words
# ("Germany Energy prices", "Europe Travel") are left out: Energy, Health, Travel, Media, Bank...
COMPANY_DESIGNATORS = (
    "Group", "Holdings", "Partners", "Associates", "Industries", "Enterprises", "Ventures", "Capital",
    "Consulting", "Technologies", "Pharma", "Pharmaceuticals", "Airlines", "Airways", "Realty", "Broadband",
    "Mutual", "Logistics", "Telecom", "Labs", "Motors", "Outfitters", "Traders", "Insurance", "Solutions",
)  # fmt: skip
_DESIGNATORS = "|".join(COMPANY_DESIGNATORS)
_DESIGNATOR_AFTER = re.compile(rf"[ \t]+(?:{_DESIGNATORS}|{_DESIGNATORS.upper()})(?![\w-])")
_DESIGNATOR_AFTER_LOWER = re.compile(rf"[ \t]+(?:{_DESIGNATORS.lower()})(?![\w-])")
# A span ending inside an abbreviation ("S.L.L", "E.V") whose full stop follows.
_ABBREVIATION_END = re.compile(r"(?:\b\w\.)+\w$")
_CONNECTOR_END = re.compile(r"[ \t]+&$")
# Titles before a person's name (forms of address, offices, ranks, kin), which the corpora leave out of it.
PERSON_TITLES = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Doctor", "Prof", "Professor", "Sir", "Dame", "Herr", "Frau", "Mme",
    "Mlle", "Sr", "Sra", "Srta", "President", "Senator", "Sen", "Rep", "Governor", "Gov", "Mayor", "Judge",
    "General", "Gen", "Colonel", "Col", "Captain", "Capt", "Sergeant", "Sgt", "Officer", "Sheikh", "Rabbi",
    "Reverend", "Rev", "Pastor", "Bishop", "Cardinal", "Pope", "Chancellor", "Minister", "Ambassador",
    "Aunt", "Uncle", "Coach",
)  # fmt: skip
_TITLE_START = re.compile(rf"(?i:{'|'.join(PERSON_TITLES)})\.?[ \t]+(?=\w)")
_CAPITALISED_AFTER = re.compile(r"[ \t]+[A-Z][\w'\u2019-]*")
_POSSESSIVE_END = re.compile(r"(?<=\w)['\u2019]s$")
# The rest of a bracket the span opened: up to the ")" within a few words on the same line.
_BRACKET_CLOSE = re.compile(r"[^()\n]{0,40}\)")

GENERAL_REPAIRED = frozenset({"PER", "ORG", "LOC"})


def _with_bounds(span: Span, text: str, start: int, end: int, label: str | None = None) -> Span:
    return dataclasses.replace(span, start=start, end=end, text=text[start:end], label=label or span.label)


def repair_span(span: Span, text: str) -> Span:
    """``span`` with its edges fixed by the conventions above (itself when none applies)."""
    if span.label not in GENERAL_REPAIRED:
        return span
    start, end, label = span.start, span.end, span.label
    # A connector at the end: take the next capitalised word, or drop the connector.
    if connector := _CONNECTOR_END.search(text, start, end):
        nxt = _CAPITALISED_AFTER.match(text, end)
        end = nxt.end() if nxt else connector.start()
    # A title before a person's name is not part of it ("Mr. Mosemann" is "Mosemann").
    if label == "PER" and (title := _TITLE_START.match(text, start, end)) and title.end() < end:
        start = title.end()
    # A possessive is not part of the name.
    if possessive := _POSSESSIVE_END.search(text[start:end]):
        end = start + possessive.start()
    end = _balance_brackets(text, start, end)
    # A legal form after the name.
    if legal := _LEGAL_AFTER.match(text, end):
        end, label = legal.end(), "ORG"
    elif text[end : end + 1] == "." and _ABBREVIATION_END.search(text[start:end]) and label == "ORG":
        end += 1
    if (start, end, label) == (span.start, span.end, span.label):
        return span
    return _with_bounds(span, text, start, end, label)


def _balance_brackets(text: str, start: int, end: int) -> int:
    """The span's end with its last bracket closed (or cut off, with the spaces before it, when it
    cannot be closed nearby); a span with no open bracket keeps its end."""
    inner = text[start:end]
    opened = inner.rfind("(")
    if opened < 0 or ")" in inner[opened:]:
        return end
    if close := _BRACKET_CLOSE.match(text, end):
        return close.end()
    return start + len(inner[:opened].rstrip())


# An arrow between two names ("Fullerfurt -> Lambtown"): never inside one.
_ARROW = re.compile(r"[ \t]*(?:->|=>|\u2192)[ \t]*")
# ", " then a name without digits up to the next comma or the end: capitalised, or any word in a
# span written all in lower case ("raymondbury, iceland").
_PLACE_AFTER_COMMA = re.compile(r",[ \t]+(?=[A-Z])([^\W\d][^,\d]*)$")
_PLACE_AFTER_COMMA_LOWER = re.compile(r",[ \t]+([^\W\d][^,\d]*)$")


def split_span(span: Span, text: str) -> list[Span]:
    """``span`` cut where it holds two names: at an arrow (any general label), and, for a place,
    before each comma that a name without digits follows (:func:`split_places`)."""
    if span.label not in GENERAL_REPAIRED:
        return [span]
    pieces: list[Span] = []
    begin = span.start
    for arrow in _ARROW.finditer(text, span.start, span.end):
        if arrow.start() > begin:
            pieces.append(_with_bounds(span, text, begin, arrow.start()))
        begin = arrow.end()
    if begin == span.start:
        pieces = [span]
    elif begin < span.end:
        pieces.append(_with_bounds(span, text, begin, span.end))
    return [part for piece in pieces for part in split_places(piece, text)]


def split_places(span: Span, text: str) -> list[Span]:
    """A place span cut before each comma that a name without digits follows (capitalised, unless the
    span has no capital letter at all); a part that is only a number (a house number) is never cut off."""
    if span.label != "LOC" or "," not in span.text:
        return [span]
    after_comma = _PLACE_AFTER_COMMA if any(ch.isupper() for ch in span.text) else _PLACE_AFTER_COMMA_LOWER
    parts: list[Span] = []
    end = span.end
    while (cut := after_comma.search(text, span.start, end)) is not None and cut.start() > span.start:
        if not any(ch.isalpha() for ch in text[span.start : cut.start()]):
            break  # "8, rue Blondel": the number belongs to the street
        parts.append(_with_bounds(span, text, cut.start(1), end))
        end = cut.start()
    if not parts:
        return [span]
    parts.append(_with_bounds(span, text, span.start, end))
    return parts[::-1]


# --- after the combiner: a company designator, a street's house number ------------------------------
# The combiner judges the models' own spans; these two grow the spans it kept, since a longer span
# with a digit or a word the model did not tag looks less like a name to it.


def extend_company(span: Span, text: str) -> Span:
    """A general-label span followed by a company designator, grown over it and made an organisation:
    ``McAleavy`` (PER) + `` Group`` -> ``McAleavy Group`` (ORG), ``tidewater`` + `` pharma``."""
    if span.label not in GENERAL_REPAIRED:
        return span
    designator = _DESIGNATOR_AFTER if any(ch.isupper() for ch in span.text) else _DESIGNATOR_AFTER_LOWER
    if named := designator.match(text, span.end):
        return _with_bounds(span, text, span.start, named.end(), "ORG")
    return span


# Street addresses: the house number and flat written next to a street belong to it.

# A place span whose first or last word is one of these (any case, full stop optional) is a street.
STREET_WORDS = frozenset(
    {
        # English
        "street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "way", "court", "ct",
        "place", "square", "sq", "boulevard", "blvd", "terrace", "crescent", "close", "row", "path",
        "parkway", "highway", "hwy", "circle", "gardens", "heights", "village", "park", "mews", "walk",
        # South Asia
        "marg", "chowk", "nagar", "ganj", "gali",
        # French, Italian, Spanish, Portuguese, Catalan
        "rue", "chemin", "allée", "impasse", "quai", "via", "viale", "vicolo", "piazza", "piazzale", "corso",
        "strada", "stretto", "contrada", "rotonda", "largo", "borgo", "calle", "avenida", "plaza", "paseo",
        "cuesta", "camino", "carrer", "ronda", "rambla", "rua", "travessa",
        # Polish, Dutch
        "ul", "ulica", "pl", "plac", "al", "aleja", "os", "osiedle", "straat", "laan", "plein", "gracht", "kade",
    }
)  # fmt: skip
# German and Dutch streets are one word ending in the street type: "Kästerplatz", "Thiesstr.".
_STREET_SUFFIX = re.compile(r"(?i:stra(?:ß|ss)e|str|weg|platz|gasse|allee|damm|ufer|chaussee|straat|laan)\.?$")
_HOUSE_NUMBER = r"\d{1,5}[A-Za-z]?(?:[ \t]?[/-][ \t]?\d{1,5}[A-Za-z]?)?"
_UNIT = r"(?i:flat|apt\.?|apartment|studio|unit|suite|h\.?[ \t]?no\.?|house[ \t]+no\.?)"
# After a street: ", 73", " 89/19", " 23-15", " 764 piano 2" (a floor or flat after the number).
_NUMBER_AFTER = re.compile(
    rf"(?:[ \t]*,)?[ \t]+{_HOUSE_NUMBER}"
    r"(?:[ \t]+(?i:piano|piso|planta|puerta|appartamento|interno|scala|etage|floor|apt\.?|suite|unit)[ \t]+\w{1,4})?"
    r"(?![\w/.,-]*\w)"
    r"(?![ \t]+(?i:days?|weeks?|months?|years?|hours?|minutes?|times?|items?|pieces?|pcs|euros?|dollars?|pounds?"
    r"|am|pm|a\.m|p\.m|o'clock|km|miles?|kg)\b)"
)
# Street types written as abbreviations, whose full stop the span may have left out ("Thiesstr" + ".").
_ABBREVIATED_STREET = re.compile(r"(?i:str|st|rd|ave|ul|pl|al|os|blvd|hwy)$")
# Before a street: "88 ", "956, ", "68/650, ", or a number on the line above ("2\n"); and before
# that number, a flat or house prefix ("Flat ", "H.No. ").
_NUMBER_BEFORE = re.compile(rf"(?<![\w./-]){_HOUSE_NUMBER}(?:[ \t]*,)?(?:[ \t]+|[ \t]*\n[ \t]*)$")
_UNIT_BEFORE = re.compile(rf"(?<![\w.-]){_UNIT}[ \t]*$")


def is_street(name: str) -> bool:
    """Whether a place name reads as a street: a street type as its first or last word, or a German
    or Dutch street ending ("Kästerplatz", "Zdenka-Boucsein-Straße")."""
    words = name.split()
    if not words:
        return False
    first, last = words[0].rstrip(".,").lower(), words[-1].rstrip(".,").lower()
    return first in STREET_WORDS or last in STREET_WORDS or bool(_STREET_SUFFIX.search(words[-1]))


def extend_address(span: Span, text: str) -> Span:
    """A street span grown over the house number (and floor or flat) written after it, or over the
    number (and flat or house prefix) written before it: ``Vicolo Agnolo`` -> ``Vicolo Agnolo, 73``,
    ``Croal Street`` -> ``88 Croal Street``, ``Tara Ganj`` -> ``H.No. 464\\nTara Ganj``."""
    if span.label != "LOC" or not is_street(span.text):
        return span
    start, end = span.start, span.end
    dot = int(text[end : end + 1] == "." and bool(_ABBREVIATED_STREET.search(span.text)))
    if after := _NUMBER_AFTER.match(text, end + dot):
        end = after.end()
    window = max(0, start - 40)
    if before := _NUMBER_BEFORE.search(text, window, start):
        start = before.start()
        if unit := _UNIT_BEFORE.search(text, window, start):
            start = unit.start()
    if (start, end) == (span.start, span.end):
        return span
    return _with_bounds(span, text, start, end)

"""Phone numbers without a country code: the regions to try, hints from the text, and when to trust a parse.

A number written with ``+`` (or an international prefix such as ``00``) carries its own
country.  One written in a national format (``020 7946 0958``, ``06 12 34 56 78``) is parsed
in each region of ``NER_PHONE_REGIONS`` in turn, after any region the text itself suggests:
a country name ("I'm in France") or an earlier ``+CC`` number.  The first region in which
``phonenumbers`` finds the number *valid* wins, with two guards for precision, since German
and Indian numbering plans accept many digit strings:

- the *home* region (the first of ``NER_PHONE_REGIONS``) keeps the old single-region rule:
  valid there is enough;
- in any other region the number must be written like a phone number (separators between
  digit groups) and either start with that region's trunk prefix (the ``0`` of ``030 12345678``),
  or come from a region the text names, or have a phone word near it ("call", "mobile", ...).
  A bare digit run (``9876543210``) needs the phone word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import CountryCodeSource

# Words that make a digit run a phone number; "number" and "text" are left out ("order number").
PHONE_WORDS = frozenset(
    "phone phones call called calling ring tel telephone mobile mob cell cellphone whatsapp sms "
    "reach landline fax dial contact".split()
)
# Names people use that are not the English short name phonenumbers ships.
_ALIASES = {
    "uk": "GB",
    "britain": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "deutschland": "DE",
    "holland": "NL",
}
_INTERNATIONAL = re.compile(r"\+ ?[0-9][0-9 ().\-]{5,24}[0-9]")
_MIN_BARE_DIGITS = 10  # a digit run with no separators, outside the home region: a full national number
_FROM_TEXT = (CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN, CountryCodeSource.FROM_NUMBER_WITH_IDD)


class PhoneParse(NamedTuple):
    e164: str
    region: str
    validated: bool
    as_written: bool = False  # the region's national format groups the digits exactly as the text does


def normalise_regions(regions: Sequence[str]) -> tuple[str, ...]:
    """Upper-cased, de-duplicated region codes; raises ``ValueError`` naming any unknown one."""
    cleaned = tuple(dict.fromkeys(r.strip().upper() for r in regions if r.strip()))
    unknown = [r for r in cleaned if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not cleaned:
        raise ValueError(
            f"unknown phone region(s) {', '.join(unknown) or '(none given)'}; use ISO 3166 codes such as US,GB,FR"
        )
    return cleaned


@lru_cache(maxsize=1)
def _country_names() -> tuple[re.Pattern[str], dict[str, str]]:
    from phonenumbers import geocoder  # its name tables take a moment to load: only when first needed

    names = dict(_ALIASES)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        name = geocoder.country_name_for_number(example, "en") if example is not None else ""
        if name and name.lower() not in names:
            names[name.lower()] = region
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternation})(?!\w)", re.IGNORECASE), names


def hinted_regions(text: str, before: int) -> list[str]:
    """Regions the text suggests: those of ``+CC`` numbers before ``before`` (latest first), then countries it names."""
    named, numbers = _text_hints(text)
    earlier = [region for position, region in reversed(numbers) if position < before]
    return list(dict.fromkeys((*earlier, *named)))


def country_mentions(text: str) -> list[tuple[str, str]]:
    """Each country ``text`` names, as ``(the words as written, region code)``, in order ("Canada", "CA")."""
    pattern, names = _country_names()
    return [(m.group(), names[m.group().lower()]) for m in pattern.finditer(text)]


@lru_cache(maxsize=16)
def _text_hints(text: str) -> tuple[tuple[str, ...], tuple[tuple[int, str], ...]]:
    """Country names and valid ``+CC`` numbers in ``text``, found once per text, not once per candidate."""
    named = tuple(dict.fromkeys(region for _words, region in country_mentions(text)))
    numbers = []
    for match in _INTERNATIONAL.finditer(text):
        try:
            number = phonenumbers.parse(match.group(), None)
        except phonenumbers.NumberParseException:
            continue
        region = phonenumbers.region_code_for_number(number)
        if region and phonenumbers.is_valid_number(number):
            numbers.append((match.start(), region))
    return named, tuple(numbers)


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _groups(value: str) -> list[int]:
    return [len(g) for g in re.findall(r"[0-9]+", value)]


def _national(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _with_trunk_prefix(window: str, region: str) -> bool:
    prefix = str(phonenumbers.ndd_prefix_for_region(region, True) or "")
    digits = "".join(ch for ch in window if ch.isdigit())
    return bool(prefix) and digits.startswith(prefix) and not digits.startswith(prefix * 2)


def parse_phone(
    window: str,
    regions: Sequence[str],
    *,
    hints: Sequence[str] = (),
    formatted: bool,
    phone_word: bool,
) -> PhoneParse | None:
    """The number ``window`` holds, trying ``hints`` then ``regions`` (the first is home), or ``None``.

    A number that is valid nowhere but *possible* in the home region and written like a phone
    number comes back unvalidated, as the single-region recognizer always did.
    """
    home = regions[0]
    digits = sum(ch.isdigit() for ch in window)
    accepted: list[PhoneParse] = []
    for region in dict.fromkeys((*hints, *regions)):
        try:
            number = phonenumbers.parse(window, region, keep_raw_input=True)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        where = phonenumbers.region_code_for_number(number) or region
        found = PhoneParse(_e164(number), where, True, _groups(_national(number)) == _groups(window))
        if number.country_code_source in _FROM_TEXT:
            return found
        if region == home:
            ok = True
        elif not formatted:
            ok = phone_word and digits >= _MIN_BARE_DIGITS
        else:
            ok = phone_word or region in hints or _with_trunk_prefix(window, region)
        if ok and region in hints:
            return found
        if ok:
            accepted.append(found)
    if accepted:
        # Several plans may accept the digits: the one that groups them as written names the region.
        return next((f for f in accepted if f.as_written), accepted[0])
    if not formatted:
        return None
    try:
        number = phonenumbers.parse(window, home)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number(number):
        return PhoneParse(_e164(number), home, False)
    return None

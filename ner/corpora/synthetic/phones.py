"""Phone numbers for the synthetic corpus: real numbering plans, written the way people write them.

A number is drawn from a short list of real area codes and mobile prefixes per region and
completed with random digits until ``phonenumbers`` calls it valid (random digits alone are
mostly numbers no plan assigns, which no customer has).  It is then written in one *style*:
the training split and the held-out split use different styles, so the held-out set tests
formats the training split never shows.

Writers from the regions a default deployment serves (US, GB, FR, DE, IN: ``NER_PHONE_REGIONS``)
mostly write national formats; writers from elsewhere write international ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat

NATIONAL_REGIONS = ("US", "GB", "FR", "DE", "IN")
LOCALE_REGIONS = {
    "en_US": "US",
    "en_GB": "GB",
    "fr_FR": "FR",
    "de_DE": "DE",
    "en_IN": "IN",
    "es_ES": "ES",
    "it_IT": "IT",
    "nl_NL": "NL",
    "en_IE": "IE",
    "pl_PL": "PL",
}
# (region, mobile?) -> leading national digits: real area codes and mobile ranges.
PREFIXES: dict[tuple[str, bool], tuple[str, ...]] = {
    ("US", False): ("212", "415", "312", "617", "206", "303", "512", "404", "702", "919"),
    ("US", True): ("646", "929", "347", "628", "872"),
    ("GB", False): ("20", "161", "121", "131", "117", "113", "1632", "29"),
    ("GB", True): ("7700", "7911", "7400", "7520", "7825", "7956"),
    ("FR", False): ("1", "2", "3", "4", "5"),
    ("FR", True): ("6", "7"),
    ("DE", False): ("30", "40", "89", "69", "221", "711", "351"),
    ("DE", True): ("151", "160", "170", "176", "1520"),
    ("IN", False): ("11", "22", "80", "44", "33"),
    ("IN", True): ("98", "97", "96", "88", "70", "63"),
    ("ES", True): ("6",),
    ("IT", True): ("3",),
    ("NL", True): ("6",),
    ("IE", True): ("8",),
    ("PL", True): ("5", "6", "7"),
}


def valid_number(region: str, mobile: bool, rng: random.Random) -> PhoneNumber:
    """A number ``phonenumbers`` considers valid in ``region``; the same ``rng`` state gives the same one."""
    prefixes = PREFIXES.get((region, mobile)) or PREFIXES[(region, True)]
    kind = phonenumbers.PhoneNumberType.MOBILE if mobile else phonenumbers.PhoneNumberType.FIXED_LINE
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
    assert example is not None
    length = len(str(example.national_number))
    for _ in range(200):
        prefix = rng.choice(prefixes)
        digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix)))
        number = phonenumbers.parse("+" + str(example.country_code) + digits, None)
        if phonenumbers.is_valid_number(number):
            return number
    return example


def _national(n: PhoneNumber) -> str:
    return phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL)


def _international(n: PhoneNumber) -> str:
    return phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _grouped(value: str, sizes: tuple[int, ...]) -> str:
    out, position = [], 0
    for size in sizes:
        out.append(value[position : position + size])
        position += size
    if position < len(value):
        out.append(value[position:])
    return " ".join(p for p in out if p)


Style = Callable[[PhoneNumber, str], str]  # (number, the region it was drawn for)

# Training split: the canonical national and international forms, and dashes for spaces.
TRAIN_STYLES: dict[str, Style] = {
    "national": lambda n, _: _national(n),
    "international": lambda n, _: _international(n),
    "dashed": lambda n, _: _national(n).replace(" ", "-").replace("(", "").replace(")", ""),
}


def _trunk_in_brackets(n: PhoneNumber, region: str) -> str:
    if region == "US":
        return "1-" + _national(n).replace("(", "").replace(") ", "-")  # the long-distance form
    if region in ("GB", "FR", "DE"):
        return _international(n).replace(" ", " (0)", 1)  # "+44 (0)20 7946 0958"
    return _international(n)


def _regrouped(n: PhoneNumber, region: str) -> str:
    """Groupings people use beside the canonical one."""
    national, nsn = _national(n), str(n.national_number)
    if region == "IN" and len(nsn) == 10 and nsn[0] in "6789":
        return _grouped(nsn, (5, 5))  # a mobile without the trunk prefix: "98765 43210"
    if region == "US":
        return _grouped(nsn, (3, 3, 4))
    if region == "DE":
        area, _, rest = national.partition(" ")
        return f"({area}) {rest}"
    if region == "GB":
        digits = _digits(national)
        return _grouped(digits, (4, 3, 4) if digits.startswith("02") else (5, 3, 3))
    return national.replace(" ", ".")


# Held-out split: forms the training split never shows.
HELDOUT_STYLES: dict[str, Style] = {
    "dotted": lambda n, _: _national(n).replace(" ", ".").replace("(", "").replace(")", "").replace("-", "."),
    "e164": lambda n, _: phonenumbers.format_number(n, PhoneNumberFormat.E164),
    "trunk_in_brackets": _trunk_in_brackets,
    "regrouped": _regrouped,
    "compact": lambda n, _: _digits(_national(n)),  # "02079460958": a phone word is what tells it apart
}


def phone(region: str, split: str, rng: random.Random) -> str:
    """One number of ``region`` written in a style of ``split`` (international only outside NATIONAL_REGIONS)."""
    number = valid_number(region, region not in NATIONAL_REGIONS or rng.random() < 0.6, rng)
    if region not in NATIONAL_REGIONS:
        if split == "train" or rng.random() < 0.5:
            return _international(number)
        return HELDOUT_STYLES["e164"](number, region)
    styles = TRAIN_STYLES if split == "train" else HELDOUT_STYLES
    return styles[rng.choice(sorted(styles))](number, region)

"""Country and territory names of two or more words, as gazetteer places.

The names come from the region names the installed ``phonenumbers`` package ships (no network),
in the languages customers of a European deployment most often write: English, German, French,
Spanish, Italian, Dutch, Polish and Portuguese.  Only names of two or more words, or joined by a
hyphen, are kept: "Saint Kitts and Nevis", "United States", "Guinea-Bissau" are places wherever
they appear, and the models often stop after their first word; one-word names ("Jordan", "Chad",
"Georgia") are also people's names and are left to the models.
"""

from __future__ import annotations

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "pt")


def country_names(languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Sorted multi-word country and territory names in ``languages``."""
    from phonenumbers.geocoder import _region_display_name
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = set()
    for region in LOCALE_DATA:
        for language in languages:
            name = (_region_display_name(region, language) or "").strip()
            if len(name.split()) >= 2 or "-" in name.strip("-"):
                names.add(name)
    return sorted(names)


def country_terms() -> list[tuple[str, str, bool]]:
    """``(label, term, case_insensitive)`` for each name: places, in any case."""
    return [("LOC", name, True) for name in country_names()]

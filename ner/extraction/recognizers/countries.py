"""Country and territory names of two or more words, as gazetteer places.

Two sources: the region names the installed ``phonenumbers`` package ships (no network), in the
languages customers of a European deployment most often write (English, German, French, Spanish,
Italian, Dutch, Polish, Portuguese), and the official long forms written below ("Lao People's
Democratic Republic").  Only names of two or more words, or joined by a hyphen, are kept:
"Saint Kitts and Nevis", "United States", "Guinea-Bissau" are places wherever they appear, and the
models often stop after their first word; one-word names ("Jordan", "Chad", "Georgia") are also
people's names and are left to the models.
"""

from __future__ import annotations

import functools

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "pt")

# Official long forms (UN and ISO 3166 style), which the region names above do not include.
OFFICIAL_NAMES = (
    "United States of America", "United Kingdom of Great Britain and Northern Ireland", "Russian Federation",
    "Republic of Korea", "Democratic People's Republic of Korea", "Lao People's Democratic Republic",
    "People's Republic of China", "Syrian Arab Republic", "Iran (Islamic Republic of)",
    "Bolivia (Plurinational State of)", "Venezuela (Bolivarian Republic of)", "United Republic of Tanzania",
    "Republic of Moldova", "Democratic Republic of the Congo", "Republic of the Congo", "Viet Nam",
    "Brunei Darussalam", "Czech Republic", "Falkland Islands (Malvinas)", "Holy See (Vatican City State)",
    "Cocos (Keeling) Islands", "United States Virgin Islands", "Virgin Islands (U.S.)", "Virgin Islands (British)",
    "Micronesia (Federated States of)", "Federated States of Micronesia", "State of Palestine",
    "Kingdom of the Netherlands", "Republic of Ireland", "Swiss Confederation", "Federal Republic of Germany",
    "French Republic", "Kingdom of Spain", "Italian Republic", "Republic of Poland", "Portuguese Republic",
)  # fmt: skip


def region_names(language: str) -> set[str]:
    """The names ``phonenumbers`` gives its regions in ``language`` (blank ones left out)."""
    from phonenumbers.geocoder import _region_display_name
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = {(_region_display_name(region, language) or "").strip() for region in LOCALE_DATA}
    return names - {""}


def country_names(languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Sorted multi-word country and territory names in ``languages``."""
    names = {
        name
        for language in languages
        for name in region_names(language)
        if len(name.split()) >= 2 or "-" in name.strip("-")
    }
    return sorted(names | set(OFFICIAL_NAMES))


def country_terms() -> list[tuple[str, str, bool]]:
    """``(label, term, case_insensitive)`` for each name: places, in any case."""
    return [("LOC", name, True) for name in country_names()]


# One-word country names that are also a person's name, a company's or a word ("Jordan" shoes).
NOT_ONLY_COUNTRIES = frozenset({"Chad", "Georgia", "Jersey", "Jordan", "Turkey"})


@functools.cache
def one_word_countries() -> frozenset[str]:
    """Lower-cased English one-word country names, less :data:`NOT_ONLY_COUNTRIES`, plus short forms."""
    names = {name for name in region_names("en") if " " not in name and "-" not in name}
    names |= {"USA", "U.S.", "U.S.A.", "UK", "U.K.", "America", "Britain", "Holland"}
    return frozenset(name.lower() for name in names - NOT_ONLY_COUNTRIES)

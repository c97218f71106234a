"""The product's entity labels, and one table from other annotation schemes to them.

``None`` means the type has no counterpart here and is dropped (read as ``O``).
Choices worth knowing:
- facilities (spaCy ``FAC``, WNUT-16 ``facility``) become ``LOC``, as in UNER's guidelines;
- groups, teams and companies become ``ORG``;
- WNUT-16 ``musicartist`` becomes ``PER`` (most are single artists; bands are the exception);
- creative works, events, nationalities, laws and numbers without a unit are dropped.
"""

from __future__ import annotations

GENERAL_LABELS: tuple[str, ...] = ("PER", "ORG", "LOC", "PRODUCT")
STRUCTURED_LABELS: tuple[str, ...] = (
    "EMAIL",
    "PHONE",
    "URL",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "IBAN",
    "ORDER_ID",
    "MONEY",
    "DATE",
)
ALL_LABELS: tuple[str, ...] = GENERAL_LABELS + STRUCTURED_LABELS

LABEL_CHOICES: list[tuple[str, str]] = [(label, label) for label in ALL_LABELS]


def is_known_label(label: str) -> bool:
    return label in ALL_LABELS


LABEL_MAP: dict[str, dict[str, str | None]] = {
    "spacy": {  # OntoNotes 5, as used by spaCy's English pipelines
        "PERSON": "PER",
        "ORG": "ORG",
        "GPE": "LOC",
        "LOC": "LOC",
        "FAC": "LOC",
        "PRODUCT": "PRODUCT",
        "MONEY": "MONEY",
        "DATE": "DATE",
        "NORP": None,
        "EVENT": None,
        "WORK_OF_ART": None,
        "LAW": None,
        "LANGUAGE": None,
        "TIME": None,
        "PERCENT": None,
        "QUANTITY": None,
        "ORDINAL": None,
        "CARDINAL": None,
    },
    "conll": {"PER": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": None},
    "uner": {"PER": "PER", "ORG": "ORG", "LOC": "LOC"},
    "wnut16": {
        "person": "PER",
        "musicartist": "PER",
        "company": "ORG",
        "sportsteam": "ORG",
        "geo-loc": "LOC",
        "facility": "LOC",
        "product": "PRODUCT",
        "movie": None,
        "tvshow": None,
        "other": None,
    },
    "wnut17": {
        "person": "PER",
        "location": "LOC",
        "corporation": "ORG",
        "group": "ORG",
        "product": "PRODUCT",
        "creative-work": None,
    },
}
LABEL_MAP["ontonotes"] = LABEL_MAP["spacy"]

SCHEMES: tuple[str, ...] = tuple(LABEL_MAP)


def map_label(label: str, scheme: str) -> str | None:
    """Our label for ``label`` of ``scheme``; ``None`` when it has no counterpart.

    A label that is already one of ours passes through unchanged, so mixed files
    (ours plus a few foreign types) map cleanly.  An unknown label raises
    ``KeyError`` naming the scheme, so a typo is not silently dropped.
    """
    if scheme not in LABEL_MAP:
        raise KeyError(f"unknown label scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    table = LABEL_MAP[scheme]
    if label in table:
        return table[label]
    if label in ALL_LABELS:
        return label
    raise KeyError(f"label {label!r} is not in the {scheme} scheme")


def map_tag(tag: str, scheme: str) -> str:
    """Map one IOB tag (``B-person`` -> ``B-PER``; dropped types -> ``O``)."""
    if tag == "O":
        return tag
    prefix, _, label = tag.partition("-")
    mapped = map_label(label, scheme)
    return f"{prefix}-{mapped}" if mapped else "O"

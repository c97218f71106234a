"""The product's entity labels (see ARCHITECTURE.md, "Contracts")."""

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

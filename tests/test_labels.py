"""The one label-mapping table from other schemes to ours."""

from __future__ import annotations

import pytest

from ner.labels import ALL_LABELS, LABEL_MAP, SCHEMES, map_label, map_tag


def test_every_target_is_one_of_our_labels() -> None:
    for scheme, table in LABEL_MAP.items():
        for source, target in table.items():
            assert target is None or target in ALL_LABELS, (scheme, source, target)


@pytest.mark.parametrize(
    ("scheme", "label", "ours"),
    [
        ("spacy", "PERSON", "PER"),
        ("spacy", "GPE", "LOC"),
        ("spacy", "FAC", "LOC"),
        ("spacy", "CARDINAL", None),
        ("ontonotes", "ORG", "ORG"),
        ("conll", "MISC", None),
        ("uner", "LOC", "LOC"),
        ("wnut16", "geo-loc", "LOC"),
        ("wnut16", "sportsteam", "ORG"),
        ("wnut16", "musicartist", "PER"),
        ("wnut16", "movie", None),
        ("wnut17", "corporation", "ORG"),
        ("wnut17", "group", "ORG"),
        ("wnut17", "creative-work", None),
        ("wnut17", "ORDER_ID", "ORDER_ID"),  # our own labels pass through
    ],
)
def test_map_label(scheme: str, label: str, ours: str | None) -> None:
    assert map_label(label, scheme) == ours


def test_map_tag_keeps_prefix_and_drops_to_o() -> None:
    assert map_tag("I-person", "wnut17") == "I-PER"
    assert map_tag("B-creative-work", "wnut17") == "O"
    assert map_tag("O", "wnut16") == "O"


def test_unknown_scheme_and_label_raise() -> None:
    with pytest.raises(KeyError, match="unknown label scheme"):
        map_label("PER", "nope")
    with pytest.raises(KeyError, match="not in the wnut17 scheme"):
        map_label("alien", "wnut17")


def test_wnut16_package_types_are_all_in_the_table() -> None:
    from ner.corpora.specs import wnut16_path

    types = set()
    for line in wnut16_path().read_text(encoding="utf-8").splitlines():
        tag = line.rsplit("\t", 1)[-1].strip()
        if tag and tag != "O":
            types.add(tag.split("-", 1)[1])
    assert types <= set(LABEL_MAP["wnut16"]), types - set(LABEL_MAP["wnut16"])
    assert "wnut16" in SCHEMES

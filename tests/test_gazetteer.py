"""The gazetteer recognizer: PhraseMatcher over GazetteerTerm rows, case rules, offsets, refresh, seeds."""

from __future__ import annotations

from typing import Any

import pytest

from ner.extraction import pipeline
from ner.extraction.pipeline import extract
from ner.extraction.recognizers import gazetteer
from ner.extraction.recognizers.carriers import CARRIERS
from ner.extraction.recognizers.countries import country_names
from ner.extraction.recognizers.gazetteer import (
    DEMO_TERMS,
    GazetteerRecognizer,
    seed_country_names,
    seed_demo_gazetteer,
    seed_parcel_carriers,
)
from ner.models import GazetteerTerm
from tests.test_pipeline import FakeTagger

TERMS = [
    {"label": "PRODUCT", "term": "Acme Cloud", "case_insensitive": True},
    {"label": "PRODUCT", "term": "Acme Cloud Pro", "case_insensitive": True},
    {"label": "ORG", "term": "UPS", "case_insensitive": False},
    {"label": "ORG", "term": "Zoë & Co", "case_insensitive": True},
]


def labelled(spans: list) -> list[tuple[str, str]]:
    return [(s.label, s.text) for s in spans]


def test_case_insensitive_and_longest_match() -> None:
    recognizer = GazetteerRecognizer(TERMS)
    text = "My ACME cloud pro broke; the acme Cloud app too. Sent by UPS, ups and downs."
    spans = recognizer.recognize([text])[0]
    assert labelled(spans) == [("PRODUCT", "ACME cloud pro"), ("PRODUCT", "acme Cloud"), ("ORG", "UPS")]
    assert all(text[s.start : s.end] == s.text and s.source == "gazetteer" for s in spans)


def test_offsets_survive_emoji_crlf_and_non_latin_text() -> None:
    recognizer = GazetteerRecognizer(TERMS)
    text = "😀👍🏽 Привет\r\n東京から zoë & co 🚚 Acme Cloud\r\n"
    spans = recognizer.recognize([text, ""])
    assert labelled(spans[0]) == [("ORG", "zoë & co"), ("PRODUCT", "Acme Cloud")]
    assert all(text[s.start : s.end] == s.text for s in spans[0])
    assert spans[1] == []


def test_partial_tokens_do_not_match() -> None:
    assert GazetteerRecognizer(TERMS).recognize(["SUPSAcme Clouds"]) == [[]]


@pytest.mark.django_db
def test_database_terms_are_refreshed_when_they_change() -> None:
    gazetteer.clear_cache()
    recognizer = GazetteerRecognizer()
    assert recognizer.recognize(["Nimbus X2 is broken"]) == [[]]
    term = GazetteerTerm.objects.create(label="PRODUCT", term="Nimbus X2")
    assert labelled(recognizer.recognize(["nimbus x2 is broken"])[0]) == [("PRODUCT", "nimbus x2")]
    term.case_insensitive = False
    term.save()
    assert recognizer.recognize(["nimbus x2 is broken"]) == [[]]
    term.enabled = False
    term.save()
    assert recognizer.recognize(["Nimbus X2 is broken"]) == [[]]


@pytest.mark.django_db
def test_seed_is_idempotent() -> None:
    said: list[str] = []
    seed_demo_gazetteer(said.append)
    seed_demo_gazetteer(said.append)
    assert GazetteerTerm.objects.count() == len(DEMO_TERMS)
    assert not GazetteerTerm.objects.get(term="UPS").case_insensitive
    assert "0 gazetteer term(s) added" in said[-1]


@pytest.mark.django_db
def test_seeded_carriers_are_found_in_any_case_and_acronyms_only_in_capitals() -> None:
    said: list[str] = []
    seed_parcel_carriers(said.append)
    seed_parcel_carriers(said.append)
    assert GazetteerTerm.objects.count() == len(CARRIERS)
    assert "0 carrier(s) added" in said[-1]
    texts = [
        "I sent the broken unit with An Post on Monday.",
        "pls have inpost deliver it tomorrow",
        "Chronopost's driver left it in the rain",
        "The UPS driver never came; ups and downs all week.",
        "Where should I post the letter?",
        "My DHL parcel is late, the DHL Parcel depot says nothing.",
    ]
    found = [[(s.text, s.label, s.source) for s in spans] for spans in GazetteerRecognizer().recognize(texts)]
    assert found == [
        [("An Post", "ORG", "gazetteer")],
        [("inpost", "ORG", "gazetteer")],
        [("Chronopost", "ORG", "gazetteer")],
        [("UPS", "ORG", "gazetteer")],
        [],
        [("DHL", "ORG", "gazetteer"), ("DHL Parcel", "ORG", "gazetteer")],  # a name with an acronym: as written
    ]


@pytest.mark.django_db
def test_carriers_reach_the_default_pipeline_where_no_model_spoke() -> None:
    seed_parcel_carriers(lambda _line: None)
    spans = extract(["Bpost says the address does not exist."], recognizers=["patterns", "rules", "gazetteer"])
    assert [(s.text, s.label) for s in spans[0]] == [("Bpost", "ORG")]


@pytest.mark.django_db
def test_a_known_name_replaces_the_model_spans_inside_it(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    seed_parcel_carriers(lambda _line: None)
    text = "Please have An Post deliver it; I sent the unit with Chronopost, and Postman Pat lost it."
    tagger = FakeTagger({text: [("Post", "ORG"), ("Chronopost", "PRODUCT"), ("Postman Pat", "PER")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    found = [(s.text, s.label, s.kind) for s in extract([text], recognizers=["tagger", "gazetteer"])[0]]
    assert found == [
        ("An Post", "ORG", "gazetteer"),
        ("Chronopost", "ORG", "gazetteer"),
        ("Postman Pat", "PER", "tagger"),
    ]


def test_country_names_are_several_words_in_several_languages() -> None:
    names = country_names()
    assert {"Saint Kitts And Nevis", "Trinidad and Tobago", "United States", "Guinea Ecuatorial"} <= set(names)
    assert {"Bosnien und Herzegowina", "Polynésie française"} & set(names)
    assert not {"Jordan", "Chad", "Georgia"} & set(names)  # one-word names are also people's


@pytest.mark.django_db
def test_a_country_name_replaces_the_models_first_word(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    said: list[str] = []
    seed_country_names(said.append)
    assert GazetteerTerm.objects.filter(label="LOC").count() == len(country_names())
    text = "I move to Saint Kitts and Nevis on Mar 8; Jordan will help."
    tagger = FakeTagger({text: [("Saint Kitts", "LOC"), ("Jordan", "PER")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    found = [(s.text, s.label) for s in extract([text], recognizers=["tagger", "gazetteer"])[0]]
    assert found == [("Saint Kitts and Nevis", "LOC"), ("Jordan", "PER")]


@pytest.mark.django_db
def test_a_product_category_after_a_product_name_is_not_a_second_product(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    GazetteerTerm.objects.create(label="PRODUCT", term="smart watch")
    text = "My Vela Flex 8 smart watch broke; I also want a smart watch for my son."
    tagger = FakeTagger({text: [("Vela Flex 8", "PRODUCT")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    found = [(s.text, s.start, s.kind) for s in extract([text], recognizers=["tagger", "gazetteer"])[0]]
    assert found == [("Vela Flex 8", 3, "tagger"), ("smart watch", text.rindex("smart watch"), "gazetteer")]

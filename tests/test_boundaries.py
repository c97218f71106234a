"""Boundary repairs of model spans: legal forms, connectors, possessives, places split at commas, house numbers."""

from __future__ import annotations

from typing import Any

import pytest

from ner.extraction import pipeline
from ner.extraction.boundaries import extend_address, extend_company, repair_span, split_places, split_span
from ner.extraction.pipeline import extract, grow_kept_spans, model_spans
from ner.spans import Span, make_span
from tests.test_pipeline import FakeTagger


def model_span(text: str, piece: str, label: str) -> Span:
    start = text.index(piece)
    return make_span(text, start, start + len(piece), label, 0.9, "tagger:test")


@pytest.mark.parametrize(
    ("text", "piece", "label", "expected"),
    [
        ("There is a payment to Dugar Inc I did not make.", "Dugar", "ORG", ("Dugar Inc", "ORG")),
        ("Acme, Inc. is great", "Acme", "ORG", ("Acme, Inc.", "ORG")),
        ("Higgins PLC's driver left it outside.", "Higgins", "PER", ("Higgins PLC", "ORG")),
        ("a payment to Uphus NV I did not make", "Uphus", "LOC", ("Uphus NV", "ORG")),
        ("Our company is KITZMANN E.V.. thx", "KITZMANN E.V", "ORG", ("KITZMANN E.V.", "ORG")),
        ("hey Eastgate & Juras's driver left it", "Eastgate &", "ORG", ("Eastgate & Juras", "ORG")),
        ("hey Eastgate & the driver", "Eastgate &", "ORG", ("Eastgate", "ORG")),
        ("Stowarzyszenie Kapinos's driver", "Stowarzyszenie Kapinos's", "ORG", ("Stowarzyszenie Kapinos", "ORG")),
        # A person's title is not part of the name; a title alone, or before an organisation, stays.
        ("Following my call with Mr. Mosemann on Monday", "Mr. Mosemann", "PER", ("Mosemann", "PER")),
        ("ask ms. ward from your team", "ms. ward", "PER", ("ward", "PER")),
        ("Dr Who is on", "Dr", "PER", ("Dr", "PER")),
        ("President Vladimir Putin said", "President Vladimir Putin", "PER", ("Vladimir Putin", "PER")),
        ("condemned the murder of Sheikh Ahmed Yassin", "Sheikh Ahmed Yassin", "PER", ("Ahmed Yassin", "PER")),
        ("Any news on Aunt Toni?", "Aunt Toni", "PER", ("Toni", "PER")),
        ("General Motors recalled cars", "General Motors", "ORG", ("General Motors", "ORG")),
        ("Sir Galahad Ltd called", "Sir Galahad Ltd", "ORG", ("Sir Galahad Ltd", "ORG")),
        # Brackets: closed on the same line, or cut off with the space before them.
        (
            "I move to Holy See (Vatican City State) on Jan 7",
            "Holy See (Vatican City",
            "LOC",
            ("Holy See (Vatican City State)", "LOC"),
        ),
        ("I move to Isole Falkland (Malvinas) soon", "Isole Falkland (", "LOC", ("Isole Falkland (Malvinas)", "LOC")),
        ("we ship to Lyon (and then Paris", "Lyon (", "LOC", ("Lyon", "LOC")),
        ("in Springfield (\nnext line)", "Springfield (", "LOC", ("Springfield", "LOC")),
        ("Acme (UK) Ltd", "Acme (UK)", "ORG", ("Acme (UK) Ltd", "ORG")),
        # Left alone: a state's abbreviation, an English word, a plural possessive, a legal form on the next line.
        ("I live in Denver, CO now", "Denver", "LOC", ("Denver", "LOC")),
        ("John as well as Mary", "John", "PER", ("John", "PER")),
        ("the Jones' house", "Jones", "PER", ("Jones", "PER")),
        ("Regards, Anna Berg\nLtd company", "Anna Berg", "PER", ("Anna Berg", "PER")),
        ("The Helio Air 2 Inc", "Helio Air 2", "PRODUCT", ("Helio Air 2", "PRODUCT")),
    ],
)
def test_repair_span(text: str, piece: str, label: str, expected: tuple[str, str]) -> None:
    repaired = repair_span(model_span(text, piece, label), text)
    assert (repaired.text, repaired.label) == expected
    assert text[repaired.start : repaired.end] == repaired.text


@pytest.mark.parametrize(
    ("text", "piece", "expected"),
    [
        ("my address is 8, chemin Blondel, Lyon. Please", "8, chemin Blondel, Lyon", ["8, chemin Blondel", "Lyon"]),
        (
            "to Via Tolentino, 22 Appartamento 59, Piedimonte San Germano Alta with",
            "Via Tolentino, 22 Appartamento 59, Piedimonte San Germano Alta",
            ["Via Tolentino, 22 Appartamento 59", "Piedimonte San Germano Alta"],
        ),
        ("in Springfield, Illinois, USA today", "Springfield, Illinois, USA", ["Springfield", "Illinois", "USA"]),
        ("in raymondbury, iceland today", "raymondbury, iceland", ["raymondbury", "iceland"]),
        ("is 8, chemin blondel, jean. ok", "8, chemin blondel, jean", ["8, chemin blondel", "jean"]),
        ("go to vicolo milo, 764 piano 2", "vicolo milo, 764 piano 2", ["vicolo milo, 764 piano 2"]),
        ("at 12 Main St, 4th floor", "12 Main St, 4th floor", ["12 Main St, 4th floor"]),
    ],
)
def test_split_places(text: str, piece: str, expected: list[str]) -> None:
    parts = split_places(model_span(text, piece, "LOC"), text)
    assert [p.text for p in parts] == expected
    assert all(text[p.start : p.end] == p.text and p.label == "LOC" for p in parts)


def test_only_places_are_split_at_commas() -> None:
    text = "Stone, Taggart and Fegan"
    span = model_span(text, text, "ORG")
    assert split_places(span, text) == [span] == split_span(span, text)


@pytest.mark.parametrize(
    ("text", "piece", "label", "expected"),
    [
        ("Moving Fullerfurt -> Lambtown on 25 May", "Fullerfurt -> Lambtown", "LOC", ["Fullerfurt", "Lambtown"]),
        ("from Acme → Globex, then", "Acme → Globex", "ORG", ["Acme", "Globex"]),
        (
            "Moving Paris -> Springfield, Illinois now",
            "Paris -> Springfield, Illinois",
            "LOC",
            ["Paris", "Springfield", "Illinois"],
        ),
        ("the Helio -> Max blender", "Helio -> Max", "PRODUCT", ["Helio -> Max"]),
    ],
)
def test_split_span_at_arrows(text: str, piece: str, label: str, expected: list[str]) -> None:
    parts = split_span(model_span(text, piece, label), text)
    assert [p.text for p in parts] == expected
    assert all(text[p.start : p.end] == p.text and p.label == label for p in parts)


def test_a_nationality_word_alone_is_not_a_place() -> None:
    text = "Many see the Israeli air strikes as a response; the Palestinians and the Indian Ocean states agree."
    spans = [
        model_span(text, "Israeli", "LOC"),
        model_span(text, "Palestinians", "LOC"),
        model_span(text, "Indian Ocean", "LOC"),
    ]
    assert [(s.text, s.label) for s in model_spans(text, spans)] == [("Indian Ocean", "LOC")]


def test_model_spans_repairs_then_drops_spans_that_cannot_be_names() -> None:
    text = "Higgins PLC's driver 🙏 came to Springfield, Illinois. The repair centre"
    spans = [
        model_span(text, "Higgins", "PER"),
        model_span(text, "🙏", "ORG"),
        model_span(text, "The", "LOC"),
        model_span(text, "Springfield, Illinois", "LOC"),
    ]
    assert [(s.text, s.label) for s in model_spans(text, spans)] == [
        ("Higgins PLC", "ORG"),
        ("Springfield", "LOC"),
        ("Illinois", "LOC"),
    ]


@pytest.mark.django_db
def test_the_pipeline_repairs_the_taggers_spans(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    text = "There is a payment of 25 USD to Dugar Inc I did not make. I moved to 8, chemin Blondel, Lyon."
    tagger = FakeTagger({text: [("Dugar", "PER"), ("8, chemin Blondel, Lyon", "LOC")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    found = [(s.text, s.label) for s in extract([text], recognizers=["tagger"])[0]]
    assert found == [("Dugar Inc", "ORG"), ("8, chemin Blondel", "LOC"), ("Lyon", "LOC")]


@pytest.mark.parametrize(
    ("text", "piece", "expected"),
    [
        ("Pickups should go to Vicolo Agnolo, 73.", "Vicolo Agnolo", "Vicolo Agnolo, 73"),
        ("my address is Kästerplatz 89/19 now", "Kästerplatz", "Kästerplatz 89/19"),
        ("go to Thiesstr. 91", "Thiesstr", "Thiesstr. 91"),
        ("go to ul. Nadbrzeżna 310", "ul. Nadbrzeżna", "ul. Nadbrzeżna 310"),
        ("deliver to 88 Croal Street, Leeds", "Croal Street", "88 Croal Street"),
        ("go to 68/650, Pal Chowk. Thanks", "Pal Chowk", "68/650, Pal Chowk"),
        ("is Rotonda Pietro, 16 Piano 0 in Rome", "Rotonda Pietro", "Rotonda Pietro, 16 Piano 0"),
        ("at H.No. 464\nTara Ganj, Pune", "Tara Ganj", "H.No. 464\nTara Ganj"),
        ("to Flat 2\nAndrews Park, Clarechester", "Andrews Park", "Flat 2\nAndrews Park"),
        # Left alone: not a street, a number that counts something, an order number, no number.
        ("Paris 2 days ago", "Paris", "Paris"),
        ("Oxford Street 2 days ago", "Oxford Street", "Oxford Street"),
        ("meet me at Central Park 4 pm", "Central Park", "Central Park"),
        ("it is on Oxford Street 2nd floor", "Oxford Street", "Oxford Street"),
        ("Order ORD-12345 Main Street", "Main Street", "Main Street"),
        ("see Main St. now", "Main St", "Main St"),
    ],
)
def test_a_street_takes_its_house_number(text: str, piece: str, expected: str) -> None:
    grown = extend_address(model_span(text, piece, "LOC"), text)
    assert grown.text == expected and text[grown.start : grown.end] == expected


def test_only_places_take_house_numbers() -> None:
    text = "Ask Main Street 12 about it"
    assert extend_address(model_span(text, "Main Street", "ORG"), text).text == "Main Street"


def test_grow_kept_spans_drops_the_fragments_a_street_grew_over() -> None:
    text = "pickups should go to Strada Montesano, 45 from Monday"
    spans = [model_span(text, "Strada Montesano", "LOC"), model_span(text, "45", "LOC")]
    assert [(s.text, s.label) for s in grow_kept_spans(text, spans)] == [("Strada Montesano, 45", "LOC")]


@pytest.mark.django_db
def test_the_pipeline_grows_streets_after_the_combiner(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    text = "We relocated; pickups should go to Vicolo Agnolo, 73."
    tagger = FakeTagger({text: [("Vicolo Agnolo", "LOC")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    assert [(s.text, s.label) for s in extract([text], recognizers=["tagger"])[0]] == [("Vicolo Agnolo, 73", "LOC")]


@pytest.mark.parametrize(
    ("text", "piece", "label", "expected"),
    [
        ("hi, McAleavy Group's driver left it outside", "McAleavy", "PER", ("McAleavy Group", "ORG")),
        ("There is a payment to Larkspur Realty I did not make", "Larkspur", "LOC", ("Larkspur Realty", "ORG")),
        ("our company is fgx realty.", "fgx", "ORG", ("fgx realty", "ORG")),
        ("Please upgrade COPPERFIELD BROADBAND now", "COPPERFIELD", "ORG", ("COPPERFIELD BROADBAND", "ORG")),
        ("I flew Singapore Airlines", "Singapore", "LOC", ("Singapore Airlines", "ORG")),
        # Left alone: a designator in lower case after a capitalised name, a plain noun, a longer word.
        ("Ask Anna group leaders", "Anna", "PER", ("Anna", "PER")),
        ("Germany Energy prices rose", "Germany", "LOC", ("Germany", "LOC")),
        ("the Smith Groupies came", "Smith", "PER", ("Smith", "PER")),
    ],
)
def test_a_company_designator_makes_an_organisation(
    text: str, piece: str, label: str, expected: tuple[str, str]
) -> None:
    grown = extend_company(model_span(text, piece, label), text)
    assert (grown.text, grown.label) == expected and text[grown.start : grown.end] == grown.text


def test_a_country_a_model_calls_an_organisation_is_a_place() -> None:
    text = "Israel said no; Jordan sneakers and Israel Chemicals are companies, Japan is a place."
    spans = [
        model_span(text, "Israel", "ORG"),
        model_span(text, "Jordan", "ORG"),
        model_span(text, "Israel Chemicals", "ORG"),
        model_span(text, "Japan", "PER"),
    ]
    assert [(s.text, s.label) for s in grow_kept_spans(text, spans)] == [
        ("Israel", "LOC"),
        ("Jordan", "ORG"),  # also a brand and a name: left to the models
        ("Israel Chemicals", "ORG"),
        ("Japan", "PER"),  # only organisations are refiled
    ]

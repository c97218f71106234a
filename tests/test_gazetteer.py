"""The gazetteer recognizer: PhraseMatcher over GazetteerTerm rows, case rules, offsets, refresh, seeds."""

from __future__ import annotations

import pytest

from ner.extraction.recognizers import gazetteer
from ner.extraction.recognizers.gazetteer import DEMO_TERMS, GazetteerRecognizer, seed_demo_gazetteer
from ner.models import GazetteerTerm

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

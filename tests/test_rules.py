"""Admin-defined extraction rules: validation, safe execution, caching, the admin form and the seeds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from ner.extraction import pipeline
from ner.extraction.admin_rules import (
    DEFAULT_RULES,
    RuleValidationError,
    nested_quantifier,
    seed_default_rules,
    validate_rule,
)
from ner.extraction.pipeline import extract
from ner.extraction.recognizers import rules as rule_recognizer
from ner.extraction.recognizers.rules import RuleRecognizer
from ner.forms import ExtractionRuleForm
from ner.models import ExtractionRule
from tests.test_pipeline import FakeTagger


def errors_for(pattern: str, **kwargs: Any) -> dict[str, list[str]]:
    kwargs.setdefault("examples", ["ORD-123456"])
    with pytest.raises(RuleValidationError) as info:
        validate_rule(pattern, **kwargs)
    return info.value.errors


def test_a_good_rule_compiles() -> None:
    regex = validate_rule(r"ORD-[0-9]{6}", examples=["ORD-123456"], counter_examples=["ORD-12345", "XORD-123456"])
    assert regex.search("order ORD-123456 late") is not None


@pytest.mark.parametrize(
    ("pattern", "phrase"),
    [
        (r"(a+)+$", "Nested quantifiers"),
        (r"(\w+\s?)*ORD", "Nested quantifiers"),
        (r"(?:x*)*y", "Nested quantifiers"),
        (r"ORD(?=-)", "look-around"),
        (r"(ORD)-\1", "backreferences"),
        (r"(?>ORD)", "atomic groups"),
        (r"ORD-[0-9", "does not compile under RE2"),
        (r"x*", "matches the empty text"),
        ("", "empty"),
        ("a" * 600, "limit is 500"),
    ],
)
def test_bad_patterns_are_refused_with_a_reason(pattern: str, phrase: str) -> None:
    started = time.perf_counter()
    errors = errors_for(pattern)
    assert phrase in " ".join(errors["pattern"])
    assert time.perf_counter() - started < 2.0  # generous for a busy machine; re would take minutes


def test_catastrophic_pattern_is_refused_quickly_even_with_a_hostile_example() -> None:
    # Under Python's re, (a+)+$ on this example would take minutes; validation never runs it there.
    started = time.perf_counter()
    errors = errors_for(r"(a+)+$", examples=["a" * 40 + "!"])
    assert "pattern" in errors
    assert time.perf_counter() - started < 2.0  # generous for a busy machine; re would take minutes


def test_nested_quantifier_detector() -> None:
    assert nested_quantifier(r"(a+)+") is not None
    assert nested_quantifier(r"(?:ab|cd)+") is None
    assert nested_quantifier(r"(?:[A-Z]{2}-)+[0-9]+") is None
    assert nested_quantifier(r"\p{L}+") is None  # RE2-only syntax: left to RE2


def test_examples_and_counter_examples() -> None:
    errors = errors_for(r"ORD-[0-9]{6}", examples=["ORD-12345", "order ORD-123456"], counter_examples=["ORD-654321"])
    assert "does not match the example 'ORD-12345' in full (it found nothing)" in errors["examples"][0]
    assert "(it found 'ORD-123456')" in errors["examples"][1]
    assert "matches 'ORD-654321'" in errors["counter_examples"][0]
    assert "at least one example" in errors_for(r"ORD-[0-9]{6}", examples=[])["examples"][0]


def test_case_insensitive_rules() -> None:
    validate_rule(r"ord-[0-9]{6}", case_insensitive=True, examples=["ORD-123456"])
    with pytest.raises(RuleValidationError):
        validate_rule(r"ord-[0-9]{6}", case_insensitive=False, examples=["ORD-123456"])


def test_default_rules_are_valid() -> None:
    for rule in DEFAULT_RULES:
        validate_rule(
            rule["pattern"],
            case_insensitive=rule.get("case_insensitive", False),
            examples=rule["examples"],
            counter_examples=rule["counter_examples"],
        )


def test_recognizer_with_given_rules() -> None:
    recognizer = RuleRecognizer(list(DEFAULT_RULES))
    text = "😀 Order ORD-123456, ticket tck-20931; not XORD-123456 nor ORD-123"
    spans = recognizer.recognize([text, ""])
    assert [(s.label, s.text) for s in spans[0]] == [("ORDER_ID", "ORD-123456"), ("ORDER_ID", "tck-20931")]
    order = spans[0][0]
    assert order.source == "rule:order-id" and order.meta["context"] == "order" and order.score > 0.8
    assert text[order.start : order.end] == order.text
    assert spans[1] == []


def test_broken_rule_is_skipped_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    rules = [{"name": "broken", "pattern": "(?=x)", "label": "ORDER_ID"}, dict(DEFAULT_RULES[0])]
    spans = RuleRecognizer(rules).recognize(["ORD-123456"])[0]
    assert [s.text for s in spans] == ["ORD-123456"]
    assert "broken" in caplog.text


def test_input_is_capped() -> None:
    spans = RuleRecognizer(list(DEFAULT_RULES), max_chars=20).recognize(["x" * 30 + " ORD-123456"])[0]
    assert spans == []


def test_slow_rule_is_disabled(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.NER_RULE_TIMEOUT_S = 0.0000001
    recognizer = RuleRecognizer(list(DEFAULT_RULES[:1]))
    recognizer.recognize(["ORD-123456 " * 2000])
    assert "disabled in this process" in caplog.text
    assert recognizer.recognize(["ORD-123456"]) == [[]]


@pytest.mark.django_db
def test_database_rules_are_cached_and_refreshed() -> None:
    rule_recognizer.clear_cache()
    recognizer = RuleRecognizer()
    assert recognizer.recognize(["ORD-123456"]) == [[]]
    rule = ExtractionRule.objects.create(name="order", pattern=r"ORD-[0-9]{6}", examples=["ORD-123456"])
    assert [s.text for s in recognizer.recognize(["ORD-123456"])[0]] == ["ORD-123456"]
    first = rule_recognizer.active_rules()
    assert rule_recognizer.active_rules() is first  # unchanged rules: not recompiled
    rule.enabled = False
    rule.save()
    assert recognizer.recognize(["ORD-123456"]) == [[]]
    # A rule broken in the database (written around the form) is skipped, not fatal.
    ExtractionRule.objects.create(name="bad", pattern="(a)\\1")
    ExtractionRule.objects.create(name="ticket", pattern=r"TCK-[0-9]{4}")
    assert [s.text for s in recognizer.recognize(["TCK-1234"])[0]] == ["TCK-1234"]


@pytest.mark.django_db
def test_form_reports_errors_per_field() -> None:
    form = ExtractionRuleForm(
        data={
            "name": "order",
            "label": "ORDER_ID",
            "pattern": "(a+)+",
            "examples": "ORD-1\n",
            "counter_examples": "",
            "context_words": "Order\nshipment",
            "score": "0.7",
            "enabled": "on",
        }
    )
    assert not form.is_valid()
    assert "Nested quantifiers" in form.errors["pattern"][0]

    form = ExtractionRuleForm(
        data={
            "name": "order",
            "label": "ORDER_ID",
            "pattern": "ORD-[0-9]{6}",
            "examples": "ORD-123456\n\n ORD-654321 ",
            "counter_examples": "ORD-12",
            "context_words": "Order\nshipment",
            "score": "0.7",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["examples"] == ["ORD-123456", "ORD-654321"]
    assert form.cleaned_data["context_words"] == ["order", "shipment"]


@pytest.mark.django_db
def test_admin_shows_a_form_error_not_a_500() -> None:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    data = {
        "name": "evil",
        "label": "ORDER_ID",
        "pattern": "(a|aa)+(?=b)",
        "examples": "aab",
        "counter_examples": "",
        "context_words": "",
        "score": "0.6",
        "enabled": "on",
    }
    response = client.post("/admin/ner/extractionrule/add/", data)
    assert response.status_code == 200
    assert "does not support look-around" in response.content.decode()
    assert not ExtractionRule.objects.exists()

    data.update(pattern="ORD-[0-9]{6}", examples="ORD-123456")
    response = client.post("/admin/ner/extractionrule/add/", data)
    assert response.status_code == 302
    rule = ExtractionRule.objects.get(name="evil")
    assert rule.examples == ["ORD-123456"]
    # The change form shows the stored lists one entry per line.
    rule.examples = ["ORD-123456", "ORD-654321"]
    rule.save()
    page = client.get(f"/admin/ner/extractionrule/{rule.pk}/change/").content.decode()
    assert "ORD-123456\nORD-654321" in page


@pytest.mark.django_db
def test_seed_is_idempotent() -> None:
    said: list[str] = []
    seed_default_rules(said.append)
    seed_default_rules(said.append)
    assert ExtractionRule.objects.count() == len(DEFAULT_RULES)
    assert "0 extraction rule(s) added" in said[-1]


def test_default_rules_find_street_addresses_in_a_message() -> None:
    recognizer = RuleRecognizer(list(DEFAULT_RULES))
    text = (
        "Please deliver to ul. Sportowa 17, not Kästerplatz 89/19; my old address was 8172 April Street "
        "or H.No. 35\nParsa Marg. I sent it via DHL 2 days ago and ordered 3 Acme Cloud units."
    )
    found = [(s.label, s.text, s.source) for s in recognizer.recognize([text])[0]]
    assert found == [
        ("LOC", "ul. Sportowa 17", "rule:street-polish"),
        ("LOC", "Kästerplatz 89/19", "rule:street-compound"),
        ("LOC", "8172 April Street", "rule:street-number-first"),
        ("LOC", "H.No. 35\nParsa Marg", "rule:flat-then-street"),
    ]


@pytest.mark.django_db
def test_a_street_rule_replaces_the_model_fragment_inside_it(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    seed_default_rules(lambda _line: None)
    text = "Someone ordered a kettle to H.No. 454\nGanesan Marg, Aurangabad with my account."
    tagger = FakeTagger({text: [("H.No", "LOC"), ("Aurangabad", "LOC")]})
    monkeypatch.setattr(pipeline, "_tagger", lambda version: (tagger, ""))
    settings.NER_GENERAL_MERGE = "tagger"
    found = [(s.text, s.label, s.kind) for s in extract([text], recognizers=["rules", "tagger"])[0]]
    assert found == [("H.No. 454\nGanesan Marg", "LOC", "rule"), ("Aurangabad", "LOC", "tagger")]

"""Recognizers look again at rules, gazetteer terms and the active tagger at most every NER_RELOAD_CHECK_S."""

from __future__ import annotations

from typing import Any

import pytest

from ner.extraction.recognizers import freshness, gazetteer
from ner.extraction.recognizers import rules as rule_recognizer
from ner.models import ExtractionRule, GazetteerTerm

pytestmark = pytest.mark.django_db


def _rule(name: str, pattern: str) -> None:
    ExtractionRule.objects.create(name=name, label="ORDER_ID", pattern=pattern, score=0.9, enabled=True)


def test_due_waits_for_the_interval(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.NER_RELOAD_CHECK_S = 5.0
    clock = [100.0]
    monkeypatch.setattr(freshness.time, "monotonic", lambda: clock[0])
    cache: dict[str, Any] = {}
    assert freshness.due(cache)  # never checked
    clock[0] += 4.9
    assert not freshness.due(cache)
    clock[0] += 0.2
    assert freshness.due(cache)
    settings.NER_RELOAD_CHECK_S = 0
    assert freshness.due(cache) and freshness.due(cache)  # 0: every call


def test_a_new_rule_is_seen_after_the_interval_not_on_every_call(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NER_RELOAD_CHECK_S = 60.0
    clock = [1000.0]
    monkeypatch.setattr(freshness.time, "monotonic", lambda: clock[0])
    rule_recognizer.clear_cache()
    _rule("first", r"AB-\d{4}")
    assert [r.name for r in rule_recognizer.active_rules()] == ["first"]
    _rule("second", r"CD-\d{4}")
    assert [r.name for r in rule_recognizer.active_rules()] == ["first"]  # within the interval: no query
    clock[0] += 61
    assert [r.name for r in rule_recognizer.active_rules()] == ["first", "second"]
    rule_recognizer.clear_cache()


def test_a_new_gazetteer_term_is_seen_after_the_interval(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.NER_RELOAD_CHECK_S = 60.0
    clock = [1000.0]
    monkeypatch.setattr(freshness.time, "monotonic", lambda: clock[0])
    gazetteer.clear_cache()
    recognizer = gazetteer.GazetteerRecognizer()
    text = "my Quartzline kettle broke"
    assert recognizer.recognize([text]) == [[]]
    GazetteerTerm.objects.create(label="PRODUCT", term="Quartzline", case_insensitive=True, enabled=True)
    assert recognizer.recognize([text]) == [[]]
    clock[0] += 61
    assert [s.text for s in recognizer.recognize([text])[0]] == ["Quartzline"]
    gazetteer.clear_cache()

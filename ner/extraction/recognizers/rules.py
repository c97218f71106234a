"""The admin-rule recognizer: enabled ``ExtractionRule`` rows, run under RE2.

The compiled rules are cached per process and rebuilt when the rules change:
each call runs one aggregate query (count and latest ``updated_at``), so an edit
in the admin is picked up on the next call without a restart.  (A bulk
``QuerySet.update`` does not touch ``updated_at``; save rules one by one.)

A rule that fails at run time is logged and skipped, never raised; a rule whose
scan of one text takes more than ``NER_RULE_TIMEOUT_S`` of CPU time (RE2 is
linear, so only an enormous rule on a long text can) is logged and disabled in
this process until the rules change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ner.extraction.admin_rules import compile_rule, find_matches
from ner.extraction.recognizers import freshness
from ner.extraction.recognizers.patterns import CONTEXT_BOOST, context_word
from ner.spans import Span, make_span

logger = logging.getLogger(__name__)


@dataclass
class CompiledRule:
    name: str
    label: str
    regex: Any
    score: float
    context_words: frozenset[str]
    rule_id: int | None = None
    disabled: bool = field(default=False)


def compile_rules(rows: Iterable[Any]) -> list[CompiledRule]:
    """Compile rule rows (model instances or mappings); a rule that fails to compile is logged and left out."""
    compiled = []
    for row in rows:
        get = row.get if isinstance(row, Mapping) else lambda key, default=None, row=row: getattr(row, key, default)
        name = str(get("name"))
        try:
            regex = compile_rule(str(get("pattern")), case_insensitive=bool(get("case_insensitive", False)))
        except ValueError as exc:
            logger.warning("extraction rule %r does not compile under RE2 and is skipped: %s", name, exc)
            continue
        words = frozenset(str(w).lower() for w in (get("context_words") or []))
        score = float(get("score", 0.6) or 0.6)
        compiled.append(
            CompiledRule(name, str(get("label", "ORDER_ID")), regex, min(1.0, max(0.0, score)), words, get("pk"))
        )
    return compiled


_lock = threading.Lock()
_cache: dict[str, Any] = {"key": None, "rules": []}


def active_rules() -> list[CompiledRule]:
    """The enabled rules from the database, recompiled only when they changed."""
    from django.db.models import Count, Max

    from ner.models import ExtractionRule

    with _lock:
        if not freshness.due(_cache) and _cache["key"] is not None:
            cached: list[CompiledRule] = _cache["rules"]
            return cached
    summary = ExtractionRule.objects.aggregate(n=Count("id"), latest=Max("updated_at"))
    key = (summary["n"], summary["latest"])
    with _lock:
        if _cache["key"] != key:
            _cache["rules"] = compile_rules(ExtractionRule.objects.filter(enabled=True).order_by("name"))
            _cache["key"] = key
        rules: list[CompiledRule] = _cache["rules"]
        return rules


def clear_cache() -> None:
    with _lock:
        _cache.update(key=None, rules=[], checked_at=None)


class RuleRecognizer:
    """Runs admin rules (from the database, or the ``rules`` given) on each text."""

    name = "rules"

    def __init__(self, rules: Sequence[Any] | None = None, *, max_chars: int | None = None) -> None:
        self._fixed = compile_rules(rules) if rules is not None else None
        self._max_chars = max_chars

    def _limits(self) -> tuple[int, float]:
        from django.conf import settings

        max_chars = self._max_chars or int(getattr(settings, "NER_MAX_TEXT_CHARS", 100_000))
        return max_chars, float(getattr(settings, "NER_RULE_TIMEOUT_S", 0.5))

    def recognize(self, texts: Sequence[str]) -> list[list[Span]]:
        rules = self._fixed if self._fixed is not None else active_rules()
        max_chars, timeout = self._limits()
        return [self._recognize_one(text[:max_chars], rules, timeout) for text in texts]

    def _recognize_one(self, text: str, rules: list[CompiledRule], timeout: float) -> list[Span]:
        spans: list[Span] = []
        for rule in rules:
            if rule.disabled:
                continue
            # CPU time of this thread: a busy machine that pauses the process must not disable a rule.
            started = time.thread_time()
            try:
                found = list(find_matches(rule.regex, text))
            except Exception:
                logger.exception("extraction rule %r failed at run time and is skipped", rule.name)
                continue
            elapsed = time.thread_time() - started
            if elapsed > timeout:
                rule.disabled = True
                logger.warning(
                    "extraction rule %r took %.2f s on a %d-character text (limit NER_RULE_TIMEOUT_S=%s); "
                    "disabled in this process until the rules change",
                    rule.name,
                    elapsed,
                    len(text),
                    timeout,
                )
            for start, end in found:
                word = context_word(text, start, end, rule.context_words)
                score = rule.score + (CONTEXT_BOOST if word else 0.0)
                span = make_span(text, start, end, rule.label, score, f"rule:{rule.name}")
                span.meta["rule_id"] = rule.rule_id
                if word:
                    span.meta["context"] = word
                spans.append(span)
        spans.sort(key=lambda s: (s.start, -s.end))
        return spans

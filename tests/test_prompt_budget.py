"""The reply prompt is built from the last turns that fit, before anything is tokenised: the work of
one suggestion is bounded by the prompt budget, not by the length of the conversation (issue 17).

The tokenizer here counts its calls and the characters it is given; the assertions are on those
counts, never on time.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.generation import (
    HISTORY_CHUNK,
    MAX_CHARS_PER_TOKEN,
    Turn,
    build_prompt,
    conversation_turns,
    turns_that_fit,
)
from chat.models import Conversation, Message


class CountingTokenizer:
    """About four characters a token, like a BPE tokenizer on English; counts what it is asked to do."""

    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0

    def _ids(self, text: str) -> list[int]:
        self.chars += len(text)
        return list(range(math.ceil(len(text) / 4)))

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> list[int]:
        self.calls += 1
        return [0, *self._ids("".join(m["content"] for m in messages)), 0]

    def __call__(self, text: str | list[str], add_special_tokens: bool = True) -> dict[str, Any]:
        self.calls += 1
        if isinstance(text, list):
            return {"input_ids": [self._ids(t) for t in text]}
        return {"input_ids": self._ids(text)}


def _history(n: int) -> list[Turn]:
    turns = [Turn("customer" if i % 2 == 0 else "agent", f"turn {i} " + "words " * 30) for i in range(n)]
    turns.append(Turn("customer", "Where is ORD-12345 now?"))
    return turns


def test_prompt_work_does_not_grow_with_the_conversation() -> None:
    budget = 300
    seen = {}
    for n in (200, 5000):
        tokenizer = CountingTokenizer()
        prompt = build_prompt(tokenizer, _history(n), budget=budget)
        assert len(prompt.input_ids) <= budget
        assert (
            prompt.messages[1]["content"]
            .split("Conversation so far:\n")[1]
            .split("\n\n")[0]
            .endswith("Customer: Where is ORD-12345 now?")
        )
        assert prompt.dropped_turns > n - 20  # almost all of the history stayed out
        seen[n] = (tokenizer.calls, tokenizer.chars)
    # The same work for 200 turns as for 5000: a handful of calls on a bounded amount of text
    # (before: one full tokenisation per dropped turn, millions of characters).
    # (the turn numbers of the longer history are a few digits longer).
    assert seen[200][0] == seen[5000][0]
    assert abs(seen[200][1] - seen[5000][1]) < 100
    calls, chars = seen[5000]
    assert calls <= 6
    assert chars <= 4 * budget * MAX_CHARS_PER_TOKEN


def test_turns_that_fit_walk_newest_first_and_keep_the_latest() -> None:
    turns = [Turn("customer", "a" * 50), Turn("agent", "b" * 50), Turn("customer", "c" * 50)]
    kept, dropped = turns_that_fit(turns, 130)
    assert [t.text[0] for t in kept] == ["b", "c"] and dropped == 1
    kept, dropped = turns_that_fit(turns, 10_000)
    assert kept == turns and dropped == 0
    # A latest turn longer than the budget keeps its end (where the question usually is).
    long_turn = Turn("customer", "x" * 5000 + " where is my parcel?")
    kept, dropped = turns_that_fit([*turns, long_turn], 200)
    assert len(kept) == 1 and dropped == 3
    assert kept[0].text.startswith("…") and kept[0].text.endswith("where is my parcel?")
    assert len(kept[0].text) < 200
    assert turns_that_fit([Turn("agent", "  "), Turn("customer", "hi")], 100) == ([Turn("customer", "hi")], 0)


def test_prompt_keeps_every_turn_that_fits() -> None:
    tokenizer = CountingTokenizer()
    turns = _history(3)
    prompt = build_prompt(tokenizer, turns, budget=2000)
    assert prompt.dropped_turns == 0
    assert "turn 0 " in prompt.messages[1]["content"]


@pytest.mark.django_db
def test_conversation_turns_read_only_the_latest_messages() -> None:
    conversation = Conversation.objects.create(customer_name="Long Talker", customer_token="tok-long-history")
    Message.objects.bulk_create(
        Message(conversation=conversation, direction="in" if i % 2 == 0 else "out", author="x", text=f"m{i} " * 50)
        for i in range(3000)
    )
    newest = Message.objects.create(conversation=conversation, direction="in", author="x", text="the newest question")
    with CaptureQueriesContext(connection) as queries:
        turns = conversation_turns(conversation, char_budget=2000)
    assert turns[-1] == Turn("customer", newest.text)
    assert 3 < len(turns) < 20
    assert sum(len(t.text) for t in turns) < 2000 + 300
    assert len(queries) <= math.ceil(len(turns) / HISTORY_CHUNK) + 1  # read in chunks, newest first
    # Without a budget: what the largest prompt could hold.
    assert 1 < len(conversation_turns(conversation)) < 3000

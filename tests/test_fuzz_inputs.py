"""Property test: no query string, form or JSON body sent to the HTML views or the API gives a 5xx.

Hypothesis fills every field a view reads with hostile values (Unicode digits, huge
numbers, NUL, deep JSON, wrong types).  The views may refuse (4xx) or accept; they may
never crash.  Background jobs are not started (``ner.jobs.launch`` is replaced), so a
value that happens to start a training run costs nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Conversation, Message, ReplySuggestion
from ner import jobs
from ner.models import Document, Entity
from ner.roles import sync_role_groups

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

NASTY = [
    "",
    "0",
    "-1",
    "1",
    "²",
    "٣",
    "1e3",
    "nan",
    "inf",
    "9" * 30,
    "\x00",
    "on",
    "me",
    "none",
    "open",
    "PER",
    "disagreement",
    "jsonl",
    "synthetic:2",
    "../../etc/passwd",
]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["accept", "reject", "relabel", "correct", "add", "complete", "resolve", "PER"]),
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)
REVIEW_KEYS = ["action", "entity", "entities", "label", "start", "end", "annotation", "spans"]

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(client: Client, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    settings.NER_RECOGNIZERS = ["patterns"]
    settings.API_THROTTLE_RATES = {"user": "1000000/min", "anon": "1000000/min"}
    monkeypatch.setattr(jobs, "launch", lambda *a, **k: jobs.Launched("fuzz", True))
    cache.clear()
    sync_role_groups()
    user = User.objects.create_superuser("root")
    client.force_login(user)
    conv = Conversation.objects.create(customer_name="Jane", subject="Late", customer_token="tok-fuzz")
    doc = Document.objects.create(text="Anna Smith bought a Pixel 8", source="chat", status=Document.Status.DONE)
    Message.objects.create(conversation=conv, direction="in", author="Jane", text=doc.text, document=doc)
    entity = Entity.objects.create(document=doc, start=0, end=10, label="PER", text="Anna Smith", score=0.5)
    suggestion = ReplySuggestion.objects.create(conversation=conv, requested_by=user)
    return {"client": client, "conv": conv, "doc": doc, "entity": entity, "suggestion": suggestion}


# (method, path template, fields the view reads)
FORM_TARGETS = [
    ("get", "/", ["status", "mine", "q"]),
    ("get", "/conversations/{conv}/messages", ["version"]),
    ("post", "/conversations/{conv}/send", ["text", "suggestion_id", "redact"]),
    ("post", "/conversations/{conv}/update", ["status", "assign"]),
    ("post", "/entities/{entity}/correct", ["label"]),
    ("get", "/c/tok-fuzz/messages", ["after"]),
    ("post", "/c/tok-fuzz/", ["text"]),
    ("post", "/c/new/", ["name", "subject", "text"]),
    ("post", "/conversations/{conv}/rotate-link", []),
    ("post", "/accounts/login/", ["username", "password", "next"]),
    ("get", "/review/", ["order", "status", "label"]),
    ("get", "/review/documents/{doc}/", ["part", "at", "queue", "focus"]),
    ("post", "/review/bulk", ["documents", "next"]),
    ("get", "/review/export", ["format"]),
    ("get", "/evaluations/", ["run"]),
    ("post", "/evaluations/run", ["data", "pipeline", "model_version"]),
    ("post", "/models/train", ["train", "dev", "epochs", "batch_size", "seed", "lr", "max_seconds", "base_model"]),
    ("post", "/models/{entity}/activate", ["force", "eval_data"]),
    ("post", "/models/rollback", ["kind"]),
    ("get", "/monitoring/", ["window"]),
    ("get", "/readyz", []),
    ("get", "/metrics", []),
    ("post", "/suggestions/{suggestion}/reject", []),
]


def _path(template: str, world: dict[str, Any]) -> str:
    return template.format(
        conv=world["conv"].pk, entity=world["entity"].pk, suggestion=world["suggestion"].pk, doc=world["doc"].pk
    )


@pytest.mark.parametrize("method,template,fields", FORM_TARGETS, ids=[f"{m} {t}" for m, t, _ in FORM_TARGETS])
def test_html_forms_never_answer_5xx(world: dict[str, Any], method: str, template: str, fields: list[str]) -> None:
    client: Client = world["client"]
    path = _path(template, world)

    @FUZZ
    @given(st.fixed_dictionaries({}, optional={f: st.lists(values, min_size=1, max_size=3) for f in fields}))
    def run(data: dict[str, list[str]]) -> None:
        response = getattr(client, method)(path, data)
        assert response.status_code < 500, (path, data, response.content[:300])

    run()


@FUZZ
@given(body=st.one_of(json_values, st.dictionaries(st.sampled_from(REVIEW_KEYS), json_values, max_size=5)))
def test_review_action_json_never_answers_5xx(world: dict[str, Any], body: Any) -> None:
    response = world["client"].post(
        f"/review/documents/{world['doc'].pk}/action", json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 500, (body, response.content[:300])


API_TARGETS = [
    "/api/v1/extract",
    "/api/v1/documents",
    "/api/v1/conversations",
    "/api/v1/conversations/{conv}/messages",
    "/api/v1/entities/{entity}/review",
    "/api/v1/documents/{doc}/entities",
    "/api/v1/rules",
    "/api/v1/auth/token",
]


@pytest.mark.parametrize("template", API_TARGETS)
def test_api_json_bodies_never_answer_5xx(world: dict[str, Any], template: str) -> None:
    client: Client = world["client"]
    path = template.format(conv=world["conv"].pk, entity=world["entity"].pk, doc=world["doc"].pk)
    keys = ["text", "texts", "options", "action", "label", "start", "end", "name", "pattern", "examples", "username"]

    @FUZZ
    @given(st.one_of(json_values, st.dictionaries(st.sampled_from(keys), json_values, max_size=4)))
    def run(body: Any) -> None:
        response = client.post(path, json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (path, body, response.content[:300])

    run()

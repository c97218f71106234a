"""The role matrix: every endpoint asked by every role, anonymous (401) and a user without a role (403)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from chat.models import Conversation, ReplySuggestion
from ner.models import Document, Entity, EvaluationRun, ExtractionRule, ModelActivation, ModelVersion
from ner.roles import ADMIN, AGENT, REVIEWER
from tests.api_support import API, error_of, make_user, patterns_only, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("patterns_only")]

EVERYONE = {AGENT, REVIEWER, ADMIN}
REVIEWERS = {REVIEWER, ADMIN}
AGENTS = {AGENT, ADMIN}
ADMINS = {ADMIN}


def _objects() -> dict[str, int]:
    doc = Document.objects.create(text="Ann lives in Oslo.", status="done", task_id="t-1")
    entity = Entity.objects.create(document=doc, start=0, end=3, label="PER", text="Ann", source="spacy")
    conversation = Conversation.objects.create(customer_name="Ann", customer_token="tok")
    suggestion = ReplySuggestion.objects.create(conversation=conversation, status="done", text="Hi")
    old = ModelVersion.objects.create(name="tagger-v1", status="ready", metrics={"f1": 0.5})
    new = ModelVersion.objects.create(name="tagger-v2", status="ready", metrics={"f1": 0.6})
    # new is active, activated over old: rollback has somewhere to go, activating new again is a no-op
    ModelActivation.objects.create(model_version=new, previous=old)
    ModelVersion.objects.filter(pk=new.pk).update(is_active=True)
    run = EvaluationRun.objects.create(data_path="synthetic:10")
    rule = ExtractionRule.objects.create(name="r1", pattern="R-[0-9]{3}", examples=["R-123"])
    return {
        "rule": rule.pk,
        "run": run.pk,
        "doc": doc.pk,
        "entity": entity.pk,
        "conv": conversation.pk,
        "sugg": suggestion.pk,
        "new": new.pk,
    }


# (name, method, path template, body, roles allowed)
MATRIX: list[tuple[str, str, str, dict[str, Any] | None, set[str]]] = [
    ("extract", "post", "/extract", {"text": "mail a@example.com"}, EVERYONE),
    ("documents-list", "get", "/documents", None, EVERYONE),
    ("documents-create", "post", "/documents", {"text": "hello"}, EVERYONE),
    ("documents-detail", "get", "/documents/{doc}", None, EVERYONE),
    ("documents-add-entity", "post", "/documents/{doc}/entities", {"start": 13, "end": 17, "label": "LOC"}, REVIEWERS),
    ("entities-list", "get", "/entities", None, EVERYONE),
    ("entities-detail", "get", "/entities/{entity}", None, EVERYONE),
    ("entities-review", "post", "/entities/{entity}/review", {"action": "accept"}, REVIEWERS),
    ("conversations-list", "get", "/conversations", None, EVERYONE),
    ("conversations-create", "post", "/conversations", {"customer_name": "Bo"}, AGENTS),
    ("conversations-detail", "get", "/conversations/{conv}", None, EVERYONE),
    ("conversations-update", "patch", "/conversations/{conv}", {"status": "pending"}, AGENTS),
    ("messages-list", "get", "/conversations/{conv}/messages", None, EVERYONE),
    ("messages-create", "post", "/conversations/{conv}/messages", {"text": "hello"}, AGENTS),
    ("suggest-reply", "post", "/conversations/{conv}/suggest-reply", None, AGENTS),
    ("suggestions-detail", "get", "/suggestions/{sugg}", None, AGENTS),
    ("suggestions-stream", "get", "/suggestions/{sugg}/stream", None, AGENTS),
    ("model-versions-list", "get", "/model-versions", None, REVIEWERS),
    ("model-versions-detail", "get", "/model-versions/{new}", None, REVIEWERS),
    ("model-versions-train", "post", "/model-versions", {"train": ["synthetic:10"]}, ADMINS),
    ("model-versions-activate", "post", "/model-versions/{new}/activate", {}, ADMINS),
    ("model-versions-rollback", "post", "/model-versions/rollback", {}, ADMINS),
    ("evaluations-list", "get", "/evaluations", None, REVIEWERS),
    ("evaluations-detail", "get", "/evaluations/{run}", None, REVIEWERS),
    ("evaluations-create", "post", "/evaluations", {"data": "synthetic:10"}, ADMINS),
    ("rules-list", "get", "/rules", None, REVIEWERS),
    ("rules-detail", "get", "/rules/{rule}", None, REVIEWERS),
    ("rules-create", "post", "/rules", {"name": "r2", "pattern": "X-[0-9]{3}", "examples": ["X-123"]}, ADMINS),
    ("rules-update", "patch", "/rules/{rule}", {"enabled": False}, ADMINS),
    ("rules-delete", "delete", "/rules/{rule}", None, ADMINS),
    ("tasks-detail", "get", "/tasks/t-1", None, EVERYONE),
]


def _call(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    send: Callable[..., Any] = getattr(client, method)
    return send(f"{API}{path}", body, format="json") if body is not None else send(f"{API}{path}")


@pytest.mark.parametrize(("name", "method", "path", "body", "allowed"), MATRIX, ids=[row[0] for row in MATRIX])
@pytest.mark.parametrize("who", ["anon", "nobody", AGENT, REVIEWER, ADMIN])
def test_role_matrix(
    who: str,
    name: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: set[str],
) -> None:
    ids = _objects()
    client = APIClient() if who == "anon" else token_client(make_user(who, None if who == "nobody" else who))
    response = _call(client, method, path.format(**ids), body)
    if who == "anon":
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"].startswith("Token")
        assert error_of(response)["code"] == "not_authenticated"
    elif who in allowed:
        assert 200 <= response.status_code < 300, (response.status_code, getattr(response, "content", b""))
    else:
        assert response.status_code == 403, response.content
        assert error_of(response)["code"] == "permission_denied"


def test_every_route_is_in_the_matrix() -> None:
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: list[Any], prefix: str = "") -> list[str]:
        found: list[str] = []
        for p in patterns:
            if isinstance(p, URLResolver):
                found += walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                found.append(prefix + str(p.pattern))
        return found

    def normal(route: str) -> str:
        route = route.removeprefix("api/v1/").strip("^$")
        return re.sub(r"\(\?P<[^>]+>[^)]+\)|<[^>]+>|\{[^}]+\}|t-1$", "{x}", route)

    routes = {normal(r) for r in walk(get_resolver().url_patterns) if r.startswith("api/v1/")}
    covered = {normal(path.lstrip("/")) for _, _, path, _, _ in MATRIX}
    assert routes - {"auth/token"} == covered


def test_bearer_keyword_and_bad_tokens() -> None:
    user = make_user("bearer-user", AGENT)
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(f"{API}/documents").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(f"{API}/documents")
    assert response.status_code == 401 and error_of(response)["code"] == "authentication_failed"


def test_session_auth_needs_csrf_for_writes() -> None:
    user = make_user("web-agent", AGENT)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"{API}/conversations").status_code == 200
    response = client.post(f"{API}/conversations", {"customer_name": "Z"}, format="json")
    assert response.status_code == 403 and "CSRF" in error_of(response)["message"]
    assert not Conversation.objects.filter(customer_name="Z").exists()


def test_token_endpoint(db: None) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="integrator", password="s3cret-pass")
    client = APIClient()
    response = client.post(f"{API}/auth/token", {"username": "integrator", "password": "s3cret-pass"}, format="json")
    assert response.status_code == 200 and len(response.json()["token"]) == 40
    bad = client.post(f"{API}/auth/token", {"username": "integrator", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and error_of(bad)["code"] == "invalid"

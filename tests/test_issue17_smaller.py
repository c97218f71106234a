"""The "smaller" reproductions of issue 17, each failing before its fix: deleting a reviewer kept
their reviews, the set-up printed every password on every start (and wrote the file before its
mode was set), agents could post through the API under any author, and ``/api/schema/?format=json``
answered YAML.  (A GET marking a conversation read: ``tests/test_chat_views.py``.)"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import Conversation
from ner.models import Document, ReviewAnnotation
from ner.review import agreement
from tests.api_support import API, clients, error_of, make_user  # noqa: F401

pytestmark = pytest.mark.django_db


def test_deleting_a_reviewer_keeps_their_reviews() -> None:
    doc = Document.objects.create(text="Anna Smith", status=Document.Status.DONE)
    gone = make_user("leaving-reviewer", "reviewer")
    stays = make_user("staying-reviewer", "reviewer")
    ReviewAnnotation.objects.create(document=doc, reviewer=gone, spans=[[0, 10, "PER"]])
    ReviewAnnotation.objects.create(document=doc, reviewer=stays, spans=[[0, 4, "PER"]])
    gone.delete()
    assert ReviewAnnotation.objects.filter(document=doc).count() == 2  # before: CASCADE deleted one
    assert ReviewAnnotation.objects.filter(document=doc, reviewer__isnull=True).count() == 1
    [pair] = agreement.document_agreement(doc)
    assert pair.agreement.f1 == 0.0
    client = Client()
    # Review is blind: only an admin sees the other reviewers' annotations.
    client.force_login(make_user("page-admin", "admin"))
    html = client.get(f"/review/documents/{doc.pk}/").content.decode()
    assert "(deleted user)" in html


def test_setup_prints_passwords_once_and_writes_them_private(settings: Any, tmp_path: Path) -> None:
    from nlpapp import bootstrap

    settings.DATA_DIR = tmp_path
    first: list[str] = []
    bootstrap.create_users(first.append)
    printed = [line for line in first if "password" in line]
    assert len(printed) == len(bootstrap.DEMO_USERS)
    path = tmp_path / "demo-passwords.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again: list[str] = []
    bootstrap.create_users(again.append)
    assert not any(" password " in line for line in again)  # before: every start printed them all
    assert any(str(path) in line for line in again)
    # A new demo user (an account deleted meanwhile) gets its password printed, only that one.
    get_user_model().objects.filter(username=bootstrap.DEMO_USERS[-1][0]).delete()
    third: list[str] = []
    bootstrap.create_users(third.append)
    assert [line.split()[1] for line in third if " password " in line] == [bootstrap.DEMO_USERS[-1][0]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_private_file_is_never_created_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from nlpapp import bootstrap

    modes: list[int] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    bootstrap._write_private(tmp_path / "secret.txt", "a b\n")
    assert modes == [0o600]
    assert (tmp_path / "secret.txt").read_text() == "a b\n"


def test_api_messages_cannot_take_another_author(clients: dict[str, Any]) -> None:  # noqa: F811
    conv = Conversation.objects.create(customer_name="Lee Park", customer_token="tok-author")
    url = f"{API}/conversations/{conv.pk}/messages"
    response = clients["agent"].post(url, {"text": "hello", "author": "Somebody Else"}, format="json")
    assert response.status_code == 400 and "author" in error_of(response)["fields"]
    response = clients["agent"].post(url, {"text": "hi", "direction": "out", "author": "Lee Park"}, format="json")
    assert response.status_code == 400  # an agent's reply cannot be signed as the customer
    ok = clients["agent"].post(url, {"text": "hello", "author": "Lee Park"}, format="json")
    assert ok.status_code == 201 and ok.json()["author"] == "Lee Park"
    reply = clients["agent"].post(url, {"text": "on it", "direction": "out"}, format="json").json()
    assert reply["author"] == "agent-user"


def test_schema_answers_the_format_asked_for() -> None:
    client = Client()
    as_json = client.get("/api/schema/?format=json")
    assert as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_json.json()["openapi"].startswith("3.")
    as_yaml = client.get("/api/schema/?format=yaml")
    assert as_yaml.status_code == 200 and as_yaml.content.startswith(b"openapi:")
    assert client.get("/api/schema/").content.startswith(b"openapi:")  # the default stays YAML
    assert client.get("/api/schema/?format=xml").status_code == 400


@pytest.mark.parametrize("path", ["documents", "conversations", "model-versions", "evaluations", "rules"])
def test_ordering_a_list_with_a_fixed_order_is_refused(clients: dict[str, Any], path: str) -> None:  # noqa: F811
    response = clients["admin"].get(f"{API}/{path}", {"ordering": "-created_at"})
    assert response.status_code == 400, (path, response.content[:200])  # before: 200, silently ignored
    assert "ordering" in error_of(response)["fields"]
    assert clients["admin"].get(f"{API}/{path}").status_code == 200


def test_entities_still_order_and_refuse_unknown_values(clients: dict[str, Any]) -> None:  # noqa: F811
    assert clients["admin"].get(f"{API}/entities", {"ordering": "score"}).status_code == 200
    assert clients["admin"].get(f"{API}/entities", {"ordering": "nonsense"}).status_code == 400


def test_tagger_cache_keeps_only_the_recent_versions(tmp_path: Path, settings: Any) -> None:
    from ner.extraction.recognizers import tagger
    from ner.models import ModelVersion
    from tests.test_tagger import _write_version

    settings.NER_TAGGER_CACHE_VERSIONS = 2
    tagger.clear_cache()
    folder = _write_version(tmp_path / "tagger-shared")
    for i in range(4):
        ModelVersion.objects.create(name=f"tagger-c{i}", path=str(folder), status="ready", is_active=i == 0)
    first = tagger.get_tagger("tagger-c0")
    for i in range(1, 4):
        assert tagger.get_tagger(f"tagger-c{i}") is not None
    # Before: all four stayed loaded (about 90 MB each, any caller could add more).
    assert [name for name, _ in tagger._CACHE] == ["tagger-c2", "tagger-c3"]
    again = tagger.get_tagger("tagger-c0")
    assert again is not None and again is not first  # loaded again when asked for
    assert len(tagger._CACHE) == 2
    tagger.clear_cache()


def test_only_reviewers_and_admins_choose_a_tagger_version(
    clients: dict[str, Any],  # noqa: F811
    tmp_path: Path,
    settings: Any,
) -> None:
    from ner.models import ModelVersion

    settings.NER_RECOGNIZERS = ["patterns"]
    ModelVersion.objects.create(name="tagger-pick", path=str(tmp_path), status="ready")
    body = {"text": "Mail jane@example.com", "options": {"tagger_version": "tagger-pick"}}
    for path in ("extract", "documents"):
        response = clients["agent"].post(f"{API}/{path}", body, format="json")
        assert response.status_code == 403, (path, response.content[:200])  # before: any role could pick
    assert clients["reviewer"].post(f"{API}/extract", body, format="json").status_code == 202
    assert clients["agent"].post(f"{API}/extract", {"text": "Mail jane@example.com"}, format="json").status_code == 200


@pytest.mark.parametrize("pattern", ["(a|aa)+$", "(?:aa?)+", "(?:a|ab|aab)+x"])
def test_rule_validator_refuses_overlapping_alternatives_under_a_repeat(pattern: str) -> None:
    from ner.extraction.admin_rules import RuleValidationError, validate_rule

    # Before: accepted (RE2 runs it safely, but pasted into a backtracking engine it is exponential).
    with pytest.raises(RuleValidationError, match="start the same way"):
        validate_rule(pattern, examples=["aaa"], counter_examples=[])


@pytest.mark.parametrize(
    "pattern", ["ORD-[0-9]{6}", "(?:ab|cd)+", "(?:[A-Z]\\d?)+-[0-9]+", "(?:-[0-9]{2})+", "(?:ORD|ORDER)+", "(?:x|xy)*z"]
)
def test_rule_validator_keeps_unambiguous_repeats(pattern: str) -> None:
    from ner.extraction.admin_rules import nested_quantifier

    assert nested_quantifier(pattern) is None

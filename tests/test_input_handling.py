# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)
"""Hostile input gets a 400 with a reason, never a 500: deep JSON, and integers from queries and forms.

Each case reproduces a 500 reported in issue 17.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client

from chat.models import Conversation, Message
from ner.models import Document, Entity
from ner.roles import AGENT, REVIEWER, sync_role_groups
from nlpapp.json_input import JSONTooDeep, loads_limited
from tests.api_support import API, clients, patterns_only, roomy_throttles  # noqa: F401

pytestmark = pytest.mark.django_db

DEEP = "[" * 318 + "]" * 318
DEEP_OBJECT = '{"a":' * 318 + "1" + "}" * 318
HUGE = "9" * 30


@pytest.fixture
def conversation() -> Conversation:
    conv = Conversation.objects.create(customer_name="Jane Roe", subject="Late", customer_token="tok-jane")
    Message.objects.create(conversation=conv, direction=Message.Direction.INBOUND, author="Jane", text="hi")
    return conv


def _user(client: Client, name: str, role: str) -> User:
    sync_role_groups()
    user = User.objects.create_user(name)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


# --- JSON nesting ---------------------------------------------------------------------------------


def test_depth_limit_counts_brackets_outside_strings_only() -> None:
    assert loads_limited('{"a": "[[[[[[[[[["}', max_depth=2) == {"a": "[[[[[[[[[["}
    assert loads_limited('[[["\\"["]]]', max_depth=3) == [[['"[']]]
    with pytest.raises(JSONTooDeep, match="deeper than 3"):
        loads_limited("[[[[1]]]]", max_depth=3)


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
@pytest.mark.usefixtures("roomy_throttles")
def test_deep_json_on_the_anonymous_token_endpoint_is_a_400(clients: dict[str, Any], body: str) -> None:
    response = clients["anon"].post(f"{API}/auth/token", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["error"]["message"]


@pytest.mark.usefixtures("roomy_throttles", "patterns_only")
@pytest.mark.parametrize("path", ["/extract", "/documents", "/conversations", "/rules"])
def test_deep_json_on_api_endpoints_is_a_400(clients: dict[str, Any], path: str) -> None:
    response = clients["admin"].post(f"{API}{path}", DEEP_OBJECT, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "parse_error"


def test_deep_json_on_the_review_action_view_is_a_400(client: Client) -> None:
    _user(client, "rev", REVIEWER)
    doc = Document.objects.create(text="Anna Smith", status=Document.Status.DONE)
    response = client.post(f"/review/documents/{doc.pk}/action", DEEP_OBJECT, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["error"]


# --- integers from queries and forms --------------------------------------------------------------


@pytest.mark.parametrize("after", ["x", "²", "٣x", HUGE, "-1", "1.5"])
def test_customer_messages_after_must_be_a_message_id(client: Client, conversation: Conversation, after: str) -> None:
    response = client.get(f"/c/{conversation.customer_token}/messages", {"after": after})
    assert response.status_code == 400
    assert "after" in response.json()["error"]


def test_customer_messages_after_still_works(client: Client, conversation: Conversation) -> None:
    response = client.get(f"/c/{conversation.customer_token}/messages", {"after": "0"})
    assert response.status_code == 200 and response.json()["last"] == conversation.messages.get().pk
    assert client.get(f"/c/{conversation.customer_token}/messages").status_code == 200


@pytest.mark.parametrize("value", ["²", "abc", HUGE, "0"])
def test_review_bulk_refuses_a_bad_document_id(client: Client, value: str) -> None:
    _user(client, "rev", REVIEWER)
    response = client.post("/review/bulk", {"documents": ["1", value]})
    assert response.status_code == 400
    assert b"documents" in response.content


def test_review_bulk_still_completes_documents(client: Client) -> None:
    _user(client, "rev", REVIEWER)
    doc = Document.objects.create(text="Anna Smith", status=Document.Status.DONE)
    Entity.objects.create(document=doc, start=0, end=4, label="PER", text="Anna", score=0.5, source="spacy")
    response = client.post("/review/bulk", {"documents": [str(doc.pk)]})
    assert response.status_code == 302
    assert doc.entities.get().review_status == Entity.Review.ACCEPTED


@pytest.mark.parametrize("run", ["²", "x", HUGE])
def test_evaluations_run_must_be_an_id(client: Client, run: str) -> None:
    _user(client, "rev", REVIEWER)
    response = client.get("/evaluations/", {"run": run})
    assert response.status_code == 400
    assert b"run" in response.content


def test_evaluations_page_without_a_run(client: Client) -> None:
    _user(client, "rev", REVIEWER)
    assert client.get("/evaluations/").status_code == 200
    assert client.get("/evaluations/", {"run": "12"}).status_code == 200


@pytest.mark.parametrize("value", ["abc", "²", HUGE])
def test_send_refuses_a_bad_suggestion_id(client: Client, conversation: Conversation, value: str) -> None:
    _user(client, "ag", AGENT)
    response = client.post(f"/conversations/{conversation.pk}/send", {"text": "hello", "suggestion_id": value})
    assert response.status_code == 400
    assert b"suggestion_id" in response.content
    assert not conversation.messages.filter(direction=Message.Direction.OUTBOUND).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "accept", "entity": 1e400},
        {"action": "accept", "entity": int(HUGE)},
        {"action": "accept", "entities": ["²"]},
        {"action": "accept", "entities": [True]},
        {"action": "resolve", "annotation": HUGE},
        {"action": "add", "start": 1e400, "end": 2, "label": "PER"},
    ],
)
def test_review_action_refuses_bad_ids(client: Client, payload: dict[str, Any]) -> None:
    sync_role_groups()
    client.force_login(User.objects.create_superuser("root"))
    doc = Document.objects.create(text="Anna Smith", status=Document.Status.DONE)
    response = client.post(f"/review/documents/{doc.pk}/action", payload, content_type="application/json")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("field,value", [("model_version", HUGE), ("model_version", "²")])
def test_evaluations_run_form_refuses_bad_integers(client: Client, field: str, value: str) -> None:
    client.force_login(User.objects.create_superuser("root"))
    response = client.post("/evaluations/run", {"data": "synthetic-heldout:5", "pipeline": "rules", field: value})
    assert response.status_code == 302  # back to the page, with the reason as a message
    assert "model_version" in str(list(get_messages(response.wsgi_request)))


@pytest.mark.parametrize("field,value", [("epochs", HUGE), ("seed", "²"), ("lr", "nan"), ("batch_size", "1e3")])
def test_registry_train_form_refuses_bad_numbers(client: Client, field: str, value: str) -> None:
    client.force_login(User.objects.create_superuser("root"))
    response = client.post("/models/train", {"train": "synthetic:5", field: value})
    assert response.status_code == 302
    assert field in str(list(get_messages(response.wsgi_request)))


@pytest.mark.parametrize(
    "method,path,data",
    [
        ("post", "/c/tok-jane/", {"text": "hi\x00there"}),
        ("post", "/c/new/", {"name": "Ja\x00ne", "text": "hello"}),
        ("get", "/", {"q": "a\x00"}),
        ("post", "/models/rollback", {"kind": "\x00"}),
    ],
)
def test_nul_in_form_data_is_a_400(
    client: Client, conversation: Conversation, method: str, path: str, data: Any
) -> None:
    """PostgreSQL cannot store or compare NUL: found by tests/test_fuzz_inputs.py on PostgreSQL."""
    client.force_login(User.objects.create_superuser("root"))
    response = getattr(client, method)(path, data)
    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.parametrize("version", ["²", "٣", HUGE])
def test_a_tagger_version_that_only_looks_numeric_is_unknown(version: str) -> None:
    from ner.extraction.recognizers.tagger import get_tagger

    assert get_tagger(version) is None


@pytest.mark.parametrize("object_id", ["%F0%92%A8%BD", "%C2%B2", "%D9%A3", "abc"])
@pytest.mark.parametrize("path", ["/entities/{}/review", "/documents/{}", "/conversations/{}", "/evaluations/{}"])
def test_a_non_ascii_digit_object_id_is_a_404(clients: dict[str, Any], path: str, object_id: str) -> None:
    """Found by the schemathesis fuzz test: '𒨽' reached int() in the entity review action (500)."""
    url = f"{API}{path.format(object_id)}"
    response = clients["admin"].post(url, {"action": "accept"}, format="json") if "review" in path else None
    response = response or clients["admin"].get(url)
    assert response.status_code == 404

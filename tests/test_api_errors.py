"""Bad requests: one error body everywhere, 413, 415, 400 parse errors, 404/405, 429 + Retry-After,
Idempotency-Key replay / mismatch / in-progress, and nothing partly written when a request fails."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chat.models import Conversation, Message
from ner.models import Document, IdempotencyKey
from tests.api_support import API, clients, error_of, patterns_only  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("patterns_only")]


def test_oversized_body_is_413_before_parsing(clients: dict[str, Any], settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 2048
    response = clients["agent"].post(f"{API}/documents", {"text": "x" * 3000}, format="json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert Document.objects.count() == 0


def test_body_over_djangos_upload_limit_is_413_too(clients: dict[str, Any], settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = clients["agent"].post(f"{API}/documents", {"text": "x" * 1500}, format="json")
    assert response.status_code == 413 and error_of(response)["code"] == "payload_too_large"


def test_bad_content_length_is_400(clients: dict[str, Any]) -> None:
    response = clients["agent"].generic("POST", f"{API}/documents", b"{}", "application/json", CONTENT_LENGTH="ten")
    assert response.status_code == 400 and error_of(response)["code"] == "bad_content_length"


@pytest.mark.parametrize(
    ("content_type", "body"), [("text/plain", b"hello"), ("application/x-www-form-urlencoded", b"text=hello")]
)
def test_wrong_content_type_is_415(clients: dict[str, Any], content_type: str, body: bytes) -> None:
    response = clients["agent"].generic("POST", f"{API}/documents", body, content_type)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert Document.objects.count() == 0


@pytest.mark.parametrize("body", [b"{not json", b'"a string"', b"[1, 2]", b"null"])
def test_malformed_json_is_400(clients: dict[str, Any], body: bytes) -> None:
    response = clients["agent"].generic("POST", f"{API}/documents", body, "application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] in {"parse_error", "invalid"}


def test_unknown_url_and_method_use_the_error_format(clients: dict[str, Any]) -> None:
    missing = clients["agent"].get(f"{API}/no-such-thing")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    not_allowed = clients["agent"].delete(f"{API}/extract")
    assert not_allowed.status_code == 405 and error_of(not_allowed)["code"] == "method_not_allowed"


def test_throttled_clients_get_429_with_retry_after(clients: dict[str, Any], settings: Any) -> None:
    settings.API_THROTTLE_RATES = {"user": "3/min", "anon": "2/min"}
    codes = [clients["agent"].get(f"{API}/documents").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = clients["agent"].get(f"{API}/documents")
    assert response.status_code == 429 and error_of(response)["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert clients["reviewer"].get(f"{API}/documents").status_code == 200  # per user
    # Anonymous callers are refused (401) before throttling; the token endpoint, open to them, is throttled.
    login = {"username": "nobody", "password": "wrong"}
    anon = [clients["anon"].post(f"{API}/auth/token", login, format="json").status_code for _ in range(3)]
    assert anon == [400, 400, 429]


def test_server_error_is_json_and_rolls_back(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from ner.extraction import documents

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(documents, "submit_document", broken)
    conversation = Conversation.objects.create(customer_name="Ann", customer_token="t")
    response = clients["agent"].post(f"{API}/conversations/{conversation.pk}/messages", {"text": "hi"}, format="json")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error" and "disk" not in error["message"]  # no internals leak
    assert Message.objects.count() == 0  # the message stored before the failure was rolled back


# --- Idempotency-Key ---------------------------------------------------------------------------


def _create(client: Any, key: str, text: str = "hello") -> Any:
    return client.post(f"{API}/documents", {"text": text}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_same_body_replays(clients: dict[str, Any]) -> None:
    first, second = _create(clients["agent"], "k1"), _create(clients["agent"], "k1")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert Document.objects.count() == 1


def test_same_key_other_body_is_422(clients: dict[str, Any]) -> None:
    _create(clients["agent"], "k2")
    response = _create(clients["agent"], "k2", text="something else")
    assert response.status_code == 422 and error_of(response)["code"] == "idempotency_key_reused"
    assert Document.objects.count() == 1


def test_same_key_on_another_endpoint_is_422(clients: dict[str, Any]) -> None:
    _create(clients["agent"], "k3")
    response = clients["agent"].post(f"{API}/extract", {"text": "hello"}, format="json", HTTP_IDEMPOTENCY_KEY="k3")
    assert response.status_code == 422


def test_keys_are_per_user(clients: dict[str, Any]) -> None:
    _create(clients["agent"], "shared")
    _create(clients["reviewer"], "shared")
    assert Document.objects.count() == 2


def test_key_in_progress_is_409_until_stale(clients: dict[str, Any]) -> None:
    first = _create(clients["agent"], "k4")
    record = IdempotencyKey.objects.get(key="k4")
    IdempotencyKey.objects.filter(pk=record.pk).update(status_code=None, response_body=None)  # as if still running
    response = _create(clients["agent"], "k4")
    assert response.status_code == 409 and error_of(response)["code"] == "idempotency_in_progress"
    IdempotencyKey.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    taken_over = _create(clients["agent"], "k4")  # its process died: a retry runs it
    assert taken_over.status_code == 202 and taken_over.json()["id"] != first.json()["id"]


def test_expired_key_is_forgotten(clients: dict[str, Any], settings: Any) -> None:
    _create(clients["agent"], "k5")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL_S + 1))
    assert "Idempotent-Replayed" not in _create(clients["agent"], "k5")
    assert Document.objects.count() == 2


def test_validation_errors_are_replayed_too(clients: dict[str, Any]) -> None:
    bad = clients["agent"].post(f"{API}/documents", {"text": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k6")
    again = clients["agent"].post(f"{API}/documents", {"text": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k6")
    assert bad.status_code == again.status_code == 400 and bad.json() == again.json()


def test_server_error_frees_the_key(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from ner.extraction import documents

    real = documents.submit_document
    monkeypatch.setattr(documents, "submit_document", lambda *a, **k: 1 / 0)
    assert _create(clients["agent"], "k7").status_code == 500
    assert not IdempotencyKey.objects.filter(key="k7").exists()
    monkeypatch.setattr(documents, "submit_document", real)
    assert _create(clients["agent"], "k7").status_code == 202


@pytest.mark.parametrize("key", ["x" * 201, "   ", "tab\there"])
def test_bad_keys_are_400(clients: dict[str, Any], key: str) -> None:
    response = _create(clients["agent"], key)
    assert response.status_code == 400 and "Idempotency-Key" in error_of(response)["fields"]
    assert Document.objects.count() == 0


@pytest.mark.parametrize("raw", [b'{"\\ud800": 1}', b'{"text": "a\\udc00b"}', b'{"text": ["\\udfff"]}'])
def test_lone_surrogates_are_400(clients: dict[str, Any], raw: bytes) -> None:
    response = clients["agent"].generic("POST", f"{API}/documents", raw, "application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "parse_error"


def test_error_echoing_a_nul_is_stored_for_replay(clients: dict[str, Any]) -> None:
    # Found by schemathesis on PostgreSQL: jsonb cannot hold NUL, which an unknown field's name may carry.
    raw = b'{"text": "x", "a\\u0000b": 2}'
    first = clients["agent"].generic("POST", f"{API}/documents", raw, "application/json", HTTP_IDEMPOTENCY_KEY="nul")
    again = clients["agent"].generic("POST", f"{API}/documents", raw, "application/json", HTTP_IDEMPOTENCY_KEY="nul")
    assert first.status_code == again.status_code == 400
    assert "a\x00b" in error_of(first)["fields"] and again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    "url",
    [
        "/entities?document=4.369861775692265e%2B49",  # found by schemathesis: SQLite integer overflow
        "/entities?document=1.5",
        "/evaluations?model_version=99999999999999999999",
        "/conversations?assigned_agent=-3",
    ],
)
def test_id_filters_refuse_non_ids(clients: dict[str, Any], url: str) -> None:
    response = clients["admin"].get(f"{API}{url}")
    assert response.status_code == 400
    assert error_of(response)["fields"]

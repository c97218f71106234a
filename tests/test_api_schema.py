"""The OpenAPI schema validates, and schemathesis, fuzzing every operation as an admin, finds no 5xx
and no response (status, content type, headers, body) that the schema does not describe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_support import make_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_schema_is_valid_openapi(db: None) -> None:
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_pages_are_served(client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/extract" in paths and "/api/v1/tasks/{task_id}" in paths
    error = schema.json()["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert "429" in paths["/api/v1/documents"]["get"]["responses"]
    create = paths["/api/v1/documents"]["post"]
    assert {"400", "401", "403", "413", "415", "422", "429"} <= set(create["responses"])
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert "Idempotency-Key" not in [p["name"] for p in paths["/api/v1/auth/token"]["post"].get("parameters", [])]
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/redoc/").status_code == 200


@pytest.fixture
def admin_token(db: None, settings: Any) -> str:
    settings.NER_RECOGNIZERS = ["patterns"]  # fast extraction: no model loading while fuzzing
    settings.API_THROTTLE_RATES = {"user": "1000000/min", "anon": "1000000/min"}
    settings.API_STREAM_MAX_S = 1
    token, _ = Token.objects.get_or_create(user=make_user("fuzz-admin", "admin"))
    return f"Token {token.key}"


def _generated_schema() -> Any:
    """The schema as /api/schema/ serves it, made at collection time (no request, no database)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from nlpapp.wsgi import application

    raw = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(raw)))
    loaded.app = application
    return loaded


@pytest.fixture
def keep_connection_open() -> Iterator[None]:
    """Like Django's test client: keep the test's connection (and transaction) across WSGI requests."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = _generated_schema()


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fuzz_every_operation(case: Any, admin_token: str, keep_connection_open: None) -> None:
    case.call_and_validate(headers={"Authorization": admin_token}, checks=CHECKS)

"""One error format for the whole API, and its description in the OpenAPI schema.

Every error answers ``{"error": {"code": "...", "message": "...", "fields": {...}}}``;
``fields`` (field name -> list of messages) is present on 400 validation errors.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def error_body(code: str, message: str, fields: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def error_json(status_code: int, code: str, message: str) -> JsonResponse:
    """The error format for responses made outside DRF (middleware, unknown URLs)."""
    return JsonResponse(error_body(code, message), status=status_code)


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        set_rollback()
        return Response(
            error_body("server_error", "Internal error; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _first_message(exc.detail)
        field_names = [name for name in fields if name != "non_field_errors"]
        if field_names:
            message = f"Invalid input in {', '.join(field_names)}: {message}"
        response.data = error_body("invalid", message, fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), _first_message(exc.detail))
    else:  # Http404 / PermissionDenied converted by DRF
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        code = "not_found" if response.status_code == 404 else "permission_denied"
        response.data = error_body(code, str(detail))
    return response


# --- OpenAPI ---------------------------------------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "Field name -> messages (400 validation errors only).",
                    "additionalProperties": {},
                },
            },
        }
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each bad field.",
    "401": "No or bad credentials (send `Authorization: Token <key>`).",
    "403": "Your role does not allow this.",
    "404": "Not found.",
    "409": "A request with the same Idempotency-Key is still running, or the object conflicts.",
    "413": "The body exceeds API_MAX_BODY_BYTES.",
    "415": "Send `Content-Type: application/json`.",
    "422": "The Idempotency-Key was already used with a different request.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular hook: documents the error body and the error statuses each operation can answer."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            idempotent = method == "post" and not path.endswith("/auth/token")
            codes = ["401", "403", "404", "429"]
            if operation.get("parameters") or operation.get("requestBody") or method != "get":
                codes.append("400")
            if method in {"post", "put", "patch"}:
                codes += ["413", "415"]
            if idempotent:
                codes += ["409", "422"]
            responses = operation.setdefault("responses", {})
            for code in codes:
                if code in responses:
                    continue
                responses[code] = {"description": _DESCRIPTIONS[code], "content": ref}
                if code == "429":
                    responses[code]["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                    }
            if idempotent:
                operation.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": "Send the same key when retrying: the first response is replayed "
                        "instead of creating twice (keys live API_IDEMPOTENCY_TTL_S seconds per user).",
                    }
                )
    return result

"""Request-level guards: API body limits (paths under /api/), NUL characters in form data, debug on loopback only."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict

from nlpapp.api_errors import error_json

API_PREFIX = "/api/"


class ApiBodyLimitMiddleware:
    """Refuses API bodies over ``API_MAX_BODY_BYTES`` with 413 before anything reads them.

    The check uses Content-Length; a body sent without one is still bounded by
    Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which the API's exception handler also
    turns into 413.  Unknown URLs under /api/ answer the API's JSON error format.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return error_json(400, "bad_content_length", f"Content-Length {raw_length!r} is not a number.")
        limit = settings.API_MAX_BODY_BYTES
        if length > limit:
            return error_json(413, "payload_too_large", f"The request body is {length} bytes; the limit is {limit}.")
        response = self.get_response(request)
        if response.status_code == 404 and response.get("Content-Type", "").startswith("text/html"):
            return error_json(404, "not_found", f"No API endpoint at {request.path}.")
        return response


class RejectNulMiddleware:
    """Answers 400 to query strings and form posts holding a NUL character (outside /api/).

    PostgreSQL text columns cannot hold NUL, so such a value reaching a query or a row
    is a 500 there (and works on SQLite); no form of this site takes one. The API
    refuses NUL in its own serializers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX) and (
            _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST))
        ):
            return HttpResponse("Form fields cannot contain NUL characters.", status=400, content_type="text/plain")
        return self.get_response(request)


def _has_nul(data: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


LOOPBACK = {"127.0.0.1", "::1"}


class DebugLoopbackOnlyMiddleware:
    """With ``DEBUG`` on, answers only clients on this machine (403 for the others).

    Debug pages show settings, paths and source code; ``make run`` keeps Django's
    development server with debug on, and this keeps those pages on 127.0.0.1 even
    when the server is bound to another address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and request.META.get("REMOTE_ADDR") not in LOOPBACK:
            return HttpResponse(
                "This server runs with DJANGO_DEBUG on and answers only on 127.0.0.1; "
                "serve other hosts with the production server (docs/configuration.md#production).",
                status=403,
                content_type="text/plain",
            )
        return self.get_response(request)

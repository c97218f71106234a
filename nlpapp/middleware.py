"""Request-level guards for the REST API (paths under /api/)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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

"""URLs of the REST API: /api/v1/... and the OpenAPI schema with Swagger UI and ReDoc."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from chat.api import ConversationViewSet, MessageViewSet, SuggestionViewSet
from ner.api import (
    DocumentViewSet,
    EntityViewSet,
    EvaluationViewSet,
    ExtractionRuleViewSet,
    ExtractView,
    ModelVersionViewSet,
    TaskView,
)
from nlpapp.api import AnonThrottle, LockedOut, StrictJSONParser


class TokenView(ObtainAuthToken):
    """Exchange a username and password for the user's API token (created on first use).

    Throttled per client address, and guarded by django-axes like the login pages: a
    client locked out gets 429, whatever password it sends.
    """

    parser_classes = [StrictJSONParser]
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonThrottle]  # DRF leaves this view unthrottled; passwords must not be guessable at speed

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.ValidationError:
            # django-axes marks the request it was given (this DRF request) when it refused or locked out.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut() from None
            raise


class IdRouter(SimpleRouter):
    """Object URLs match ASCII digits only: ``/entities/𒨽/review`` is a 404, never an ``int()`` error (a 500)."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        kwarg = getattr(viewset, "lookup_url_kwarg", None) or getattr(viewset, "lookup_field", "pk")
        return f"(?P<{lookup_prefix}{kwarg}>{getattr(viewset, 'lookup_value_regex', '[0-9]+')})"


router = IdRouter(trailing_slash=False)
router.register("documents", DocumentViewSet, basename="document")
router.register("entities", EntityViewSet, basename="entity")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("suggestions", SuggestionViewSet, basename="suggestion")
router.register("model-versions", ModelVersionViewSet, basename="modelversion")
router.register("evaluations", EvaluationViewSet, basename="evaluationrun")
router.register("rules", ExtractionRuleViewSet, basename="rule")

v1_patterns = [
    path("extract", ExtractView.as_view(), name="extract"),
    path(
        "conversations/<int:conversation_pk>/messages",
        MessageViewSet.as_view({"get": "list", "post": "create"}),
        name="conversation-messages",
    ),
    path("tasks/<str:task_id>", TaskView.as_view(), name="task-detail"),
    path("auth/token", TokenView.as_view(), name="token"),
    *router.urls,
]


class SchemaFormatNegotiation(DefaultContentNegotiation):
    """``?format=json`` or ``?format=yaml`` chooses the schema's format (the API itself negotiates by Accept only).

    Without it the schema answered YAML to ``?format=json``: ``URL_FORMAT_OVERRIDE`` is off for the API.
    """

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        wanted = request.query_params.get("format")
        if not wanted:
            return super().select_renderer(request, renderers, format_suffix)
        matching = [r for r in renderers if r.format == wanted]
        if not matching:
            known = sorted({r.format for r in renderers})
            raise exceptions.ValidationError({"format": [f"Use one of {', '.join(known)}."]})
        return matching[0], matching[0].media_type


class SchemaView(SpectacularAPIView):
    content_negotiation_class = SchemaFormatNegotiation


urlpatterns = [
    path("v1/", include((v1_patterns, "api"), namespace="api")),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Swagger UI and ReDoc are served from drf-spectacular-sidecar's static files (settings), never a CDN.
    # ReDoc injects its styles and runs its search in a blob: worker: allowed on this page only.
    path(
        "redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-redoc",
    ),
]

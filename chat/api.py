"""REST API views of the chat app: conversations, their messages, reply suggestions and their event stream."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from chat import serializers as s
from chat.models import Conversation, Message, ReplySuggestion
from ner.roles import ADMIN, AGENT
from nlpapp.api import ALL_ROLES, IdempotentMixin, IdFilter

AGENT_ROLES = (AGENT, ADMIN)
TERMINAL = {ReplySuggestion.Status.DONE, ReplySuggestion.Status.CANCELLED, ReplySuggestion.Status.FAILED}


class ConversationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Conversation.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Conversation.Channel.choices)
    assigned_agent = IdFilter(field_name="assigned_agent_id")

    class Meta:
        model = Conversation
        fields = ["status", "channel", "assigned_agent"]


@extend_schema_view(
    list=extend_schema(description="Conversations, most recently active first."),
    retrieve=extend_schema(description="One conversation."),
    create=extend_schema(description="Open a conversation (agents)."),
    partial_update=extend_schema(description="Change status, subject or assignment (agents)."),
)
class ConversationViewSet(
    IdempotentMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    read_roles = ALL_ROLES
    write_roles = AGENT_ROLES
    serializer_class = s.ConversationSerializer
    filterset_class = ConversationFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Conversation]:
        return (
            Conversation.objects.select_related("assigned_agent")
            .annotate(message_count=Count("messages"))
            .order_by("-updated_at", "-pk")
        )

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        try:
            from chat.services import new_customer_token

            token = new_customer_token()
        except ImportError:
            token = secrets.token_urlsafe(24)
        serializer.save(customer_token=token)

    @extend_schema(
        request=None,
        responses={202: s.SuggestionSerializer},
        description="Ask for a reply suggestion (agents); its tokens arrive on `stream_url` as server-sent events.",
    )
    @action(detail=True, methods=["post"], url_path="suggest-reply")
    def suggest_reply(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        with transaction.atomic():
            suggestion = request_suggestion(conversation, request.user)
        suggestion.refresh_from_db()
        return Response(s.SuggestionSerializer(suggestion).data, status=status.HTTP_202_ACCEPTED)


def request_suggestion(conversation: Conversation, user: Any) -> ReplySuggestion:
    """``chat.services.request_suggestion`` when present; else a queued row plus ``chat.tasks.generate_reply``."""
    try:
        from chat.services import request_suggestion as domain_request
    except ImportError:
        suggestion = ReplySuggestion.objects.create(conversation=conversation, requested_by=user)

        def send() -> None:
            try:
                from chat.tasks import generate_reply
            except ImportError:
                return
            generate_reply.delay(suggestion.pk)

        transaction.on_commit(send)
        return suggestion
    return domain_request(conversation, user)


def post_message(conversation: Conversation, direction: str, author: str, text: str) -> Message:
    """``chat.services.post_message`` when present; else the message and its document, stored together."""
    try:
        from chat.services import post_message as domain_post
    except ImportError:
        from ner.services import submit_document

        message = Message.objects.create(conversation=conversation, direction=direction, author=author, text=text)
        message.document = submit_document(text, source="chat")
        message.save(update_fields=["document"])
        return message
    return domain_post(conversation.pk, direction, author, text)


@extend_schema_view(
    list=extend_schema(description="Messages of a conversation, oldest first, with their entities."),
)
class MessageViewSet(IdempotentMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    read_roles = ALL_ROLES
    write_roles = AGENT_ROLES
    serializer_class = s.MessageSerializer

    def conversation(self) -> Conversation:
        return get_object_or_404(Conversation, pk=self.kwargs["conversation_pk"])

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no conversation in the URL
            return Message.objects.none()
        return (
            Message.objects.filter(conversation=self.conversation())
            .select_related("document")
            .prefetch_related("document__entities__reviewed_by", "document__entities__model_version")
            .order_by("created_at", "pk")
        )

    @extend_schema(
        request=s.MessageCreateSerializer,
        responses={201: s.MessageSerializer},
        description="Post a message (agents); its entities are extracted in the background.",
    )
    def create(self, request: Request, conversation_pk: int) -> Response:
        conversation = self.conversation()
        data = s.MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        default_author = conversation.customer_name if v["direction"] == Message.Direction.INBOUND else ""
        author = v.get("author") or default_author or request.user.get_username()
        try:
            with transaction.atomic():
                message = post_message(conversation, v["direction"], author, v["text"])
        except (DjangoValidationError, ValueError) as exc:
            messages = exc.messages if isinstance(exc, DjangoValidationError) else [str(exc)]
            raise serializers.ValidationError({"text": messages}) from exc
        message = self.get_queryset().get(pk=message.pk)
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


def suggestion_events(suggestion_id: int, max_seconds: float, poll_s: float = 0.2) -> Iterator[str]:
    """Server-sent events for a suggestion: ``text`` events with the reply so far, then one ``done`` event.

    Reads the ``ReplySuggestion`` row, which the generator updates as it goes (with a
    worker or in eager mode).  Each ``text`` event carries the whole visible text, not a
    delta, because the grounding guard may rewrite earlier words; gives up (``timeout``)
    after ``max_seconds``.
    """
    shown: str | None = None
    deadline = time.monotonic() + max_seconds
    while True:
        row = ReplySuggestion.objects.filter(pk=suggestion_id).values("status", "text", "error").first()
        if row is None:
            yield _event("done", {"status": "failed", "text": "", "error": "the suggestion was deleted"})
            return
        if row["status"] in TERMINAL:
            yield _event("done", {"status": row["status"], "text": row["text"], "error": row["error"]})
            return
        if row["text"] and row["text"] != shown:
            shown = row["text"]
            yield _event("text", {"text": shown})
        if time.monotonic() > deadline:
            yield _event("timeout", {"status": row["status"], "text": row["text"]})
            return
        time.sleep(poll_s)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


@extend_schema_view(retrieve=extend_schema(description="A reply suggestion: its status and the text so far."))
class SuggestionViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = AGENT_ROLES
    serializer_class = s.SuggestionSerializer
    queryset = ReplySuggestion.objects.all()

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response):  # errors are JSON even when the client asked for an event stream
            response.accepted_renderer, response.accepted_media_type = JSONRenderer(), "application/json"
        return response

    @extend_schema(
        responses={(200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description="Server-sent events.")},
        description='The suggestion as server-sent events: `text` events (`{"text": the reply so far}`) while it is '
        'generated, then one `done` (`{"status", "text", "error"}`), or `timeout` after API_STREAM_MAX_S seconds.',
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, EventStreamRenderer])
    def stream(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        suggestion = self.get_object()
        response = StreamingHttpResponse(
            suggestion_events(suggestion.pk, float(settings.API_STREAM_MAX_S)), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

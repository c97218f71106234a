"""REST API views of the chat app: conversations, their messages, reply suggestions and their event stream."""

from __future__ import annotations

import json
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
from chat import services, streaming
from chat.models import Conversation, Message, ReplySuggestion
from ner.roles import ADMIN, AGENT
from nlpapp.api import ALL_ROLES, IdempotentMixin, IdFilter

AGENT_ROLES = (AGENT, ADMIN)


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
        serializer.save(customer_token=services.new_customer_token())

    @extend_schema(
        request=None,
        responses={202: s.SuggestionSerializer},
        description="Ask for a reply suggestion (agents); its tokens arrive on `stream_url` as server-sent events.",
    )
    @action(detail=True, methods=["post"], url_path="suggest-reply")
    def suggest_reply(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        with transaction.atomic():
            suggestion = services.request_suggestion(conversation, request.user)
        suggestion.refresh_from_db()
        return Response(s.SuggestionSerializer(suggestion).data, status=status.HTTP_202_ACCEPTED)


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
        # The author is who the message is from, not a free field: a customer message carries the
        # conversation's customer name, an agent's reply the caller's name (no posting as someone else).
        if v["direction"] == Message.Direction.INBOUND:
            author = conversation.customer_name
        else:
            user: Any = request.user
            author = user.get_full_name() or user.get_username()
        if v.get("author") not in (None, author):
            raise serializers.ValidationError(
                {"author": [f"The author is set from the direction: {author!r} for this message; leave it out."]}
            )
        try:
            with transaction.atomic():
                message = services.post_message(conversation.pk, v["direction"], author, v["text"])
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
        "generated, then one `done` with the final state (`status` done, cancelled or failed, `text`, `error`, "
        "`flagged`, `sources`, ...), or `timeout` after API_STREAM_MAX_S seconds. The agent UI reads the same stream.",
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, EventStreamRenderer])
    def stream(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        suggestion = self.get_object()
        response = StreamingHttpResponse(
            streaming.event_stream(request, suggestion.pk, max_seconds=float(settings.API_STREAM_MAX_S)),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

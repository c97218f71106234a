"""REST API serializers of the chat app: conversations, messages, reply suggestions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat.models import Conversation, Message, ReplySuggestion
from ner.serializers import EntitySerializer
from nlpapp.api import StrictCharField, StrictFieldsMixin

MAX_MESSAGE_CHARS = settings.CHAT_MAX_MESSAGE_CHARS


class ConversationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    assigned_agent = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), required=False, allow_null=True
    )
    assigned_agent_username: serializers.SlugRelatedField = serializers.SlugRelatedField(
        source="assigned_agent", slug_field="username", read_only=True, allow_null=True
    )
    message_count = serializers.SerializerMethodField()
    messages_url = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "customer_name",
            "customer_email",
            "subject",
            "channel",
            "status",
            "assigned_agent",
            "assigned_agent_username",
            "message_count",
            "messages_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"customer_name": {"trim_whitespace": True}}

    def validate_customer_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The customer name is empty.")
        return value

    def get_message_count(self, obj: Conversation) -> int:
        annotated = getattr(obj, "message_count", None)
        return int(annotated) if annotated is not None else obj.messages.count()

    def get_messages_url(self, obj: Conversation) -> str:
        return reverse("api:conversation-messages", kwargs={"conversation_pk": obj.pk})


class MessageSerializer(serializers.ModelSerializer):
    document_status = serializers.CharField(source="document.status", read_only=True, allow_null=True, default=None)
    entities = serializers.SerializerMethodField(help_text="Entities found in the message (empty until extracted).")

    class Meta:
        model = Message
        fields = ["id", "conversation", "direction", "author", "text", "document", "document_status", "entities"]
        fields += ["created_at"]
        read_only_fields = fields

    @extend_schema_field(EntitySerializer(many=True))
    def get_entities(self, obj: Message) -> list[dict[str, Any]]:
        if obj.document is None:
            return []
        return list(EntitySerializer(obj.document.entities.all(), many=True).data)


class MessageCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=Message.Direction.choices, default=Message.Direction.INBOUND, help_text="in: customer, out: agent."
    )
    author = StrictCharField(
        required=False,
        max_length=200,
        help_text="Set by the server: the customer's name (in) or your name (out); any other value is refused.",
    )
    text = StrictCharField(max_length=MAX_MESSAGE_CHARS)


class SuggestionSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    stream_url = serializers.SerializerMethodField(
        help_text="Server-sent events: `text` (the reply so far), then `done`."
    )

    class Meta:
        model = ReplySuggestion
        fields = [
            "id",
            "conversation",
            "status",
            "text",
            "sources",
            "flagged",
            "claims",
            "model_name",
            "latency_ms",
            "first_token_ms",
            "error",
            "outcome",
            "created_at",
            "url",
            "stream_url",
        ]
        read_only_fields = fields

    def get_url(self, obj: ReplySuggestion) -> str:
        return reverse("api:suggestion-detail", kwargs={"pk": obj.pk})

    def get_stream_url(self, obj: ReplySuggestion) -> str:
        return reverse("api:suggestion-stream", kwargs={"pk": obj.pk})

"""Conversations between customers and agents, and the reply suggestions made for them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    class Channel(models.TextChoices):
        CHAT = "chat", "chat"
        EMAIL = "email", "email"
        PHONE = "phone", "phone"
        API = "api", "api"

    class Status(models.TextChoices):
        OPEN = "open", "open"
        PENDING = "pending", "pending"
        CLOSED = "closed", "closed"

    customer_name = models.CharField(max_length=200)
    customer_email = models.EmailField(blank=True)
    subject = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.CHAT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    customer_token = models.CharField(
        max_length=64,
        unique=True,
        help_text="Secret in the customer page's URL; lets a customer post without an account.",
    )
    customer_token_created_at = models.DateTimeField(
        default=timezone.now, help_text="When the customer link was made; it expires CHAT_CUSTOMER_LINK_TTL_DAYS later."
    )
    agent_last_read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer_name}: {self.subject}"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "from customer"
        OUTBOUND = "out", "from agent"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    author = models.CharField(max_length=200)
    text = models.TextField()
    document = models.OneToOneField(
        "ner.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message",
        help_text="The NER document holding this message's entities.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.text[:40]}"


class CannedResponse(models.Model):
    title = models.CharField(max_length=200)
    text = models.TextField()
    shortcut = models.CharField(max_length=32, blank=True)
    embedding = models.JSONField(null=True, blank=True, help_text="Mean-pooled MiniLM embedding of title + text.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class KnowledgeArticle(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    embedding = models.JSONField(null=True, blank=True, help_text="Mean-pooled MiniLM embedding of title + body.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ReplySuggestion(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        STREAMING = "streaming", "streaming"
        DONE = "done", "done"
        CANCELLED = "cancelled", "cancelled"
        FAILED = "failed", "failed"

    class Outcome(models.TextChoices):
        NONE = "", "no decision yet"
        ACCEPTED = "accepted", "accepted"
        EDITED = "edited", "edited"
        REJECTED = "rejected", "rejected"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="suggestions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    text = models.TextField(blank=True)
    prompt = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True, help_text="Canned responses / articles used for grounding.")
    flagged = models.JSONField(default=list, blank=True, help_text="Identifiers removed by the grounding check.")
    claims = models.JSONField(
        default=list,
        blank=True,
        help_text="Sentences saying an action was already taken (chat.guard.action_claims): check before sending.",
    )
    model_version = models.ForeignKey(
        "ner.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    first_token_ms = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Times a generate_reply task claimed this row (a redelivered task makes another)."
    )
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the current attempt claimed the row.")
    error = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default=Outcome.NONE)
    final_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"suggestion #{self.pk} for conversation #{self.conversation_id}"

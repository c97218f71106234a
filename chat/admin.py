from __future__ import annotations

from django.contrib import admin

from chat.models import CannedResponse, Conversation, KnowledgeArticle, Message, ReplySuggestion


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("direction", "author", "text", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "customer_name", "subject", "channel", "status", "assigned_agent", "updated_at")
    list_filter = ("status", "channel")
    search_fields = ("customer_name", "customer_email", "subject")
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "direction", "author", "created_at")
    list_filter = ("direction",)
    search_fields = ("text",)


@admin.register(ReplySuggestion)
class ReplySuggestionAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "status", "outcome", "latency_ms", "created_at")
    list_filter = ("status", "outcome")


admin.site.register(CannedResponse)
admin.site.register(KnowledgeArticle)

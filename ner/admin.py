from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ner.forms import ExtractionRuleForm
from ner.models import (
    Document,
    Entity,
    EvaluationRun,
    ExtractionRule,
    GazetteerTerm,
    InferenceLog,
    ModelActivation,
    ModelVersion,
    ReviewAnnotation,
)


class EntityInline(admin.TabularInline):
    model = Entity
    extra = 0
    fields = ("start", "end", "label", "text", "score", "source", "review_status", "corrected_label")
    readonly_fields = ("text", "score", "source")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("id", "short_text", "source", "status", "attempts", "created_at")
    list_filter = ("status", "source")
    search_fields = ("text", "external_id")
    readonly_fields = ("created_at", "updated_at", "queued_at", "processed_at", "attempts")
    inlines = [EntityInline]

    @admin.display(description="text")
    def short_text(self, obj: Document) -> str:
        return obj.text[:80]


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "document_link",
        "text",
        "label",
        "corrected_label",
        "score",
        "source",
        "review_status",
        "reviewed_by",
        "reviewed_at",
    )
    list_filter = ("review_status", "label", "source", "corrected_label", "reviewed_by", "created_at")
    search_fields = ("text", "document__text", "=document__id")
    list_select_related = ("document", "reviewed_by")
    date_hierarchy = "created_at"
    ordering = ("score", "document_id", "start")
    raw_id_fields = ("document",)
    readonly_fields = ("created_at", "reviewed_at")
    actions = ("accept_entities", "reject_entities")

    @admin.display(description="document", ordering="document_id")
    def document_link(self, obj: Entity) -> str:
        from django.urls import reverse
        from django.utils.html import format_html

        # ``?at=``: a long document opens at the part that holds this entity.
        url = f"{reverse('ner:review-document', args=[obj.document_id])}?at={obj.start}"
        return format_html('<a href="{}">#{}</a>', url, obj.document_id)

    @admin.action(description="Accept selected entities", permissions=["change"])
    def accept_entities(self, request: HttpRequest, queryset: QuerySet[Entity]) -> None:
        from ner.review.actions import accept

        self.message_user(request, f"{accept(queryset.values_list('pk', flat=True), request.user)} accepted")

    @admin.action(description="Reject selected entities", permissions=["change"])
    def reject_entities(self, request: HttpRequest, queryset: QuerySet[Entity]) -> None:
        from ner.review.actions import reject

        self.message_user(request, f"{reject(queryset.values_list('pk', flat=True), request.user)} rejected")


@admin.register(ExtractionRule)
class ExtractionRuleAdmin(admin.ModelAdmin):
    form = ExtractionRuleForm  # validates the rule (RE2, examples, counter-examples) with per-field errors
    list_display = ("name", "label", "pattern", "enabled", "updated_at")
    list_filter = ("enabled", "label")
    search_fields = ("name", "pattern")


@admin.register(GazetteerTerm)
class GazetteerTermAdmin(admin.ModelAdmin):
    list_display = ("term", "label", "case_insensitive", "enabled")
    list_filter = ("label", "enabled")
    search_fields = ("term",)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "status", "is_active", "dev_f1", "created_at", "activated_at")
    list_filter = ("kind", "status", "is_active")
    readonly_fields = ("created_at", "activated_at")


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "pipeline", "data_path", "model_version", "micro_f1", "status", "created_at")
    list_filter = ("pipeline", "status")


@admin.register(InferenceLog)
class InferenceLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "model_version", "latency_ms", "ok", "error")
    list_filter = ("kind", "ok")


@admin.register(ReviewAnnotation)
class ReviewAnnotationAdmin(admin.ModelAdmin):
    list_display = ("document", "reviewer", "is_resolution", "chosen", "updated_at")
    list_filter = ("is_resolution", "chosen", "reviewer")
    raw_id_fields = ("document",)


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "model_version", "previous", "user", "forced", "is_rollback", "rolled_back", "reason")
    list_filter = ("kind", "forced", "is_rollback")

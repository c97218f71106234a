from __future__ import annotations

from django.contrib import admin

from ner.forms import ExtractionRuleForm
from ner.models import Document, Entity, EvaluationRun, ExtractionRule, GazetteerTerm, InferenceLog, ModelVersion


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
    list_display = ("id", "document", "label", "text", "score", "source", "review_status", "reviewed_by")
    list_filter = ("review_status", "label", "source")
    search_fields = ("text",)
    raw_id_fields = ("document",)
    readonly_fields = ("created_at",)


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

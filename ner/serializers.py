"""REST API serializers of the ner app: documents, entities, extraction, model versions, evaluations, tasks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ner.extraction import documents
from ner.extraction.pipeline import PIPELINE_NAMES, RECOGNIZER_NAMES
from ner.labels import ALL_LABELS
from ner.models import Document, Entity, EvaluationRun, ExtractionRule, ModelVersion
from nlpapp.api import StrictCharField, StrictFieldsMixin

MAX_BATCH_TEXTS = 100
# Corpus specs ner.corpora.specs.load_corpus understands besides file paths.
_NAMED_CORPUS = re.compile(r"^(wnut16|synthetic(-heldout)?:\d{1,6}(:\d{1,9})?)$")
CORPUS_SUFFIXES = (".conll", ".txt", ".jsonl")


NULLABLE_URL = serializers.CharField(allow_null=True)


def task_url(task_id: str) -> str | None:
    return reverse("api:task-detail", kwargs={"task_id": task_id}) if task_id else None


class PipelineOptionsSerializer(StrictFieldsMixin, serializers.Serializer):
    """Per-request pipeline options (checked again by ``ner.extraction.documents.validate_options``)."""

    recognizers = serializers.ListField(
        child=serializers.ChoiceField(choices=RECOGNIZER_NAMES),
        required=False,
        allow_empty=False,
        max_length=len(RECOGNIZER_NAMES),
        help_text="Run only these recognizers (default: NER_RECOGNIZERS).",
    )
    pipeline = serializers.ChoiceField(choices=PIPELINE_NAMES, required=False, help_text="A named recognizer set.")
    tagger_version = serializers.CharField(
        required=False, max_length=64, help_text="Name of a tagger model version (default: the active one)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "recognizers" in attrs and "pipeline" in attrs:
            raise serializers.ValidationError("Give either recognizers or pipeline, not both.")
        return attrs


class SpanSerializer(serializers.Serializer):
    start = serializers.IntegerField(help_text="Code-point offset into the text as sent.")
    end = serializers.IntegerField(help_text="Exclusive end offset.")
    label = serializers.CharField()  # type: ignore[assignment]
    text = serializers.CharField()
    score = serializers.FloatField()
    source = serializers.CharField(help_text="Recognizer that found it, e.g. pattern:email, tagger:tagger-v3.")  # type: ignore[assignment]


def _check_text(value: str) -> str:
    try:
        return documents.validate_text(value)
    except documents.DocumentRejected as exc:
        raise serializers.ValidationError(str(exc)) from exc


class ExtractRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    text = StrictCharField(
        required=False, trim_whitespace=False, help_text="One text; extracted at once when short enough."
    )
    texts = serializers.ListField(
        child=StrictCharField(trim_whitespace=False),
        required=False,
        allow_empty=False,
        max_length=MAX_BATCH_TEXTS,
        help_text=f"A batch of up to {MAX_BATCH_TEXTS} texts, always processed in the background.",
    )
    options = PipelineOptionsSerializer(required=False)

    def validate_text(self, value: str) -> str:
        return _check_text(value)

    def validate_texts(self, value: list[str]) -> list[str]:
        errors: dict[str, Any] = {}
        for i, text in enumerate(value):
            try:
                _check_text(text)
            except serializers.ValidationError as exc:
                errors[str(i)] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("text" in attrs) == ("texts" in attrs):
            raise serializers.ValidationError("Give exactly one of text or texts.")
        return attrs


class ExtractResultSerializer(serializers.Serializer):
    entities = SpanSerializer(many=True)
    length = serializers.IntegerField(help_text="Length of the text in code points.")
    latency_ms = serializers.FloatField()


class DocumentRefSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    task_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "status", "url", "task_id", "task_url"]

    def get_url(self, obj: Document) -> str:
        return reverse("api:document-detail", kwargs={"pk": obj.pk})

    @extend_schema_field(NULLABLE_URL)
    def get_task_url(self, obj: Document) -> str | None:
        return task_url(obj.task_id)


class ExtractAcceptedSerializer(serializers.Serializer):
    documents = DocumentRefSerializer(many=True)


class EntitySerializer(serializers.ModelSerializer):
    final_label = serializers.CharField(read_only=True)
    final_start = serializers.IntegerField(read_only=True)
    final_end = serializers.IntegerField(read_only=True)
    reviewed_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    model_version: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )

    class Meta:
        model = Entity
        fields = [
            "id",
            "document",
            "start",
            "end",
            "label",
            "text",
            "score",
            "source",
            "model_version",
            "review_status",
            "corrected_label",
            "corrected_start",
            "corrected_end",
            "final_label",
            "final_start",
            "final_end",
            "reviewed_by",
            "reviewed_at",
            "created_at",
        ]
        read_only_fields = fields


class DocumentSerializer(serializers.ModelSerializer):
    task_url = serializers.SerializerMethodField()
    model_version: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    entity_count = serializers.SerializerMethodField(help_text="Entities stored for the document.")

    class Meta:
        model = Document
        fields = [
            "id",
            "text",
            "source",
            "external_id",
            "status",
            "error",
            "attempts",
            "options",
            "task_id",
            "task_url",
            "model_version",
            "entity_count",
            "created_at",
            "updated_at",
            "queued_at",
            "processed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_URL)
    def get_task_url(self, obj: Document) -> str | None:
        return task_url(obj.task_id)

    def get_entity_count(self, obj: Document) -> int:
        if hasattr(obj, "entity_count"):  # annotated by the view; None when the document has no entity
            return int(obj.entity_count or 0)
        return obj.entities.count()


class DocumentDetailSerializer(DocumentSerializer):
    entities = EntitySerializer(many=True, read_only=True)

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "entities"]
        read_only_fields = fields


class DocumentCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    text = StrictCharField(trim_whitespace=False)
    source = serializers.RegexField(  # type: ignore[assignment]
        r"^[A-Za-z0-9_.:-]{1,32}$", required=False, default="api", help_text="Where the text came from (1-32 chars)."
    )
    external_id = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    options = PipelineOptionsSerializer(required=False)

    def validate_text(self, value: str) -> str:
        return _check_text(value)


class ReviewSerializer(StrictFieldsMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "reject", "correct"])
    label = serializers.ChoiceField(choices=ALL_LABELS, required=False, help_text="New label (correct only).")  # type: ignore[assignment]
    start = serializers.IntegerField(required=False, min_value=0, help_text="New start offset (correct only).")
    end = serializers.IntegerField(required=False, min_value=1, help_text="New end offset (correct only).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        changes = {"label", "start", "end"} & set(attrs)
        if attrs["action"] == "correct" and not changes:
            raise serializers.ValidationError("A correction needs a label, a start or an end.")
        if attrs["action"] != "correct" and changes:
            raise serializers.ValidationError({name: ["Only a correction takes this field."] for name in changes})
        return attrs


class EntityCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    start = serializers.IntegerField(min_value=0)
    end = serializers.IntegerField(min_value=1)
    label = serializers.ChoiceField(choices=ALL_LABELS)  # type: ignore[assignment]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["end must be greater than start."]})
        return attrs


class ModelVersionSerializer(serializers.ModelSerializer):
    dev_f1 = serializers.FloatField(read_only=True, allow_null=True)
    task_url = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "kind",
            "name",
            "base_model",
            "status",
            "is_active",
            "labels",
            "hyperparameters",
            "data_fingerprints",
            "metrics",
            "dev_f1",
            "progress",
            "task_id",
            "task_url",
            "error",
            "notes",
            "created_at",
            "activated_at",
            "created_by",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_URL)
    def get_task_url(self, obj: ModelVersion) -> str | None:
        return task_url(obj.task_id) if obj.task_id and not obj.task_id.startswith("thread:") else None


class ActivateSerializer(StrictFieldsMixin, serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text="Activate even when its F1 is worse than the active one.")
    eval_data = serializers.CharField(
        required=False, max_length=500, help_text="Corpus spec to compare both versions on (default: dev F1)."
    )

    def validate_eval_data(self, value: str) -> str:
        return check_corpus_spec(value)


class RollbackSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ModelVersion.Kind.choices, default=ModelVersion.Kind.TAGGER)


class TrainingRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    train = serializers.ListField(
        child=serializers.CharField(max_length=500), allow_empty=False, max_length=20, help_text="Corpus specs."
    )
    dev = serializers.CharField(required=False, max_length=500, help_text="Corpus spec for early stopping.")
    hyperparameters = serializers.DictField(
        required=False, default=dict, help_text="epochs, lr, batch_size, max_seconds, seed, base_model..."
    )

    def validate_train(self, value: list[str]) -> list[str]:
        return [check_corpus_spec(spec) for spec in value]

    def validate_dev(self, value: str) -> str:
        return check_corpus_spec(value)


def check_corpus_spec(spec: str) -> str:
    """A named corpus (``wnut16``, ``synthetic:N[:SEED]``) or an existing .conll/.txt/.jsonl file on the server."""
    spec = spec.strip()
    if _NAMED_CORPUS.match(spec):
        return spec
    path = Path(spec)
    if path.suffix.lower() not in CORPUS_SUFFIXES:
        raise serializers.ValidationError(
            "Use wnut16, synthetic:N[:SEED], synthetic-heldout:N[:SEED] or a .conll/.txt/.jsonl file path."
        )
    if not path.is_file():
        raise serializers.ValidationError(f"No file at {spec} on the server.")
    return spec


class EvaluationRunSerializer(serializers.ModelSerializer):
    model_version: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    task_url = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "model_version",
            "pipeline",
            "data_path",
            "data_fingerprint",
            "labels",
            "status",
            "error",
            "micro_f1",
            "metrics",
            "duration_s",
            "task_id",
            "task_url",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_URL)
    def get_task_url(self, obj: EvaluationRun) -> str | None:
        return task_url(obj.task_id) if obj.task_id and not obj.task_id.startswith("thread:") else None


class EvaluationCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    data = serializers.CharField(max_length=500, help_text="Corpus spec: a server file path, wnut16, synthetic:N...")  # type: ignore[assignment]
    pipeline = serializers.ChoiceField(choices=PIPELINE_NAMES, default="merged")
    labels = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_LABELS),
        required=False,
        default=list,
        help_text="Labels to score (default: all in the data).",
    )
    model_version = serializers.PrimaryKeyRelatedField(
        queryset=ModelVersion.objects.filter(kind=ModelVersion.Kind.TAGGER, status=ModelVersion.Status.READY),
        required=False,
        allow_null=True,
        help_text="Id of a ready tagger version (default: the active one).",
    )

    def validate_data(self, value: str) -> str:
        return check_corpus_spec(value)


class TaskStateSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=["document", "model_version", "evaluation", "celery"], help_text="What owns the task."
    )
    state = serializers.CharField(help_text="queued, processing/running/training, done/ready, failed, or Celery's.")
    done = serializers.BooleanField()
    progress = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    object_url = serializers.CharField(allow_null=True, help_text="The object that holds the result.")
    objects = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the owning objects.")


class ExtractionRuleSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An admin rule; the pattern must compile under RE2 and match its examples."""

    examples = serializers.ListField(child=StrictCharField(max_length=500), max_length=50, default=list)
    counter_examples = serializers.ListField(child=StrictCharField(max_length=500), max_length=50, default=list)
    context_words = serializers.ListField(child=StrictCharField(max_length=50), max_length=50, default=list)
    score = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.6)

    class Meta:
        model = ExtractionRule
        fields = [
            "id",
            "name",
            "label",
            "pattern",
            "case_insensitive",
            "examples",
            "counter_examples",
            "context_words",
            "score",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"pattern": {"max_length": 2000}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from ner.extraction.admin_rules import RuleValidationError, validate_rule

        current = self.instance

        def value(name: str, default: Any) -> Any:
            return attrs[name] if name in attrs else getattr(current, name, default)

        try:
            validate_rule(
                value("pattern", ""),
                case_insensitive=bool(value("case_insensitive", False)),
                examples=list(value("examples", [])),
                counter_examples=list(value("counter_examples", [])),
            )
        except RuleValidationError as exc:
            raise serializers.ValidationError(exc.errors) from exc
        return attrs

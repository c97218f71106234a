"""REST API views of the ner app (mounted under /api/v1/ by ``nlpapp.api_urls``).

Views are adapters: validation and permissions here, the work in the domain packages
(``ner.extraction``, ``ner.review``, ``ner.registry``, ``ner.evaluation``, ``ner.jobs``).
"""

from __future__ import annotations

import re
import time
from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.http import Http404
from django.urls import reverse
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ner import jobs
from ner import serializers as s
from ner.evaluation import runs
from ner.extraction import documents
from ner.models import Document, Entity, EvaluationRun, ExtractionRule, ModelVersion
from ner.registry import activation, versions
from ner.review import actions as review
from ner.roles import ADMIN, REVIEWER, user_has_role
from nlpapp.api import ALL_ROLES, IdempotentMixin, IdFilter

REVIEW_ROLES = (REVIEWER, ADMIN)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the object's state."


def _rejected(exc: Exception, field: str) -> serializers.ValidationError:
    """A domain refusal as a 400 naming the field it is about (the exception's ``field`` when it has one)."""
    return serializers.ValidationError({getattr(exc, "field", field): [str(exc)]})


def _review_rejected(exc: Exception) -> serializers.ValidationError:
    return _rejected(exc, "non_field_errors")


# --- extract ---------------------------------------------------------------------------------


def _check_version_choice(request: Request, options: dict[str, Any]) -> None:
    """Only reviewers and admins choose a tagger version: each version a worker loads costs it about 90 MB."""
    if options.get("tagger_version") and not user_has_role(request.user, REVIEWER, ADMIN):
        raise PermissionDenied(
            "Only reviewers and admins may choose a tagger_version; leave it out for the active one."
        )


class ExtractView(IdempotentMixin, APIView):
    """Entities of a text: at once when short, as stored documents processed in the background otherwise."""

    write_roles = ALL_ROLES

    @extend_schema(
        operation_id="extract",
        request=s.ExtractRequestSerializer,
        responses={200: s.ExtractResultSerializer, 202: s.ExtractAcceptedSerializer},
        description="A single `text` of at most NER_SYNC_MAX_CHARS characters (and no `tagger_version` option) is "
        "extracted at once (200). Longer texts and `texts` batches are stored as documents and processed in the "
        "background (202): poll each document's `task_url` or `url`.",
    )
    def post(self, request: Request) -> Response:
        data = s.ExtractRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data.get("options") or {})
        try:
            options = documents.validate_options(options)
        except documents.DocumentRejected as exc:
            raise _rejected(exc, "options") from exc
        _check_version_choice(request, options)
        text = data.validated_data.get("text")
        if text is not None and len(text) <= settings.NER_SYNC_MAX_CHARS and "tagger_version" not in options:
            started = time.perf_counter()
            try:
                spans = documents.extract_text(text, recognizers=documents.recognizers_for(options))
            except documents.DocumentRejected as exc:
                raise _rejected(exc, "text") from exc
            body = {
                "entities": [span.as_dict() for span in spans],
                "length": len(text),
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            return Response(body)  # the shape of ExtractResultSerializer already (Span.as_dict): no copy through it
        texts = [text] if text is not None else list(data.validated_data["texts"])
        try:
            with transaction.atomic():
                docs = documents.submit_documents(texts, source="api", options=options, user=request.user)
        except documents.DocumentRejected as exc:
            raise _rejected(exc, "texts") from exc
        fresh = Document.objects.filter(pk__in=[d.pk for d in docs]).order_by("pk")
        return Response({"documents": s.DocumentRefSerializer(fresh, many=True).data}, status=status.HTTP_202_ACCEPTED)


# --- documents and entities ---------------------------------------------------------------------


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts."""

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        if cleaned is None:
            return None
        try:
            return cleaned.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("The date-time is out of range.", code="invalid") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class DocumentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Document.Status.choices)
    source = django_filters.CharFilter(max_length=32)
    external_id = django_filters.CharFilter(max_length=200)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    label = django_filters.ChoiceFilter(
        choices=[(label, label) for label in s.ALL_LABELS], method="filter_label", help_text="Has an entity of it."
    )

    class Meta:
        model = Document
        fields = ["status", "source", "external_id", "created_after", "created_before", "label"]

    def filter_label(self, queryset: QuerySet[Document], name: str, value: str) -> QuerySet[Document]:
        return queryset.filter(Exists(Entity.objects.filter(document=OuterRef("pk"), label=value)))


@extend_schema_view(
    list=extend_schema(description="Documents, newest first, filtered and paginated."),
    retrieve=extend_schema(description="A document with its entities."),
)
class DocumentViewSet(IdempotentMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = ALL_ROLES
    write_roles = ALL_ROLES
    action_roles = {"add_entity": REVIEW_ROLES}
    filterset_class = DocumentFilter

    def get_queryset(self) -> QuerySet[Document]:
        # A correlated count runs only for the rows of the page, and the paginator's COUNT(*) leaves it out.
        per_document = Entity.objects.filter(document=OuterRef("pk")).order_by().values("document")
        queryset = Document.objects.select_related("model_version").annotate(
            entity_count=Subquery(per_document.annotate(n=Count("pk")).values("n")[:1])
        )
        if self.action == "retrieve":
            return queryset.prefetch_related("entities__reviewed_by", "entities__model_version")
        return queryset.order_by("-created_at", "-pk")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return s.DocumentDetailSerializer if self.action == "retrieve" else s.DocumentSerializer

    @extend_schema(
        request=s.DocumentCreateSerializer,
        responses={202: s.DocumentSerializer},
        description="Store a document and extract its entities in the background; poll its `url` or `task_url`.",
    )
    def create(self, request: Request) -> Response:
        data = s.DocumentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _check_version_choice(request, dict(data.validated_data.get("options") or {}))
        try:
            with transaction.atomic():
                doc = documents.submit_document(
                    data.validated_data["text"],
                    source=data.validated_data["source"],
                    options=dict(data.validated_data.get("options") or {}),
                    user=request.user,
                    external_id=data.validated_data["external_id"],
                )
        except documents.DocumentRejected as exc:
            raise _rejected(exc, "options") from exc
        doc.refresh_from_db()
        headers = {"Location": reverse("api:document-detail", kwargs={"pk": doc.pk})}
        return Response(s.DocumentSerializer(doc).data, status=status.HTTP_202_ACCEPTED, headers=headers)

    @extend_schema(
        request=s.EntityCreateSerializer,
        responses={201: s.EntitySerializer},
        description="Add an entity the machine missed (reviewers). Offsets are code points into the document text.",
    )
    @action(detail=True, methods=["post"], url_path="entities")
    def add_entity(self, request: Request, pk: str | None = None) -> Response:
        document = self.get_object()
        data = s.EntityCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            with transaction.atomic():
                entity = review.add_entity(document, request.user, v["start"], v["end"], v["label"])
        except review.ReviewError as exc:
            raise _review_rejected(exc) from exc
        return Response(s.EntitySerializer(entity).data, status=status.HTTP_201_CREATED)


class EntityFilter(django_filters.FilterSet):
    review_status = django_filters.ChoiceFilter(choices=Entity.Review.choices)
    label = django_filters.ChoiceFilter(choices=[(label, label) for label in s.ALL_LABELS])
    source = django_filters.CharFilter(max_length=64)
    document = IdFilter(field_name="document_id")
    ordering = django_filters.OrderingFilter(fields=(("score", "score"), ("created_at", "created_at")))

    class Meta:
        model = Entity
        fields = ["review_status", "label", "source", "document"]


@extend_schema_view(
    list=extend_schema(description="Entities; `ordering=score` gives the review queue, least confident first."),
    retrieve=extend_schema(description="One entity."),
)
class EntityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = ALL_ROLES
    write_roles = REVIEW_ROLES
    serializer_class = s.EntitySerializer
    filterset_class = EntityFilter
    queryset = Entity.objects.select_related("reviewed_by", "model_version").order_by("document_id", "start", "pk")

    @extend_schema(
        request=s.ReviewSerializer,
        responses={200: s.EntitySerializer},
        description="Accept, reject, or correct the label and/or offsets (validated against the document text).",
    )
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        data = s.ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            with transaction.atomic():
                entity = Entity.objects.select_for_update().select_related("document").filter(pk=pk or 0).first()
                if entity is None:
                    raise Http404
                if v["action"] == "accept":
                    review.accept([entity.pk], request.user)
                elif v["action"] == "reject":
                    review.reject([entity.pk], request.user)
                else:
                    review.correct(entity, request.user, label=v.get("label"), start=v.get("start"), end=v.get("end"))
        except review.ReviewError as exc:
            raise _review_rejected(exc) from exc
        return Response(s.EntitySerializer(self.get_queryset().get(pk=entity.pk)).data)


# --- model versions and evaluations ----------------------------------------------------------------


class ModelVersionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ModelVersion.Kind.choices)
    status = django_filters.ChoiceFilter(choices=ModelVersion.Status.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = ModelVersion
        fields = ["kind", "status", "is_active"]


@extend_schema_view(
    list=extend_schema(description="Model versions, newest first."), retrieve=extend_schema(description="One version.")
)
class ModelVersionViewSet(IdempotentMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = REVIEW_ROLES
    write_roles = (ADMIN,)
    serializer_class = s.ModelVersionSerializer
    filterset_class = ModelVersionFilter
    queryset = ModelVersion.objects.select_related("created_by").order_by("-created_at", "-pk")

    @extend_schema(
        request=s.TrainingRequestSerializer,
        responses={202: s.ModelVersionSerializer},
        description="Start training a new tagger version (admins); follow its `progress` and `status`.",
    )
    def create(self, request: Request) -> Response:
        data = s.TrainingRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            with transaction.atomic():
                version = versions.start_training(
                    user=request.user,
                    train_specs=v["train"],
                    dev_spec=v.get("dev"),
                    hyperparameters=v.get("hyperparameters") or {},
                )
        except versions.RegistryError as exc:
            raise _rejected(exc, "train") from exc
        version.refresh_from_db()
        return Response(s.ModelVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=s.ActivateSerializer,
        responses={200: s.ModelVersionSerializer},
        description="Make this version the active one of its kind (admins). Refused with 409 when its F1 is worse "
        "than the active version's, unless `force` is true.",
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        data = s.ActivateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = activation.activate(
                version.pk,
                user=request.user,
                force=data.validated_data["force"],
                eval_data=data.validated_data.get("eval_data"),
            )
        except versions.RegistryError as exc:
            raise Conflict(str(exc), code="activation_refused") from exc
        return Response(s.ModelVersionSerializer(version).data)

    @extend_schema(
        request=s.RollbackSerializer,
        responses={200: s.ModelVersionSerializer},
        description="Re-activate the version that was active before the current one (admins); 409 when none.",
    )
    @action(detail=False, methods=["post"])
    def rollback(self, request: Request) -> Response:
        data = s.RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = activation.rollback(data.validated_data["kind"], user=request.user)
        except versions.RegistryError as exc:
            raise Conflict(str(exc), code="rollback_refused") from exc
        return Response(s.ModelVersionSerializer(version).data)


class EvaluationFilter(django_filters.FilterSet):
    pipeline = django_filters.ChoiceFilter(choices=[(p, p) for p in s.PIPELINE_NAMES])
    status = django_filters.ChoiceFilter(choices=EvaluationRun.Status.choices)
    model_version = IdFilter(field_name="model_version_id")

    class Meta:
        model = EvaluationRun
        fields = ["pipeline", "status", "model_version"]


@extend_schema_view(
    list=extend_schema(description="Evaluation runs, newest first."), retrieve=extend_schema(description="One run.")
)
class EvaluationViewSet(IdempotentMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = REVIEW_ROLES
    write_roles = (ADMIN,)
    serializer_class = s.EvaluationRunSerializer
    filterset_class = EvaluationFilter
    queryset = EvaluationRun.objects.select_related("model_version").order_by("-created_at", "-pk")

    @extend_schema(
        request=s.EvaluationCreateSerializer,
        responses={202: s.EvaluationRunSerializer},
        description="Score a pipeline on a corpus in the background (admins); poll the run until `done`/`failed`.",
    )
    def create(self, request: Request) -> Response:
        data = s.EvaluationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            with transaction.atomic():
                run = runs.start_evaluation(
                    user=request.user,
                    data=v["data"],
                    pipeline=v["pipeline"],
                    version=v.get("model_version"),
                    labels=list(v["labels"]),
                )
        except runs.EvaluationRequestError as exc:
            raise _rejected(exc, "data") from exc
        run.refresh_from_db()
        return Response(s.EvaluationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


OBJECT_URLS = {
    "document": "api:document-detail",
    "model_version": "api:modelversion-detail",
    "evaluation": "api:evaluationrun-detail",
}


def task_state(task_id: str) -> dict[str, Any] | None:
    """``ner.jobs.task_state`` with the URL of the object that owns the task."""
    state = jobs.task_state(task_id)
    if state is None:
        return None
    name = OBJECT_URLS.get(state["kind"])
    state["object_url"] = reverse(name, kwargs={"pk": state["objects"][0]}) if name else None
    return state


_TASK_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class TaskView(APIView):
    read_roles = ALL_ROLES

    @extend_schema(
        operation_id="task_state",
        responses={200: s.TaskStateSerializer},
        parameters=[OpenApiParameter("task_id", str, OpenApiParameter.PATH, description="The task id.")],
        description="State of a background task: read from the document, model version or evaluation that owns "
        "it, else from Celery. 404 for an id nothing knows.",
    )
    def get(self, request: Request, task_id: str) -> Response:
        if not _TASK_ID.fullmatch(task_id):  # ids are UUIDs; anything else (NUL bytes included) is unknown
            raise exceptions.NotFound(f"No task {task_id[:80]!r}.")
        state = task_state(task_id)
        if state is None:
            raise exceptions.NotFound(f"No task {task_id}.")
        return Response(s.TaskStateSerializer({"task_id": task_id, **state}).data)


# --- extraction rules ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(description="Admin-defined extraction rules (RE2 patterns for business identifiers)."),
    retrieve=extend_schema(description="One rule."),
    create=extend_schema(description="Add a rule (admins); the pattern must compile and match its examples."),
    partial_update=extend_schema(description="Change a rule (admins); it is validated again as a whole."),
    destroy=extend_schema(description="Delete a rule (admins)."),
)
class ExtractionRuleViewSet(IdempotentMixin, viewsets.ModelViewSet):
    read_roles = REVIEW_ROLES
    write_roles = (ADMIN,)
    serializer_class = s.ExtractionRuleSerializer
    queryset = ExtractionRule.objects.order_by("name")
    filterset_fields = ["label", "enabled"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

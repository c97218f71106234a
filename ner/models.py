"""Documents, their entities, extraction rules, model versions and evaluation runs."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

label_validator = RegexValidator(
    r"^[A-Z][A-Z0-9_]{1,31}$", "A label is 2-32 upper-case letters, digits or underscores, e.g. ORDER_ID."
)


class ModelVersion(models.Model):
    """One trained model, stored in its own folder under ``MODEL_DIR``; never overwritten."""

    class Kind(models.TextChoices):
        TAGGER = "tagger", "NER tagger"
        GENERATOR = "generator", "reply generator"

    class Status(models.TextChoices):
        TRAINING = "training", "training"
        READY = "ready", "ready"
        FAILED = "failed", "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TAGGER)
    name = models.CharField(max_length=64, unique=True, help_text="Folder name under MODEL_DIR, e.g. tagger-v3.")
    path = models.CharField(max_length=500, blank=True, help_text="Absolute folder of weights and metadata.")
    base_model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(default=False)
    labels = models.JSONField(default=list, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    data_fingerprints = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Dev-set metrics written by training.")
    progress = models.FloatField(default=0.0, help_text="Training progress in [0, 1].")
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    error = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one active version per kind.
            models.UniqueConstraint(fields=["kind"], condition=Q(is_active=True), name="one_active_model_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (active)' if self.is_active else ''}"

    @property
    def folder(self) -> Path:
        return Path(self.path) if self.path else Path(settings.MODEL_DIR) / self.name

    @property
    def dev_f1(self) -> float | None:
        value = self.metrics.get("f1") if isinstance(self.metrics, dict) else None
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def dev_fingerprint(self) -> str:
        """SHA-256 of the dev set training scored ``dev_f1`` on ("" when unknown)."""
        value = self.data_fingerprints.get("dev_sha256") if isinstance(self.data_fingerprints, dict) else None
        return str(value) if value else ""


class Document(models.Model):
    """A text to extract entities from.  Stored before any task is sent, so nothing is lost."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        PROCESSING = "processing", "processing"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    text = models.TextField()
    source = models.CharField(max_length=32, default="api", help_text="Where the text came from: api, chat, upload.")
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True, help_text="Why processing failed, shown to users.")
    attempts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True, db_index=True, help_text="Celery task id of the last send.")
    options = models.JSONField(default=dict, blank=True, help_text="Per-request pipeline options.")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    disagreement = models.PositiveIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Recognizer conflicts, computed in the background (ner.review.disagreement); empty until then.",
    )
    disagreement_key = models.CharField(
        max_length=16, blank=True, help_text="The recognizer state (rules, terms, tagger) the score was computed with."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        preview = self.text[:40].replace("\n", " ")
        return f"#{self.pk} {preview}"


class Entity(models.Model):
    """One extracted (or reviewer-added) span of a document."""

    class Review(models.TextChoices):
        PENDING = "pending", "pending"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"
        CORRECTED = "corrected", "corrected"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="entities")
    start = models.PositiveIntegerField(help_text="Code-point offset into the document text.")
    end = models.PositiveIntegerField(help_text="Exclusive end offset.")
    label = models.CharField(max_length=32, validators=[label_validator], db_index=True)
    text = models.TextField()
    score = models.FloatField(default=1.0)
    source = models.CharField(max_length=64, help_text="e.g. pattern:email, tagger:tagger-v3, spacy, review.")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    review_status = models.CharField(max_length=16, choices=Review.choices, default=Review.PENDING, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    corrected_label = models.CharField(max_length=32, blank=True, validators=[label_validator])
    corrected_start = models.PositiveIntegerField(null=True, blank=True)
    corrected_end = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document_id", "start", "end"]
        verbose_name_plural = "entities"
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="entity_end_after_start"),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="entity_score_in_unit_range"),
            # A redelivered task rewrites the same rows instead of adding duplicates.
            models.UniqueConstraint(fields=["document", "start", "end", "label", "source"], name="entity_unique_span"),
        ]
        indexes = [models.Index(fields=["review_status", "score"])]

    def __str__(self) -> str:
        return f"{self.label} [{self.start}:{self.end}] {self.text!r}"

    @property
    def final_label(self) -> str:
        return self.corrected_label or self.label

    @property
    def final_start(self) -> int:
        return self.corrected_start if self.corrected_start is not None else self.start

    @property
    def final_end(self) -> int:
        return self.corrected_end if self.corrected_end is not None else self.end


class ExtractionRule(models.Model):
    """An admin-defined pattern for a business identifier (order IDs, ticket numbers, ...).

    Rules are untrusted input: ``ner.extraction.admin_rules`` validates them on save and runs
    them with an engine that cannot backtrack catastrophically.
    """

    name = models.CharField(max_length=100, unique=True)
    label = models.CharField(max_length=32, validators=[label_validator], default="ORDER_ID")
    pattern = models.TextField(help_text="A regular expression (RE2 syntax: no backreferences or look-around).")
    case_insensitive = models.BooleanField(default=False)
    examples = models.JSONField(default=list, blank=True, help_text="Texts the pattern must match.")
    counter_examples = models.JSONField(default=list, blank=True, help_text="Texts the pattern must not match.")
    context_words = models.JSONField(default=list, blank=True, help_text="Words near a match that raise its score.")
    score = models.FloatField(default=0.6, help_text="Base score; context words raise it.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.label})"


class GazetteerTerm(models.Model):
    """A known name (product, company) matched literally by the gazetteer recognizer."""

    label = models.CharField(max_length=32, validators=[label_validator])
    term = models.CharField(max_length=200)
    case_insensitive = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label", "term"]
        constraints = [models.UniqueConstraint(fields=["label", "term"], name="gazetteer_unique_term")]

    def __str__(self) -> str:
        return f"{self.term} ({self.label})"


class EvaluationRun(models.Model):
    """Scores of one pipeline (and model version) on one data set."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations"
    )
    pipeline = models.CharField(max_length=16, default="merged")
    data_path = models.CharField(max_length=500)
    data_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    labels = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DONE)
    error = models.TextField(blank=True)
    micro_f1 = models.FloatField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="The full evaluate_ner JSON report.")
    created_at = models.DateTimeField(auto_now_add=True)
    duration_s = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        f1 = f"{self.micro_f1:.3f}" if self.micro_f1 is not None else "-"
        return f"{self.pipeline} on {Path(self.data_path).name}: F1 {f1}"


class InferenceLog(models.Model):
    """One inference call, for latency / error monitoring per model version."""

    kind = models.CharField(max_length=16, help_text="extract or generate")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    latency_ms = models.FloatField()
    ok = models.BooleanField(default=True)
    error = models.CharField(max_length=300, blank=True)
    n_chars = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.latency_ms:.0f} ms {'ok' if self.ok else 'error'}"


class ReviewAnnotation(models.Model):
    """One reviewer's finished annotation of a document: the spans they judged correct.

    Written when a reviewer marks a document done (a snapshot of its final entities
    at that moment), so two reviewers' views can be compared span by span and an
    admin can choose one of them as the document's final state.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="review_annotations")
    # SET_NULL: deleting a reviewer's account keeps their reviews (the export and agreement need them).
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    spans = models.JSONField(default=list, blank=True, help_text="[[start, end, label], ...] in code points.")
    chosen = models.BooleanField(default=False, help_text="An admin chose this annotation to resolve a disagreement.")
    is_resolution = models.BooleanField(
        default=False,
        help_text="An admin's resolution written as spans (not a reviewer's independent annotation): "
        "it decides the document but never counts in agreement.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["document_id", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "reviewer", "is_resolution"], name="one_review_annotation_per_reviewer"
            ),
        ]

    def __str__(self) -> str:
        kind = "resolution" if self.is_resolution else "review"
        return f"{kind} of #{self.document_id} by user {self.reviewer_id}"


class ReviewDraft(models.Model):
    """One reviewer's own work on a document on the review page, kept apart from everyone else's.

    Blind review: the page shows a reviewer the machine's proposals (and decisions made outside
    review, such as an agent's correction in chat) with this reviewer's own decisions on top,
    never another reviewer's.  ``decisions`` maps an entity id to ``{"status", "label", "start",
    "end"}``; ``added`` lists the spans this reviewer added (``{"key": "n1", "start", "end",
    "label"}``); ``history`` holds the states before each action, newest last, for undo.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="review_drafts")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    decisions = models.JSONField(default=dict, blank=True)
    added = models.JSONField(default=list, blank=True)
    history = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["document_id", "reviewer_id"]
        constraints = [models.UniqueConstraint(fields=["document", "reviewer"], name="one_review_draft_per_reviewer")]

    def __str__(self) -> str:
        return f"draft of #{self.document_id} by user {self.reviewer_id}"


class ModelActivation(models.Model):
    """The history of which model version was made active, by whom and why (used for rollback)."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="activations")
    previous = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, default=ModelVersion.Kind.TAGGER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    forced = models.BooleanField(default=False)
    is_rollback = models.BooleanField(default=False)
    rolled_back = models.BooleanField(default=False, help_text="A later rollback undid this activation.")
    reason = models.TextField(blank=True, help_text="The F1 comparison that allowed it, or the override.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.model_version} activated {self.created_at:%Y-%m-%d %H:%M}"


class IdempotencyKey(models.Model):
    """The first response to a creating API request sent with an ``Idempotency-Key`` header.

    A retry with the same key, user and body gets this response again instead of
    creating a second object; the same key with another body is refused.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64, help_text="sha256 of method, path and the canonical JSON body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while in progress.")
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"

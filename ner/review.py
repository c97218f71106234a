"""Entity review as domain functions: the queue, reviewer actions, agreement and resolution.

Views, the API and management commands call these; none of them touch ``Entity``
review fields directly.  The model of review:

- ``Entity`` rows hold the document's current (working) state: a reviewer accepts,
  rejects or corrects machine entities and adds the ones the machine missed
  (``source="review"``).
- When a reviewer marks a document done, the entities still pending are accepted
  and a ``ReviewAnnotation`` keeps that reviewer's snapshot of the final spans.
- Where two reviewers finished the same document, their snapshots are compared
  span by span (exact start, end and label); an admin resolves a disagreement by
  choosing one snapshot (or editing), which is written back to the ``Entity`` rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, cast

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from ner.labels import ALL_LABELS
from ner.models import Document, Entity, ExtractionRule, ReviewAnnotation

logger = logging.getLogger(__name__)

SpanTuple = tuple[int, int, str]
REVIEW_SOURCE = "review"
QUEUE_ORDERS = ("confidence", "disagreement")
QUEUE_FILTERS = ("todo", "disputed", "done", "all")


class ReviewError(ValueError):
    """A review action that cannot be applied (bad offsets, unknown label, wrong document)."""


# --- Spans and agreement ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agreement:
    """Span-level agreement between two annotations (exact start, end and label)."""

    both: int
    only_a: int
    only_b: int

    @property
    def precision(self) -> float:
        return self.both / (self.both + self.only_b) if self.both + self.only_b else 1.0

    @property
    def recall(self) -> float:
        return self.both / (self.both + self.only_a) if self.both + self.only_a else 1.0

    @property
    def f1(self) -> float:
        """Symmetric: 2 * |A & B| / (|A| + |B|); 1.0 when both annotations are empty."""
        total = 2 * self.both + self.only_a + self.only_b
        return 2 * self.both / total if total else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "both": self.both,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def span_agreement(a: Iterable[Sequence[Any]], b: Iterable[Sequence[Any]]) -> Agreement:
    set_a = {(int(s[0]), int(s[1]), str(s[2])) for s in a}
    set_b = {(int(s[0]), int(s[1]), str(s[2])) for s in b}
    return Agreement(both=len(set_a & set_b), only_a=len(set_a - set_b), only_b=len(set_b - set_a))


@dataclass(frozen=True, slots=True)
class PairAgreement:
    a: ReviewAnnotation
    b: ReviewAnnotation
    agreement: Agreement


def document_agreement(document: Document) -> list[PairAgreement]:
    """Agreement for every pair of reviewers who finished ``document``."""
    annotations = list(document.review_annotations.select_related("reviewer").order_by("created_at"))
    return [PairAgreement(a, b, span_agreement(a.spans, b.spans)) for a, b in combinations(annotations, 2)]


def corpus_agreement(documents: QuerySet[Document] | None = None) -> dict[str, float | int]:
    """Micro-averaged agreement over every doubly-reviewed document (pairs pooled)."""
    qs = documents if documents is not None else Document.objects.all()
    qs = qs.annotate(n_reviews=Count("review_annotations")).filter(n_reviews__gte=2)
    both = only_a = only_b = n_docs = disagreeing = 0
    for document in qs.prefetch_related("review_annotations"):
        n_docs += 1
        pairs = document_agreement(document)
        if any(p.agreement.f1 < 1.0 for p in pairs):
            disagreeing += 1
        for pair in pairs:
            both += pair.agreement.both
            only_a += pair.agreement.only_a
            only_b += pair.agreement.only_b
    pooled = Agreement(both, only_a, only_b)
    return {"documents": n_docs, "disagreeing": disagreeing, "f1": round(pooled.f1, 4), "matched_spans": both}


def resolve_overlaps(spans: Iterable[SpanTuple]) -> tuple[list[SpanTuple], list[SpanTuple]]:
    """Keep a non-overlapping subset (longer spans first, then earlier); return (kept, dropped)."""
    kept: list[SpanTuple] = []
    dropped: list[SpanTuple] = []
    for span in sorted(set(spans), key=lambda s: (-(s[1] - s[0]), s[0], s[2])):
        if any(span[0] < k[1] and k[0] < span[1] for k in kept):
            dropped.append(span)
        else:
            kept.append(span)
    return sorted(kept), dropped


def final_spans(document: Document, *, include_pending: bool = False) -> list[SpanTuple]:
    """The document's entities as reviewed: accepted, corrected and added ones; rejected dropped."""
    statuses = [Entity.Review.ACCEPTED, Entity.Review.CORRECTED]
    if include_pending:
        statuses.append(Entity.Review.PENDING)
    spans = [(e.final_start, e.final_end, e.final_label) for e in document.entities.filter(review_status__in=statuses)]
    kept, dropped = resolve_overlaps(spans)
    if dropped:
        logger.warning("document %s: dropped overlapping reviewed spans %s", document.pk, dropped)
    return kept


# --- Validation --------------------------------------------------------------------------


def allowed_labels() -> list[str]:
    """Our labels plus the labels of admin-defined extraction rules."""
    extra = ExtractionRule.objects.exclude(label__in=ALL_LABELS).values_list("label", flat=True).distinct()
    return [*ALL_LABELS, *sorted(set(extra))]


def _check_label(label: str) -> str:
    label = (label or "").strip().upper()
    if label not in allowed_labels():
        raise ReviewError(f"unknown label {label!r}; use one of {', '.join(allowed_labels())}")
    return label


def _check_bounds(document: Document, start: int, end: int) -> tuple[int, int]:
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError) as exc:
        raise ReviewError("start and end must be integers (code-point offsets)") from exc
    text = document.text
    if not 0 <= start < end <= len(text):
        raise ReviewError(f"offsets {start}:{end} are outside the document (0..{len(text)}) or empty")
    if not text[start:end].strip():
        raise ReviewError("an entity cannot be only whitespace")
    # A selection often takes a space along: entities never start or end with one.
    while text[start].isspace():
        start += 1
    while text[end - 1].isspace():
        end -= 1
    return start, end


# --- Reviewer actions ----------------------------------------------------------------------


def _entities(entity_ids: Iterable[int], document: Document | None = None) -> QuerySet[Entity]:
    ids = [int(i) for i in entity_ids]
    qs = Entity.objects.filter(pk__in=ids)
    if document is not None:
        qs = qs.filter(document=document)
    if qs.count() != len(set(ids)):
        raise ReviewError("some entities do not exist" + (f" in document #{document.pk}" if document else ""))
    return qs


def accept(entity_ids: Iterable[int], user: Any, *, document: Document | None = None) -> int:
    """Accept entities as they are (clearing any correction); returns how many changed."""
    return _entities(entity_ids, document).update(
        review_status=Entity.Review.ACCEPTED,
        corrected_label="",
        corrected_start=None,
        corrected_end=None,
        reviewed_by=user,
        reviewed_at=timezone.now(),
    )


def reject(entity_ids: Iterable[int], user: Any, *, document: Document | None = None) -> int:
    return _entities(entity_ids, document).update(
        review_status=Entity.Review.REJECTED, reviewed_by=user, reviewed_at=timezone.now()
    )


def relabel(entity_ids: Iterable[int], label: str, user: Any, *, document: Document | None = None) -> int:
    """Bulk label correction (boundaries kept)."""
    label = _check_label(label)
    changed = 0
    for entity in _entities(entity_ids, document):
        correct(entity, user, label=label)
        changed += 1
    return changed


def correct(
    entity: Entity, user: Any, *, label: str | None = None, start: int | None = None, end: int | None = None
) -> Entity:
    """Correct an entity's label and/or boundaries; a correction equal to the original is an accept."""
    new_label = _check_label(label) if label else entity.final_label
    new_start, new_end = _check_bounds(
        entity.document,
        entity.final_start if start is None else start,
        entity.final_end if end is None else end,
    )
    unchanged = (new_start, new_end, new_label) == (entity.start, entity.end, entity.label)
    entity.corrected_label = "" if new_label == entity.label else new_label
    entity.corrected_start = None if new_start == entity.start else new_start
    entity.corrected_end = None if new_end == entity.end else new_end
    entity.review_status = Entity.Review.ACCEPTED if unchanged else Entity.Review.CORRECTED
    entity.reviewed_by = user
    entity.reviewed_at = timezone.now()
    entity.save()
    return entity


def add_entity(document: Document, user: Any, start: int, end: int, label: str) -> Entity:
    """Add an entity the machine missed (offsets are code points into ``document.text``)."""
    label = _check_label(label)
    start, end = _check_bounds(document, start, end)
    entity, _ = Entity.objects.update_or_create(
        document=document,
        start=start,
        end=end,
        label=label,
        source=REVIEW_SOURCE,
        defaults={
            "text": document.text[start:end],
            "score": 1.0,
            "review_status": Entity.Review.ACCEPTED,
            "corrected_label": "",
            "corrected_start": None,
            "corrected_end": None,
            "reviewed_by": user,
            "reviewed_at": timezone.now(),
        },
    )
    return entity


@transaction.atomic
def complete_document(document: Document, user: Any) -> ReviewAnnotation:
    """Mark a document reviewed by ``user``: pending entities are accepted, the final spans snapshotted."""
    document.entities.filter(review_status=Entity.Review.PENDING).update(
        review_status=Entity.Review.ACCEPTED, reviewed_by=user, reviewed_at=timezone.now()
    )
    spans = [list(s) for s in final_spans(document)]
    annotation, _ = ReviewAnnotation.objects.update_or_create(
        document=document, reviewer=user, defaults={"spans": spans, "chosen": False}
    )
    return annotation


@transaction.atomic
def apply_spans(document: Document, spans: Iterable[Sequence[Any]], user: Any) -> None:
    """Make the document's entities say exactly ``spans`` (used when an admin resolves)."""
    wanted: set[SpanTuple] = set()
    for s in spans:
        start, end = _check_bounds(document, int(s[0]), int(s[1]))
        wanted.add((start, end, _check_label(str(s[2]))))
    now = timezone.now()
    for entity in document.entities.all():
        final = (entity.final_start, entity.final_end, entity.final_label)
        original = (entity.start, entity.end, entity.label)
        if final in wanted and entity.review_status != Entity.Review.REJECTED:
            wanted.discard(final)
            if entity.review_status == Entity.Review.PENDING:
                entity.review_status = Entity.Review.ACCEPTED
        elif original in wanted:
            wanted.discard(original)
            entity.review_status = Entity.Review.ACCEPTED
            entity.corrected_label, entity.corrected_start, entity.corrected_end = "", None, None
        else:
            entity.review_status = Entity.Review.REJECTED
        entity.reviewed_by, entity.reviewed_at = user, now
        entity.save()
    for start, end, label in sorted(wanted):
        add_entity(document, user, start, end, label)


@transaction.atomic
def resolve(document: Document, user: Any, *, annotation_id: int | None = None, spans: Any = None) -> ReviewAnnotation:
    """Resolve a disagreement: choose one reviewer's annotation, or give the spans directly (an edit).

    The result is written to the entities and kept as the admin's own annotation, marked chosen.
    """
    if annotation_id is not None:
        chosen = document.review_annotations.filter(pk=annotation_id).first()
        if chosen is None:
            raise ReviewError(f"annotation {annotation_id} does not belong to document #{document.pk}")
        spans = chosen.spans
    elif spans is None:
        raise ReviewError("give an annotation to choose or the spans to keep")
    apply_spans(document, spans, user)
    document.review_annotations.update(chosen=False)
    annotation, _ = ReviewAnnotation.objects.update_or_create(
        document=document, reviewer=user, defaults={"spans": [list(s) for s in final_spans(document)], "chosen": True}
    )
    return annotation


# --- Queue ----------------------------------------------------------------------------------


def recognizer_conflicts(text: str) -> int:
    """How many pairs of overlapping spans from different recognizers disagree (offsets or label).

    A span found by only one recognizer is not a conflict (spaCy never finds e-mails); two
    recognizers proposing different boundaries or labels for the same words are.  Needs
    ``ner.pipeline``; returns 0 without it.
    """
    try:
        from ner.pipeline import PIPELINES, extract
    except ImportError:
        return 0
    from django.conf import settings

    per_recognizer: list[list[Any]] = []
    for name in PIPELINES["merged"]:
        if name not in settings.NER_RECOGNIZERS:
            continue
        try:
            per_recognizer.append(extract([text], recognizers=[name])[0])
        except Exception:  # a recognizer that cannot run here (no model) simply gives no opinion
            logger.debug("recognizer %s unavailable for conflict counting", name, exc_info=True)
    conflicts = 0
    for a_spans, b_spans in combinations(per_recognizer, 2):
        for a in a_spans:
            for b in b_spans:
                if a.start < b.end and b.start < a.end and (a.start, a.end, a.label) != (b.start, b.end, b.label):
                    conflicts += 1
    return conflicts


def _cached_conflicts(document: Document) -> int:
    key = f"ner.review.conflicts:{document.pk}:{document.updated_at.timestamp() if document.updated_at else 0}"
    value = cache.get(key)
    if value is None:
        value = recognizer_conflicts(document.text)
        cache.set(key, value, 24 * 3600)
    return int(value)


def review_queue(
    *, order: str = "confidence", status: str = "todo", limit: int = 50, label: str = ""
) -> list[Document]:
    """Documents to review, annotated with ``min_score``, ``n_pending``, ``n_reviews`` and ``conflicts``.

    ``order``: ``confidence`` (lowest pending entity score first) or ``disagreement``
    (most recognizer conflicts first; counted for the 200 least confident candidates).
    ``status``: ``todo`` (nobody finished it), ``disputed`` (finished by reviewers who
    disagree, unresolved), ``done`` (finished), ``all``.
    """
    if order not in QUEUE_ORDERS:
        raise ReviewError(f"order must be one of {', '.join(QUEUE_ORDERS)}")
    if status not in QUEUE_FILTERS:
        raise ReviewError(f"status must be one of {', '.join(QUEUE_FILTERS)}")
    qs = Document.objects.filter(status=Document.Status.DONE).annotate(
        min_score=Min("entities__score", filter=Q(entities__review_status=Entity.Review.PENDING)),
        n_pending=Count("entities", filter=Q(entities__review_status=Entity.Review.PENDING), distinct=True),
        n_entities=Count("entities", distinct=True),
        n_reviews=Count("review_annotations", distinct=True),
        n_chosen=Count("review_annotations", filter=Q(review_annotations__chosen=True), distinct=True),
    )
    if label:
        qs = qs.filter(entities__label=label).distinct()
    if status == "todo":
        qs = qs.filter(n_reviews=0)
    elif status == "done":
        qs = qs.filter(n_reviews__gte=1)
    elif status == "disputed":
        qs = qs.filter(n_reviews__gte=2, n_chosen=0)
    qs = qs.order_by(F("min_score").asc(nulls_last=True), "created_at")
    docs: list[Any]
    if status == "disputed":
        docs = cast(list[Any], [d for d in qs.prefetch_related("review_annotations")[: limit * 4] if _disputed(d)])
    else:
        docs = cast(list[Any], list(qs[: max(limit, 200) if order == "disagreement" else limit]))
    for doc in docs:
        doc.conflicts = _cached_conflicts(doc) if order == "disagreement" else None
    if order == "disagreement":
        docs.sort(key=lambda d: -d.conflicts)
    result: list[Document] = docs[:limit]
    return result


def _disputed(document: Document) -> bool:
    return any(p.agreement.f1 < 1.0 for p in document_agreement(document))


def reviewed_documents() -> QuerySet[Document]:
    """Documents at least one reviewer finished: what the export writes."""
    return Document.objects.filter(review_annotations__isnull=False).distinct().order_by("pk")

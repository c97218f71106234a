"""Entity review as domain functions: reviewer actions, document completion and resolution.

The queue is in :mod:`ner.review.queue`, agreement between reviewers in :mod:`ner.review.agreement`.

Views, the API and management commands call these; none of them touch ``Entity``
review fields directly.  The model of review:

- ``Entity`` rows hold the document's current (working) state: the API, the admin and
  agents in chat accept, reject or correct machine entities and add the ones the machine
  missed (``source="review"``) with the functions here.
- The review page works blind (:mod:`ner.review.blind`): each reviewer's decisions stay in
  their own draft until Done, which stores their ``ReviewAnnotation`` (the spans they judged
  correct); the first reviewer to finish also writes them to the ``Entity`` rows.
- Where two reviewers finished the same document, their annotations are compared span by
  span (exact start, end and label); an admin resolves a disagreement by choosing one
  annotation or giving the spans (:func:`resolve`), which is written back to the ``Entity``
  rows and kept as a separate resolution, so the reviewers' annotations stay as they were.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ner.labels import ALL_LABELS
from ner.models import Document, Entity, ExtractionRule, ReviewAnnotation
from ner.roles import ADMIN, REVIEWER, user_has_role

logger = logging.getLogger(__name__)

SpanTuple = tuple[int, int, str]
REVIEW_SOURCE = "review"
CHAT_SOURCE = "chat"


class ReviewError(ValueError):
    """A review action that cannot be applied (bad offsets, unknown label, wrong document).

    ``field`` names the input at fault, so adapters can report it without reading the message.
    """

    def __init__(self, message: str, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field


def resolve_overlaps(spans: Iterable[SpanTuple]) -> tuple[list[SpanTuple], list[SpanTuple]]:
    """Keep a non-overlapping subset (longer spans first, then earlier); return (kept, dropped).

    The kept spans never overlap, so a candidate only needs checking against its neighbours in
    start order (a bisection): O(n log n) plus list inserts, not a scan of every kept span, which
    made every action on a document with thousands of entities cost seconds.
    """
    kept: list[SpanTuple] = []  # sorted by start, pairwise disjoint
    dropped: list[SpanTuple] = []
    for span in sorted(set(spans), key=lambda s: (-(s[1] - s[0]), s[0], s[2])):
        at = bisect.bisect_left(kept, span)
        before = kept[at - 1] if at else None
        after = kept[at] if at < len(kept) else None
        if (before is not None and before[1] > span[0]) or (after is not None and after[0] < span[1]):
            dropped.append(span)
        else:
            kept.insert(at, span)
    return kept, dropped


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


def check_label(label: str) -> str:
    label = (label or "").strip().upper()
    if label not in allowed_labels():
        raise ReviewError(f"unknown label {label!r}; use one of {', '.join(allowed_labels())}", "label")
    return label


def check_bounds(document: Document, start: Any, end: Any) -> tuple[int, int]:
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ReviewError("start and end must be integers (code-point offsets)", "start") from exc
    text = document.text
    if not 0 <= start < end <= len(text):
        raise ReviewError(f"offsets {start}:{end} are outside the document (0..{len(text)}) or empty", "start")
    if not text[start:end].strip():
        raise ReviewError("an entity cannot be only whitespace", "start")
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
        raise ReviewError("some entities do not exist" + (f" in document #{document.pk}" if document else ""), "ids")
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
    label = check_label(label)
    changed = 0
    for entity in _entities(entity_ids, document):
        correct(entity, user, label=label)
        changed += 1
    return changed


def correct(
    entity: Entity, user: Any, *, label: str | None = None, start: int | None = None, end: int | None = None
) -> Entity:
    """Correct an entity's label and/or boundaries; a correction equal to the original is an accept."""
    new_label = check_label(label) if label else entity.final_label
    new_start, new_end = check_bounds(
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


def agent_correction(entity: Entity, label: str, user: Any) -> Entity:
    """A correction from the chat UI: a new label, or ``NONE`` to reject the entity.

    Agents correct what the machine found in chat messages: pending entities of chat
    documents, or their own earlier correction, so a reviewer's decision stands.
    Reviewers and admins may also change entities already reviewed.
    """
    if entity.document.source != CHAT_SOURCE:
        raise ReviewError("only entities of chat messages can be corrected from a conversation", "entity")
    decided_by_other = entity.review_status != Entity.Review.PENDING and entity.reviewed_by_id != user.pk
    if decided_by_other and not user_has_role(user, REVIEWER, ADMIN):
        raise ReviewError("someone else has already reviewed this entity", "entity")
    label = (label or "").strip().upper()
    if label == "NONE":
        reject([entity.pk], user)
    else:
        correct(entity, user, label=label)
    entity.refresh_from_db()
    return entity


def add_entity(document: Document, user: Any, start: int, end: int, label: str) -> Entity:
    """Add an entity the machine missed (offsets are code points into ``document.text``)."""
    label = check_label(label)
    start, end = check_bounds(document, start, end)
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


# Ids per ``pk__in`` list: within the parameter limit Django declares for SQLite (999).
UPDATE_CHUNK = 900


def update_rows(entities: QuerySet[Entity], ids: Sequence[int], **fields: Any) -> None:
    """``UPDATE`` the rows of ``entities`` with these ids, a few hundred ids per statement."""
    for i in range(0, len(ids), UPDATE_CHUNK):
        entities.filter(pk__in=ids[i : i + UPDATE_CHUNK]).update(**fields)


@transaction.atomic
def apply_spans(document: Document, spans: Iterable[Sequence[Any]], user: Any) -> None:
    """Make the document's entities say exactly ``spans`` (Done and an admin's resolution).

    Every entity is marked reviewed by ``user``; the rows are written by outcome in a handful of
    ``UPDATE`` statements, not one save per entity (a long document has thousands).
    """
    labels = set(allowed_labels())
    wanted: set[SpanTuple] = set()
    for s in spans:
        start, end = check_bounds(document, s[0], s[1])
        label = str(s[2]).strip().upper()
        if label not in labels:
            check_label(label)  # raises with the list of labels
        wanted.add((start, end, label))
    keep_pending: list[int] = []  # kept as they are; pending ones become accepted
    keep_decided: list[int] = []
    back_to_original: list[int] = []  # the span wanted is the original: corrections cleared
    rejected: list[int] = []
    rows = document.entities.values_list(
        "pk", "start", "end", "label", "corrected_start", "corrected_end", "corrected_label", "review_status"
    )
    for pk, start, end, label, c_start, c_end, c_label, status in rows:
        original = (start, end, label)
        final = (
            start if c_start is None else c_start,
            end if c_end is None else c_end,
            c_label or label,
        )
        if final in wanted and status != Entity.Review.REJECTED:
            wanted.discard(final)
            (keep_pending if status == Entity.Review.PENDING else keep_decided).append(pk)
        elif original in wanted:
            wanted.discard(original)
            back_to_original.append(pk)
        else:
            rejected.append(pk)
    reviewed = {"reviewed_by": user, "reviewed_at": timezone.now()}
    entities = Entity.objects.filter(document=document)
    update_rows(entities, keep_pending, review_status=Entity.Review.ACCEPTED, **reviewed)
    update_rows(entities, keep_decided, **reviewed)
    update_rows(
        entities,
        back_to_original,
        review_status=Entity.Review.ACCEPTED,
        corrected_label="",
        corrected_start=None,
        corrected_end=None,
        **reviewed,
    )
    update_rows(entities, rejected, review_status=Entity.Review.REJECTED, **reviewed)
    for start, end, label in sorted(wanted):
        add_entity(document, user, start, end, label)


@transaction.atomic
def resolve(document: Document, user: Any, *, annotation_id: int | None = None, spans: Any = None) -> ReviewAnnotation:
    """Resolve a disagreement: choose one reviewer's annotation, or give the spans directly (an edit).

    The result is written to the entities and kept as the admin's resolution (``is_resolution``,
    marked chosen), apart from the reviewers' annotations: those stay as they were, so the
    agreement between them is not changed by resolving.
    """
    if annotation_id is not None:
        chosen = document.review_annotations.filter(pk=annotation_id, is_resolution=False).first()
        if chosen is None:
            raise ReviewError(f"annotation {annotation_id} does not belong to document #{document.pk}")
        spans = chosen.spans
    elif spans is None:
        raise ReviewError("give an annotation to choose or the spans to keep")
    else:
        chosen = None
    if not isinstance(spans, list) or not all(isinstance(s, (list, tuple)) and len(s) == 3 for s in spans):
        raise ReviewError("spans must be a list of [start, end, label]", "spans")
    apply_spans(document, spans, user)
    document.review_annotations.update(chosen=False)
    if chosen is not None:
        ReviewAnnotation.objects.filter(pk=chosen.pk).update(chosen=True)
    annotation, _ = ReviewAnnotation.objects.update_or_create(
        document=document,
        reviewer=user,
        is_resolution=True,
        defaults={"spans": [list(s) for s in final_spans(document)], "chosen": True},
    )
    return annotation

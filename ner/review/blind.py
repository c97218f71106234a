"""Blind review: each reviewer's work on a document is kept apart until resolution, with undo.

The review page never shows a reviewer another reviewer's decisions.  A reviewer starts from
the machine's proposals (and decisions made outside review: an agent's correction in chat, a
call to the API by someone who has not finished the document), and their own decisions live
in their ``ReviewDraft``, not in the ``Entity`` rows.  When they press Done
(:func:`complete`), their spans become their ``ReviewAnnotation``; the first reviewer to finish
also writes them to the ``Entity`` rows (the document's working state, which the export and
training read).  A later reviewer's annotation is only compared with the others: where they
differ the document is disputed until an admin resolves it (:func:`ner.review.actions.resolve`),
and the agreement keeps being computed over the reviewers' own annotations.

Every action on the page saves the draft's state before it in ``history``; :func:`undo`
restores the state before the user's last action on the document exactly, Done included
(the annotation and, when Done wrote them, the ``Entity`` rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ner.models import Document, Entity, ReviewAnnotation, ReviewDraft
from ner.review.actions import (
    REVIEW_SOURCE,
    ReviewError,
    SpanTuple,
    add_entity,
    apply_spans,
    check_bounds,
    check_label,
    correct,
    resolve_overlaps,
    update_rows,
)

User = Any  # the request's user (a reviewer or an admin)
HISTORY_LIMIT = 50
KEY_RE = re.compile(r"^(?:\d{1,18}|n\d{1,9})$")
ACTIONS = ("accept", "reject", "relabel", "correct", "add")
# Entity fields Done may change and undo restores.
ROW_FIELDS = ("review_status", "corrected_label", "corrected_start", "corrected_end", "reviewed_by_id", "reviewed_at")


@dataclass
class ReviewItem:
    """One span as a reviewer sees it on the page (a machine entity or one they added)."""

    pk: str
    start: int
    end: int
    label: str
    score: float
    source: str
    review_status: str
    final_start: int
    final_end: int
    final_label: str
    text: str
    original_text: str
    reviewed_by: Any = None

    @property
    def corrected_label(self) -> str:
        return self.final_label if self.final_label != self.label else ""

    @property
    def boundaries_corrected(self) -> bool:
        return (self.final_start, self.final_end) != (self.start, self.end)

    @property
    def span(self) -> SpanTuple:
        return (self.final_start, self.final_end, self.final_label)


# --- What a reviewer sees --------------------------------------------------------------------


def other_annotators(document: Document, user: User) -> set[int]:
    """Users other than ``user`` who finished or resolved ``document``: their decisions are hidden from ``user``."""
    ids = document.review_annotations.values_list("reviewer_id", flat=True)
    return {i for i in ids if i != getattr(user, "pk", None)}


def get_draft(document: Document, user: User) -> ReviewDraft:
    """``user``'s draft of ``document`` (unsaved and empty when they have not acted on it yet)."""
    draft = ReviewDraft.objects.filter(document=document, reviewer_id=user.pk).first()
    return draft or ReviewDraft(document=document, reviewer_id=user.pk)


def _base_items(document: Document, hidden: set[int], own_additions: int | None) -> list[ReviewItem]:
    text = document.text
    items = []
    for e in document.entities.select_related("reviewed_by").order_by("start", "end", "pk"):
        decided_by_hidden = e.reviewed_by_id in hidden and e.review_status != Entity.Review.PENDING
        if e.source == REVIEW_SOURCE and (
            decided_by_hidden or e.review_status == Entity.Review.REJECTED or e.reviewed_by_id == own_additions
        ):
            continue  # added by someone hidden, withdrawn, or the reviewer's own (their draft holds those)
        status: str
        if decided_by_hidden:
            status, start, end, label, by = Entity.Review.PENDING, e.start, e.end, e.label, None
        else:
            status, start, end, label = e.review_status, e.final_start, e.final_end, e.final_label
            by = e.reviewed_by
        items.append(
            ReviewItem(
                pk=str(e.pk),
                start=e.start,
                end=e.end,
                label=e.label,
                score=e.score,
                source=e.source,
                review_status=status,
                final_start=start,
                final_end=end,
                final_label=label,
                text=text[start:end],
                original_text=text[e.start : e.end],
                reviewed_by=by,
            )
        )
    return items


def items_for(document: Document, draft: ReviewDraft, user: User | None = None) -> list[ReviewItem]:
    """The spans ``draft``'s reviewer sees: the blind base with their own decisions on top."""
    reviewer = user if user is not None else draft.reviewer
    own = reviewer.pk if draft.history else None
    items = _base_items(document, other_annotators(document, reviewer), own)
    text = document.text
    for item in items:
        decision = draft.decisions.get(item.pk)
        if not decision:
            continue
        item.review_status = decision["status"]
        if decision["status"] == Entity.Review.ACCEPTED:
            item.final_start, item.final_end, item.final_label = item.start, item.end, item.label
        elif decision["status"] == Entity.Review.CORRECTED:
            item.final_start, item.final_end, item.final_label = decision["start"], decision["end"], decision["label"]
        item.text = text[item.final_start : item.final_end]
        item.reviewed_by = reviewer
    for added in draft.added:
        start, end, label = added["start"], added["end"], added["label"]
        items.append(
            ReviewItem(
                pk=added["key"],
                start=start,
                end=end,
                label=label,
                score=1.0,
                source=REVIEW_SOURCE,
                review_status=Entity.Review.ACCEPTED,
                final_start=start,
                final_end=end,
                final_label=label,
                text=text[start:end],
                original_text=text[start:end],
                reviewed_by=reviewer,
            )
        )
    items.sort(key=lambda i: (i.final_start, i.final_end, i.pk))
    return items


def draft_spans(items: Iterable[ReviewItem]) -> list[SpanTuple]:
    """The spans a reviewer's Done keeps: everything not rejected (pending ones are accepted)."""
    kept, _ = resolve_overlaps(i.span for i in items if i.review_status != Entity.Review.REJECTED)
    return kept


# --- Actions on a draft ----------------------------------------------------------------------


def _keys(raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    keys = [str(v) for v in values if isinstance(v, (int, str)) and not isinstance(v, bool)]
    if not keys or len(keys) != len(values) or not all(KEY_RE.match(k) for k in keys):
        raise ReviewError("name the entities: 'entity': id or 'entities': [ids]", "entities")
    return keys


def _snapshot(draft: ReviewDraft, action: str, **extra: Any) -> dict[str, Any]:
    state = {"action": action, "at": timezone.now().isoformat(), "decisions": draft.decisions, "added": draft.added}
    return {**state, **extra}


def _push(draft: ReviewDraft, entry: dict[str, Any]) -> None:
    draft.history = [*draft.history, entry][-HISTORY_LIMIT:]


def _reject_overlapping_pending(items: list[ReviewItem], key: str, span: SpanTuple, draft: ReviewDraft) -> None:
    """A span a reviewer just set replaces the pending proposals it overlaps (they would both be kept)."""
    for other in items:
        if other.pk == key or other.review_status != Entity.Review.PENDING:
            continue
        if other.final_start < span[1] and span[0] < other.final_end:
            draft.decisions[other.pk] = {"status": Entity.Review.REJECTED}


@transaction.atomic
def act(document: Document, user: User, action: str, body: dict[str, Any]) -> ReviewDraft:
    """Apply one review-page action to ``user``'s draft; returns the draft.

    ``action``: ``accept`` / ``reject`` (``entities``), ``relabel`` (``entities``, ``label``),
    ``correct`` (``entity``, optional ``label``, ``start``, ``end``) or ``add`` (``start``,
    ``end``, ``label``).  Entity ids are those of the page: a number, or ``n<k>`` for a span
    this reviewer added.
    """
    if action not in ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(ACTIONS)}", "action")
    draft = get_draft(document, user)
    if draft.pk is None:
        draft.save()
    draft = ReviewDraft.objects.select_for_update().get(pk=draft.pk)
    items = items_for(document, draft, user)
    by_key = {i.pk: i for i in items}
    entry = _snapshot(draft, action)
    decisions = dict(draft.decisions)
    added = [dict(a) for a in draft.added]
    draft.decisions, draft.added = decisions, added

    if action == "add":
        start, end = check_bounds(document, body.get("start"), body.get("end"))
        label = check_label(str(body.get("label", "")))
        if any(i.span == (start, end, label) and i.review_status != Entity.Review.REJECTED for i in items):
            raise ReviewError("that entity is already there", "start")
        key = "n" + str(1 + max((int(a["key"][1:]) for a in added), default=0))
        added.append({"key": key, "start": start, "end": end, "label": label})
        _reject_overlapping_pending(items, key, (start, end, label), draft)
    else:
        raw = body.get("entities", [body["entity"]] if "entity" in body else [])
        keys = _keys(raw)
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise ReviewError(f"some entities do not exist in document #{document.pk}: {', '.join(missing)}", "ids")
        if action == "correct" and len(keys) != 1:
            raise ReviewError("correct one entity at a time", "entities")
        label = check_label(str(body.get("label", ""))) if action == "relabel" or body.get("label") else ""
        for key in keys:
            item = by_key[key]
            if action == "accept":
                new: SpanTuple | None = (item.start, item.end, item.label)
            elif action == "reject":
                new = None
            else:
                keep = action == "relabel"
                new_start = item.final_start if keep or body.get("start") is None else body.get("start")
                new_end = item.final_end if keep or body.get("end") is None else body.get("end")
                bounds = check_bounds(document, new_start, new_end)
                new = (bounds[0], bounds[1], label or item.final_label)
            if key.startswith("n"):
                added[:] = [a for a in added if a["key"] != key]
                if new is not None:
                    added.append({"key": key, "start": new[0], "end": new[1], "label": new[2]})
            elif new is None:
                decisions[key] = {"status": Entity.Review.REJECTED}
            elif new == (item.start, item.end, item.label):
                decisions[key] = {"status": Entity.Review.ACCEPTED}
            else:
                decisions[key] = {"status": Entity.Review.CORRECTED, "start": new[0], "end": new[1], "label": new[2]}
            if new is not None and action == "correct":
                _reject_overlapping_pending(items, key, new, draft)
    _push(draft, entry)
    draft.save()
    return draft


# --- Done and undo ---------------------------------------------------------------------------


def _row_state(document: Document) -> list[dict[str, Any]]:
    rows = document.entities.values("pk", *ROW_FIELDS)
    return [{**row, "reviewed_at": row["reviewed_at"].isoformat() if row["reviewed_at"] else None} for row in rows]


def _writes_rows(document: Document, user: User) -> bool:
    """Done writes the ``Entity`` rows when ``user`` is the first reviewer to finish and nobody resolved."""
    annotations = list(document.review_annotations.order_by("created_at", "pk"))
    if any(a.chosen or a.is_resolution for a in annotations):
        return False
    reviews = [a for a in annotations if not a.is_resolution]
    return not reviews or reviews[0].reviewer_id == user.pk


def _apply_items(document: Document, items: list[ReviewItem], spans: list[SpanTuple], user: User) -> None:
    """Write a reviewer's decisions to the rows (keeping corrections as corrections), then exactly ``spans``.

    Accepted and rejected rows are written in a few ``UPDATE`` statements, whatever their number.
    """
    accepted: list[int] = []
    rejected: list[int] = []
    for item in items:
        if not item.pk.isdigit():
            continue
        if item.review_status == Entity.Review.REJECTED:
            rejected.append(int(item.pk))
        elif item.span == (item.start, item.end, item.label):
            accepted.append(int(item.pk))
        else:
            entity = document.entities.get(pk=int(item.pk))
            correct(entity, user, label=item.final_label, start=item.final_start, end=item.final_end)
    reviewed = {"reviewed_by": user, "reviewed_at": timezone.now()}
    rows = Entity.objects.filter(document=document)
    update_rows(rows, rejected, review_status=Entity.Review.REJECTED, **reviewed)
    update_rows(
        rows,
        accepted,
        review_status=Entity.Review.ACCEPTED,
        corrected_label="",
        corrected_start=None,
        corrected_end=None,
        **reviewed,
    )
    for item in items:
        if not item.pk.isdigit() and item.span in spans:
            add_entity(document, user, *item.span)
    apply_spans(document, spans, user)


@transaction.atomic
def complete(document: Document, user: User) -> ReviewAnnotation:
    """Done: ``user``'s spans (their draft over the blind base; pending ones accepted) become their annotation."""
    draft = get_draft(document, user)
    if draft.pk is None:
        draft.save()
    draft = ReviewDraft.objects.select_for_update().get(pk=draft.pk)
    items = items_for(document, draft, user)
    spans = draft_spans(items)
    previous = ReviewAnnotation.objects.filter(document=document, reviewer_id=user.pk, is_resolution=False).first()
    writes = _writes_rows(document, user)
    entry = _snapshot(
        draft,
        "complete",
        annotation=None if previous is None else {"spans": previous.spans, "chosen": previous.chosen},
        rows=_row_state(document) if writes else None,
    )
    if writes:
        _apply_items(document, items, spans, user)
    annotation, _ = ReviewAnnotation.objects.update_or_create(
        document=document, reviewer_id=user.pk, is_resolution=False, defaults={"spans": [list(s) for s in spans]}
    )
    # The draft now says what Done kept: pending proposals accepted, and spans the reviewer added
    # outside the page (the API) held as their own additions, like those added on the page.
    decisions, added = dict(draft.decisions), list(draft.added)
    for item in items:
        if not item.pk.isdigit() or item.pk in decisions:
            continue
        if item.source == REVIEW_SOURCE and item.reviewed_by is not None and item.reviewed_by.pk == user.pk:
            if item.review_status != Entity.Review.REJECTED:
                key = "n" + str(1 + max((int(a["key"][1:]) for a in added), default=0))
                added.append({"key": key, "start": item.final_start, "end": item.final_end, "label": item.final_label})
        elif item.review_status == Entity.Review.PENDING:
            decisions[item.pk] = {"status": Entity.Review.ACCEPTED}
    draft.decisions, draft.added = decisions, added
    _push(draft, entry)
    draft.save()
    return annotation


def can_undo(draft: ReviewDraft) -> str:
    """The name of the action undo would take back ("" when there is none)."""
    return str(draft.history[-1]["action"]) if draft.pk and draft.history else ""


@transaction.atomic
def undo(document: Document, user: User) -> str:
    """Take back ``user``'s last review action on ``document``, restoring the state before it exactly.

    Only the user's own actions are in their history.  Undoing Done is refused once another
    reviewer finished the document or an admin resolved it after it, or someone else changed
    its entities since: the state before would no longer be the state to go back to.
    Returns the name of the action undone.
    """
    draft = ReviewDraft.objects.select_for_update().filter(document=document, reviewer_id=user.pk).first()
    if draft is None or not draft.history:
        raise ReviewError("there is nothing of yours to undo on this document", "action")
    entry = draft.history[-1]
    if entry["action"] == "complete":
        at = datetime.fromisoformat(entry["at"])
        later = document.review_annotations.exclude(reviewer_id=user.pk, is_resolution=False)
        if later.filter(updated_at__gt=at).exists() or document.review_annotations.filter(chosen=True).exists():
            raise ReviewError("another reviewer or an admin has finished this document since: it cannot be undone")
        if document.entities.filter(reviewed_at__gt=at).exclude(reviewed_by_id=user.pk).exists():
            raise ReviewError("someone else has changed these entities since: it cannot be undone")
        _undo_complete(document, user, entry)
    draft.decisions, draft.added, draft.history = entry["decisions"], entry["added"], draft.history[:-1]
    draft.save()
    return str(entry["action"])


def _undo_complete(document: Document, user: User, entry: dict[str, Any]) -> None:
    annotation = ReviewAnnotation.objects.filter(document=document, reviewer_id=user.pk, is_resolution=False)
    if entry["annotation"] is None:
        annotation.delete()
    else:
        annotation.update(spans=entry["annotation"]["spans"], chosen=entry["annotation"]["chosen"])
    if entry["rows"] is None:
        return
    before = {row["pk"]: row for row in entry["rows"]}
    restored, added_since = [], []
    for entity in document.entities.all():
        row = before.get(entity.pk)
        if row is None:
            added_since.append(entity.pk)
            continue
        for field in ROW_FIELDS:
            value = row[field]
            if field == "reviewed_at" and value is not None:
                value = datetime.fromisoformat(value)
            setattr(entity, field, value)
        restored.append(entity)
    Entity.objects.filter(document=document, pk__in=added_since).delete()  # rows Done added (a few)
    fields = [f.removesuffix("_id") if f.endswith("_id") else f for f in ROW_FIELDS]
    Entity.objects.bulk_update(restored, fields, batch_size=500)

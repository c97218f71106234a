"""The review queue: which documents a reviewer sees next, in which order."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Length, Substr

from ner.models import Document, Entity, ReviewAnnotation
from ner.review.actions import ReviewError
from ner.review.agreement import document_agreement

logger = logging.getLogger(__name__)

QUEUE_ORDERS = ("confidence", "disagreement")
QUEUE_FILTERS = ("todo", "disputed", "done", "all")
PER_PAGE = 25
# The queue row shows the start of the text; the database cuts it, so a huge document costs nothing here.
PREVIEW_CHARS = 300
# The disputed filter, computed in Python, looks at this many candidates.
CANDIDATES = 200


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows, as it travels in the URL (``?status=&order=&label=&q=&page=``)."""

    order: str = "confidence"
    status: str = "todo"
    label: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> QueueFilters:
        """From request parameters; raises ``ReviewError`` naming a bad ``order`` or ``status``."""
        filters = cls(
            order=params.get("order") or "confidence",
            status=params.get("status") or "todo",
            label=(params.get("label") or "").strip(),
            q=(params.get("q") or "").strip()[:200],
        )
        if filters.order not in QUEUE_ORDERS:
            raise ReviewError(f"order must be one of {', '.join(QUEUE_ORDERS)}", "order")
        if filters.status not in QUEUE_FILTERS:
            raise ReviewError(f"status must be one of {', '.join(QUEUE_FILTERS)}", "status")
        return filters

    def query(self, page: int | None = None) -> str:
        """The query string for these filters (defaults left out), with ``page`` when given."""
        defaults = QueueFilters()
        params = {k: v for k, v in vars(self).items() if v and v != getattr(defaults, k)}
        if page is not None and page > 1:
            params["page"] = str(page)
        return urlencode(params)


def _per_document(rows: QuerySet[Any], aggregate: Any) -> Any:
    """One aggregate over ``rows`` (entities or annotations) of the outer document, as a subquery.

    Subqueries rather than joins with ``GROUP BY``: joined, every entity row of a document would
    carry the document's columns through the grouping, and the text's preview and length were
    computed once per entity, so one long document with thousands of entities made every queue
    request (and the "next document" after each Done) take seconds.
    """
    return Subquery(
        rows.filter(document=OuterRef("pk")).order_by().values("document").annotate(v=aggregate).values("v")
    )


def _queryset(*, status: str, label: str, q: str, order: str = "confidence") -> QuerySet[Document]:
    pending = Entity.objects.filter(review_status=Entity.Review.PENDING)
    qs = Document.objects.filter(status=Document.Status.DONE).annotate(
        min_score=_per_document(pending, Min("score")),
        n_pending=Coalesce(_per_document(pending, Count("pk")), 0),
        n_entities=Coalesce(_per_document(Entity.objects.all(), Count("pk")), 0),
        n_reviews=Coalesce(_per_document(ReviewAnnotation.objects.all(), Count("pk")), 0),
        n_chosen=Coalesce(_per_document(ReviewAnnotation.objects.filter(chosen=True), Count("pk")), 0),
        preview=Substr("text", 1, PREVIEW_CHARS),
        text_chars=Length("text"),
    )
    qs = qs.defer("text")
    if label:
        qs = qs.filter(Exists(Entity.objects.filter(document=OuterRef("pk"), label=label)))
    if q:
        qs = qs.filter(text__icontains=q)
    if status == "todo":
        qs = qs.filter(n_reviews=0)
    elif status == "done":
        qs = qs.filter(n_reviews__gte=1)
    elif status == "disputed":
        qs = qs.filter(n_reviews__gte=2, n_chosen=0)
    by_confidence = (F("min_score").asc(nulls_last=True), "created_at", "pk")
    if order == "disagreement":
        # The stored score (ner.review.disagreement, computed in the background); none yet: last.
        return qs.order_by(F("disagreement").desc(nulls_last=True), *by_confidence)
    return qs.order_by(*by_confidence)


def review_queue(
    *, order: str = "confidence", status: str = "todo", limit: int = 50, label: str = "", q: str = ""
) -> list[Document]:
    """Documents to review, annotated with ``min_score``, ``n_pending``, ``n_reviews`` and ``conflicts``.

    ``order``: ``confidence`` (lowest pending entity score first) or ``disagreement`` (most
    recognizer conflicts first, from the score stored by the background task; documents
    without one yet come last, by confidence).
    ``status``: ``todo`` (nobody finished it), ``disputed`` (finished by reviewers who
    disagree, unresolved), ``done`` (finished), ``all``.  ``q``: text the document contains.
    Each document also carries ``preview`` (its first ``PREVIEW_CHARS`` characters) and ``text_chars``.
    """
    QueueFilters.from_params({"order": order, "status": status})  # validates
    qs = _queryset(status=status, label=label, q=q, order=order)
    docs: list[Any]
    if status == "disputed":
        docs = cast(list[Any], [d for d in qs.prefetch_related("review_annotations")[: limit * 4] if _disputed(d)])
    else:
        docs = cast(list[Any], list(qs[:limit]))
    for doc in docs:
        doc.conflicts = doc.disagreement if order == "disagreement" else None
    result: list[Document] = docs[:limit]
    return result


def queue_page(filters: QueueFilters, page: int | str | None = 1, *, per_page: int = PER_PAGE) -> Page[Any]:
    """One page of the queue (Django's ``Paginator``): paged in the database, except the disputed
    filter, which is computed in Python over the ``CANDIDATES`` first candidates."""
    if filters.status != "disputed":
        source: Any = _queryset(status=filters.status, label=filters.label, q=filters.q, order=filters.order)
    else:
        source = review_queue(
            order=filters.order, status=filters.status, label=filters.label, q=filters.q, limit=CANDIDATES
        )
    result = Paginator(source, per_page).get_page(page)
    if filters.order == "disagreement":
        for doc in result.object_list:
            doc.conflicts = doc.disagreement
    return result


def unscored_count(filters: QueueFilters) -> int:
    """Documents of the queue without a disagreement score yet (they are listed last)."""
    if filters.status == "disputed":
        docs = review_queue(status="disputed", label=filters.label, q=filters.q, limit=CANDIDATES)
        return sum(1 for d in docs if d.disagreement is None)
    qs = _queryset(status=filters.status, label=filters.label, q=filters.q)
    return qs.filter(disagreement__isnull=True).count()


def next_in_queue(document: Document, filters: QueueFilters) -> int | None:
    """The id of the first queued document other than ``document`` (for "next" and after "Done")."""
    if filters.status != "disputed":
        qs = _queryset(status=filters.status, label=filters.label, q=filters.q, order=filters.order)
        return qs.exclude(pk=document.pk).values_list("pk", flat=True).first()
    docs = review_queue(order=filters.order, status=filters.status, label=filters.label, q=filters.q, limit=2)
    return next((d.pk for d in docs if d.pk != document.pk), None)


def _disputed(document: Document) -> bool:
    return any(p.agreement.f1 < 1.0 for p in document_agreement(document))


def reviewed_documents() -> QuerySet[Document]:
    """Documents at least one reviewer finished: what the export writes."""
    finished = ReviewAnnotation.objects.filter(document=OuterRef("pk"))
    return Document.objects.filter(Exists(finished)).order_by("pk")  # no DISTINCT over the texts

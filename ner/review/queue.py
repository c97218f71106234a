"""The review queue: which documents a reviewer sees next, in which order."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Min, Q, QuerySet
from django.db.models.functions import Length, Substr

from ner.extraction import pipeline
from ner.models import Document, Entity
from ner.review.actions import ReviewError
from ner.review.agreement import document_agreement

logger = logging.getLogger(__name__)

QUEUE_ORDERS = ("confidence", "disagreement")
QUEUE_FILTERS = ("todo", "disputed", "done", "all")
PER_PAGE = 25
# The queue row shows the start of the text; the database cuts it, so a huge document costs nothing here.
PREVIEW_CHARS = 300
# Orders computed in Python (recognizer disagreement, disputed documents) look at this many candidates.
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


def recognizer_conflicts(text: str) -> int:
    """How many pairs of overlapping spans from different recognizers disagree (offsets or label).

    A span found by only one recognizer is not a conflict (spaCy never finds e-mails); two
    recognizers proposing different boundaries or labels for the same words are.
    """
    per_recognizer: list[list[Any]] = []
    for name in pipeline.PIPELINES["merged"]:
        if name not in settings.NER_RECOGNIZERS:
            continue
        try:
            per_recognizer.append(pipeline.extract([text], recognizers=[name])[0])
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


def _queryset(*, status: str, label: str, q: str, with_text: bool) -> QuerySet[Document]:
    qs = Document.objects.filter(status=Document.Status.DONE).annotate(
        min_score=Min("entities__score", filter=Q(entities__review_status=Entity.Review.PENDING)),
        n_pending=Count("entities", filter=Q(entities__review_status=Entity.Review.PENDING), distinct=True),
        n_entities=Count("entities", distinct=True),
        n_reviews=Count("review_annotations", distinct=True),
        n_chosen=Count("review_annotations", filter=Q(review_annotations__chosen=True), distinct=True),
        preview=Substr("text", 1, PREVIEW_CHARS),
        text_chars=Length("text"),
    )
    if not with_text:
        qs = qs.defer("text")
    if label:
        qs = qs.filter(entities__label=label).distinct()
    if q:
        qs = qs.filter(text__icontains=q)
    if status == "todo":
        qs = qs.filter(n_reviews=0)
    elif status == "done":
        qs = qs.filter(n_reviews__gte=1)
    elif status == "disputed":
        qs = qs.filter(n_reviews__gte=2, n_chosen=0)
    return qs.order_by(F("min_score").asc(nulls_last=True), "created_at", "pk")


def review_queue(
    *, order: str = "confidence", status: str = "todo", limit: int = 50, label: str = "", q: str = ""
) -> list[Document]:
    """Documents to review, annotated with ``min_score``, ``n_pending``, ``n_reviews`` and ``conflicts``.

    ``order``: ``confidence`` (lowest pending entity score first) or ``disagreement``
    (most recognizer conflicts first; counted for the ``CANDIDATES`` least confident candidates).
    ``status``: ``todo`` (nobody finished it), ``disputed`` (finished by reviewers who
    disagree, unresolved), ``done`` (finished), ``all``.  ``q``: text the document contains.
    Each document also carries ``preview`` (its first ``PREVIEW_CHARS`` characters) and ``text_chars``.
    """
    QueueFilters.from_params({"order": order, "status": status})  # validates
    qs = _queryset(status=status, label=label, q=q, with_text=order == "disagreement")
    docs: list[Any]
    if status == "disputed":
        docs = cast(list[Any], [d for d in qs.prefetch_related("review_annotations")[: limit * 4] if _disputed(d)])
    else:
        docs = cast(list[Any], list(qs[: max(limit, CANDIDATES) if order == "disagreement" else limit]))
    for doc in docs:
        doc.conflicts = _cached_conflicts(doc) if order == "disagreement" else None
    if order == "disagreement":
        docs.sort(key=lambda d: -d.conflicts)
    result: list[Document] = docs[:limit]
    return result


def queue_page(filters: QueueFilters, page: int | str | None = 1, *, per_page: int = PER_PAGE) -> Page[Any]:
    """One page of the queue (Django's ``Paginator``): paged in the database for the confidence order,
    over the ``CANDIDATES`` first candidates for the orders computed in Python."""
    if filters.order == "confidence" and filters.status != "disputed":
        source: Any = _queryset(status=filters.status, label=filters.label, q=filters.q, with_text=False)
    else:
        source = review_queue(
            order=filters.order, status=filters.status, label=filters.label, q=filters.q, limit=CANDIDATES
        )
    return Paginator(source, per_page).get_page(page)


def next_in_queue(document: Document, filters: QueueFilters) -> int | None:
    """The id of the first queued document other than ``document`` (for "next" and after "Done")."""
    if filters.order == "confidence" and filters.status != "disputed":
        qs = _queryset(status=filters.status, label=filters.label, q=filters.q, with_text=False)
        return qs.exclude(pk=document.pk).values_list("pk", flat=True).first()
    docs = review_queue(order=filters.order, status=filters.status, label=filters.label, q=filters.q, limit=2)
    return next((d.pk for d in docs if d.pk != document.pk), None)


def _disputed(document: Document) -> bool:
    return any(p.agreement.f1 < 1.0 for p in document_agreement(document))


def reviewed_documents() -> QuerySet[Document]:
    """Documents at least one reviewer finished: what the export writes."""
    return Document.objects.filter(review_annotations__isnull=False).distinct().order_by("pk")

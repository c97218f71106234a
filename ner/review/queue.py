"""The review queue: which documents a reviewer sees next, in which order."""

from __future__ import annotations

import logging
from itertools import combinations
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Q, QuerySet

from ner.extraction import pipeline
from ner.models import Document, Entity
from ner.review.actions import ReviewError
from ner.review.agreement import document_agreement

logger = logging.getLogger(__name__)

QUEUE_ORDERS = ("confidence", "disagreement")
QUEUE_FILTERS = ("todo", "disputed", "done", "all")


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
        raise ReviewError(f"order must be one of {', '.join(QUEUE_ORDERS)}", "order")
    if status not in QUEUE_FILTERS:
        raise ReviewError(f"status must be one of {', '.join(QUEUE_FILTERS)}", "status")
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

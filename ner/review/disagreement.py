"""Recognizer disagreement per document, computed in the background and stored for the review queue.

The queue's ``disagreement`` order used to run every recognizer on 200 documents inside the
request.  Now a document's score (``Document.disagreement``: how many pairs of overlapping spans
from different recognizers differ in boundaries or label) is computed by the task
``ner.tasks.score_disagreement``, sent once the document is processed, and stored with the key
of the recognizer state it was computed with (``Document.disagreement_key``: rules, gazetteer
terms, the active tagger and the enabled recognizers).  The periodic ``ner.tasks.sweep_disagreement``
scores the documents without a score and those whose key is no longer the current one (a rule,
a term or the active tagger changed), so the order follows an edit within a sweep interval.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Length

from ner import jobs
from ner.extraction import pipeline
from ner.models import Document, ExtractionRule, GazetteerTerm, ModelVersion

logger = logging.getLogger(__name__)

SCORE_TASK = "ner.tasks.score_disagreement"
SWEEP_TASK = "ner.tasks.sweep_disagreement"
SCORE_BATCH = 50  # documents per scoring task (one batch through each recognizer)


def _recognizers() -> list[str]:
    return [name for name in pipeline.PIPELINES["merged"] if name in settings.NER_RECOGNIZERS]


def state_key() -> str:
    """What the scores depend on besides the text: changes when a rule, a term or the active tagger does."""
    rules = ExtractionRule.objects.aggregate(n=Count("id"), latest=Max("updated_at"))
    # GazetteerTerm has no updated_at: the same summary the gazetteer recognizer reloads on.
    terms = GazetteerTerm.objects.aggregate(
        n=Count("id"),
        last=Max("id"),
        chars=Sum(Length("term")),
        enabled=Count("id", filter=Q(enabled=True)),
        ci=Count("id", filter=Q(case_insensitive=True)),
        newest=Max("created_at"),
    )
    tagger = (
        ModelVersion.objects.filter(kind=ModelVersion.Kind.TAGGER, status=ModelVersion.Status.READY, is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    raw = repr((sorted(rules.items()), sorted(terms.items()), tagger, _recognizers()))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]


def count_conflicts(per_recognizer: Sequence[Sequence[Any]]) -> int:
    """Pairs of overlapping spans from different recognizers that differ in offsets or label.

    A span found by only one recognizer is not a conflict (spaCy never finds e-mails); two
    recognizers proposing different boundaries or labels for the same words are.
    """
    conflicts = 0
    for a_spans, b_spans in combinations(per_recognizer, 2):
        for a in a_spans:
            for b in b_spans:
                if a.start < b.end and b.start < a.end and (a.start, a.end, a.label) != (b.start, b.end, b.label):
                    conflicts += 1
    return conflicts


def batch_conflicts(texts: list[str]) -> list[int]:
    """``count_conflicts`` for each text, each enabled recognizer run once over the whole batch."""
    per_recognizer: list[list[list[Any]]] = []
    for name in _recognizers():
        try:
            per_recognizer.append(pipeline.extract(texts, recognizers=[name]))
        except Exception:  # a recognizer that cannot run here (no model) simply gives no opinion
            logger.debug("recognizer %s unavailable for conflict counting", name, exc_info=True)
    return [count_conflicts([spans[i] for spans in per_recognizer]) for i in range(len(texts))]


def recognizer_conflicts(text: str) -> int:
    """``count_conflicts`` for one text."""
    return batch_conflicts([text])[0]


def score_documents(document_ids: Sequence[int]) -> int:
    """Compute and store the disagreement of the given processed documents; returns how many were scored."""
    key = state_key()
    docs = list(Document.objects.filter(pk__in=list(document_ids), status=Document.Status.DONE).only("pk", "text"))
    if not docs:
        return 0
    for doc, conflicts in zip(docs, batch_conflicts([d.text for d in docs]), strict=True):
        # update(), not save(): the document's updated_at (its review version) stays as it was.
        Document.objects.filter(pk=doc.pk).update(disagreement=conflicts, disagreement_key=key)
    return len(docs)


def send_scoring(document_ids: Sequence[int]) -> int:
    """Send ``score_disagreement`` for the documents, ``SCORE_BATCH`` at a time; returns the batches sent."""
    ids = list(document_ids)
    sent = 0
    for start in range(0, len(ids), SCORE_BATCH):
        try:
            jobs.send(SCORE_TASK, ids[start : start + SCORE_BATCH])
            sent += 1
        except jobs.JobNotSent as exc:  # the sweep will score them later
            logger.warning("disagreement scores not sent for %d documents: %s", len(ids[start:]), exc)
            break
    return sent


def unscored(key: str | None = None) -> Q:
    """Processed documents without a score, or with one computed under another recognizer state."""
    missing = Q(disagreement__isnull=True)
    return missing | ~Q(disagreement_key=key) if key is not None else missing


def sweep(limit: int | None = None) -> int:
    """Send scoring for up to ``limit`` documents without a current score (newest first); returns how many."""
    limit = limit or int(settings.NER_DISAGREEMENT_SWEEP_LIMIT)
    ids = list(
        Document.objects.filter(status=Document.Status.DONE)
        .filter(unscored(state_key()))
        .order_by("-pk")
        .values_list("pk", flat=True)[:limit]
    )
    send_scoring(ids)
    return len(ids)

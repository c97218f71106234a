"""Documents in, entities out: the domain functions behind the ``ner`` Celery tasks.

A document is stored (status ``queued``) before its task is sent, so nothing is
lost when the broker or a worker dies.  Processing is idempotent: a task first
*claims* the document with a conditional update (``queued``, or ``processing``
under the same task id when the message is redelivered), then replaces the
document's non-reviewed machine entities in one transaction.  A redelivered or
duplicated task therefore never adds entities twice, and a document that keeps
killing its worker stops after ``NER_MAX_ATTEMPTS`` with a visible reason.

Batching: a task for a small document also claims other small documents that
are waiting with the same options (up to ``NER_BATCH_SIZE``) and runs them
through the pipeline in one model call; their own tasks later find them done.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Length
from django.utils import timezone

from ner import jobs
from ner.extraction.pipeline import PIPELINE_NAMES, PIPELINES, RECOGNIZER_NAMES, length_problem
from ner.models import Document, Entity, ModelVersion
from ner.spans import Span

logger = logging.getLogger(__name__)

OPTION_KEYS = ("recognizers", "pipeline", "tagger_version")
MAX_SOURCE_CHARS = 32
MAX_EXTERNAL_ID_CHARS = 200
EXTRACT_ONE = "ner.tasks.extract_document"
EXTRACT_MANY = "ner.tasks.extract_documents"
SCORE_DISAGREEMENT = "ner.tasks.score_disagreement"  # ner.review.disagreement, run on the extraction queue

# Fault injection: callables run on each batch of texts just before the pipeline.  Only the
# reliability tests install one (tests/faults.py); production code never does.
before_pipeline: list[Callable[[Sequence[str]], None]] = []


class DocumentRejected(ValueError):
    """The text or options of a document cannot be accepted; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "text") -> None:
        super().__init__(message)
        self.field = field


# --- configuration -------------------------------------------------------------------


def _max_attempts() -> int:
    return int(getattr(settings, "NER_MAX_ATTEMPTS", 3))


def _batch_size() -> int:
    return int(getattr(settings, "NER_BATCH_SIZE", 16))


def _batch_max_chars() -> int:
    return int(getattr(settings, "NER_BATCH_MAX_CHARS", 2000))


def _stuck_after() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "NER_STUCK_AFTER_S", 600)))


# --- validation ----------------------------------------------------------------------


def validate_text(text: object, field: str = "text") -> str:
    """A non-empty string within ``NER_MAX_TEXT_CHARS``, else :class:`DocumentRejected` naming ``field``."""
    if not isinstance(text, str):
        raise DocumentRejected(f"{field} must be a string, not {type(text).__name__}", field)
    if not text.strip():
        raise DocumentRejected(f"{field} is empty", field)
    if problem := length_problem(text):
        raise DocumentRejected(f"{field} is {problem}", field)
    return text


def validate_options(options: object) -> dict[str, Any]:
    """Check per-document pipeline options; unknown keys and bad values raise ``DocumentRejected``."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise DocumentRejected(f"options must be an object, not {type(options).__name__}", "options")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise DocumentRejected(
            f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(OPTION_KEYS))}", "options"
        )
    clean: dict[str, Any] = {}
    if "recognizers" in options:
        names = options["recognizers"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise DocumentRejected("options.recognizers must be a non-empty list of recognizer names", "options")
        bad = [n for n in names if n not in RECOGNIZER_NAMES]
        if bad:
            raise DocumentRejected(
                f"unknown recognizer(s) {', '.join(bad)}; choose from {', '.join(RECOGNIZER_NAMES)}", "options"
            )
        clean["recognizers"] = list(dict.fromkeys(names))
    if "pipeline" in options:
        if options["pipeline"] not in PIPELINE_NAMES:
            raise DocumentRejected(f"options.pipeline must be one of {', '.join(PIPELINE_NAMES)}", "options")
        if "recognizers" in clean:
            raise DocumentRejected("give either options.pipeline or options.recognizers, not both", "options")
        clean["pipeline"] = options["pipeline"]
    if "tagger_version" in options:
        version = options["tagger_version"]
        if not isinstance(version, str) or not version:
            raise DocumentRejected("options.tagger_version must be a model version name", "options")
        if not ModelVersion.objects.filter(name=version, kind=ModelVersion.Kind.TAGGER).exists():
            raise DocumentRejected(f"no tagger model version named {version!r}", "options")
        clean["tagger_version"] = version
    return clean


def recognizers_for(options: dict[str, Any]) -> tuple[str, ...] | None:
    """The recognizer names a document's options ask for; ``None`` means the configured default."""
    if options.get("recognizers"):
        return tuple(options["recognizers"])
    if options.get("pipeline"):
        return tuple(PIPELINES[options["pipeline"]])
    return None


# --- submitting ------------------------------------------------------------------------


def submit_document(
    text: str, *, source: str = "api", options: dict | None = None, user: Any = None, external_id: str = ""
) -> Document:
    """Validate and store a document (status ``queued``), then send ``extract_document`` once the transaction commits.

    With no broker (eager mode) the task runs in process at commit, so the
    returned object may be stale: ``refresh_from_db()`` to see the result.
    """
    return submit_documents([text], source=source, options=options, user=user, external_id=external_id)[0]


def submit_documents(
    texts: Sequence[str],
    *,
    source: str = "api",
    options: dict | None = None,
    user: Any = None,
    external_id: str = "",
    chunk_size: int | None = None,
) -> list[Document]:
    """Store many documents at once and send them as ``extract_documents`` batches of ``chunk_size``."""
    field = "text" if len(texts) == 1 else "texts"
    clean_texts = [validate_text(t, field) for t in texts]
    clean_options = validate_options(options)
    if not isinstance(source, str) or not source or len(source) > MAX_SOURCE_CHARS:
        raise DocumentRejected(f"source must be 1-{MAX_SOURCE_CHARS} characters", "source")
    if len(external_id) > MAX_EXTERNAL_ID_CHARS:
        raise DocumentRejected(f"external_id is longer than {MAX_EXTERNAL_ID_CHARS} characters", "external_id")
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    now = timezone.now()
    single = len(clean_texts) == 1
    size = max(1, chunk_size or _batch_size())
    with transaction.atomic():
        docs = [
            Document.objects.create(
                text=text,
                source=source,
                options=clean_options,
                external_id=external_id,
                created_by=user,
                status=Document.Status.QUEUED,
                queued_at=now,
            )
            for text in clean_texts
        ]
        chunks = (
            [[d.pk for d in docs]]
            if single
            else [[d.pk for d in docs[i : i + size]] for i in range(0, len(docs), size)]
        )
        for ids in chunks:
            transaction.on_commit(lambda ids=ids: send_extraction(ids))  # type: ignore[misc]
    return docs


def send_extraction(document_ids: list[int]) -> str | None:
    """Send the task for stored documents; record its id first so a redelivery can reclaim them.

    A broker failure is logged and swallowed: the documents stay ``queued`` and
    the periodic sweep sends them again, so the caller's request still succeeds.
    """
    task_id = str(uuid.uuid4())
    Document.objects.filter(pk__in=document_ids).update(task_id=task_id)
    try:
        if len(document_ids) == 1:
            jobs.send(EXTRACT_ONE, document_ids[0], task_id=task_id)
        else:
            jobs.send(EXTRACT_MANY, list(document_ids), task_id=task_id)
    except jobs.JobNotSent as exc:
        logger.warning("could not send documents %s (%s); the sweep will send them again", document_ids, exc)
        return None
    return task_id


def resubmit_document(document_id: int) -> Document:
    """Queue a failed (or finished) document again with a fresh attempt count."""
    with transaction.atomic():
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.QUEUED, attempts=0, error="", queued_at=timezone.now(), updated_at=timezone.now()
        )
        transaction.on_commit(lambda: send_extraction([document_id]))
    return Document.objects.get(pk=document_id)


# --- claiming --------------------------------------------------------------------------


def _claimable(task_id: str) -> Q:
    stale = timezone.now() - _stuck_after()
    return (
        Q(status=Document.Status.QUEUED)
        | Q(status=Document.Status.PROCESSING, task_id=task_id)
        | Q(status=Document.Status.PROCESSING, updated_at__lt=stale)
    )


def _claim(document_id: int, task_id: str) -> bool:
    """Move one document to ``processing`` for this task; false when it is done, failed or someone else's."""
    now = timezone.now()
    claimed = (
        Document.objects.filter(pk=document_id, attempts__lt=_max_attempts())
        .filter(_claimable(task_id))
        .update(status=Document.Status.PROCESSING, task_id=task_id, attempts=F("attempts") + 1, updated_at=now)
    )
    if claimed:
        return True
    # Not claimable: give up on a document that has used all its attempts (a poison pill).
    exhausted = (
        Document.objects.filter(pk=document_id, attempts__gte=_max_attempts()).filter(_claimable(task_id)).first()
    )
    if exhausted is not None:
        Document.objects.filter(pk=document_id, status=exhausted.status, attempts=exhausted.attempts).update(
            status=Document.Status.FAILED,
            error=_gave_up_message(exhausted.error),
            processed_at=now,
            updated_at=now,
        )
    return False


def _gave_up_message(last_error: str = "") -> str:
    message = (
        f"gave up after {_max_attempts()} attempts (the worker was lost, timed out or hit a transient error each time)"
    )
    last_error = last_error.removeprefix("retrying after: ")
    return (
        f"{message}; last error: {last_error}"[:1000]
        if last_error and not last_error.startswith("gave up")
        else message
    )


def note_retry(document_ids: Iterable[int], reason: str) -> None:
    """Best effort: show on unfinished documents why they are being retried."""
    Document.objects.filter(
        pk__in=list(document_ids), status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]
    ).update(error=f"retrying after: {reason}"[:1000])


def _drain(anchor: Document, task_id: str, room: int) -> list[Document]:
    """Claim up to ``room`` other small waiting documents with the same options, oldest first."""
    if room <= 0 or len(anchor.text) > _batch_max_chars():
        return []
    candidates = (
        Document.objects.annotate(n_chars=Length("text"))
        .filter(n_chars__lte=_batch_max_chars(), attempts__lt=_max_attempts())
        .filter(Q(status=Document.Status.QUEUED) | Q(status=Document.Status.PROCESSING, task_id=task_id))
        .exclude(pk=anchor.pk)
        .order_by("queued_at", "pk")
        .values_list("pk", "options")[: room * 4]
    )
    same = [pk for pk, options in candidates if (options or {}) == (anchor.options or {})][:room]
    claimed = [pk for pk in same if _claim(pk, task_id)]
    return list(Document.objects.filter(pk__in=claimed))


# --- processing -----------------------------------------------------------------------


@dataclass
class _Outcome:
    spans: list[Span] | None = None
    error: str = ""
    tagger_version: str | None = None  # the tagger ModelVersion that ran, if any


def process_document(document_id: int, *, task_id: str | None = None, drain: bool = True) -> Document | None:
    """Extract entities for one document (and, when ``drain``, other waiting small ones in the same model batch).

    Idempotent: a document that is already done, failed or being processed by
    another task is returned unchanged.  ``None`` when the document does not exist.
    """
    for doc in process_documents([document_id], task_id=task_id, drain=drain):
        if doc.pk == document_id:
            return doc
    return Document.objects.filter(pk=document_id).first()


def process_documents(
    document_ids: Sequence[int], *, task_id: str | None = None, drain: bool = False
) -> list[Document]:
    """Claim the given documents, run them through the pipeline in batches, store their entities.

    Returns the documents this call processed (done or failed), in primary-key
    order.  Transient errors (database, broker) propagate so the task retries;
    every other error marks the document failed with the reason.
    """
    token = task_id or f"direct-{uuid.uuid4()}"
    claimed_ids = [pk for pk in dict.fromkeys(document_ids) if _claim(pk, token)]
    docs = list(Document.objects.filter(pk__in=claimed_ids).order_by("pk"))
    if drain and len(document_ids) == 1:
        # Also when the document itself was done already (drained by another task): the waiting ones
        # (and any this task claimed before a retry) still want a batch.
        anchor = docs[0] if docs else Document.objects.filter(pk=document_ids[0]).first()
        if anchor is not None:
            docs += _drain(anchor, token, _batch_size() - len(docs))
    groups: dict[str, list[Document]] = {}
    for doc in docs:
        groups.setdefault(repr(sorted((doc.options or {}).items())), []).append(doc)
    for group in groups.values():
        _process_group(group)
    return list(Document.objects.filter(pk__in=[d.pk for d in docs]).order_by("pk"))


def _process_group(docs: list[Document]) -> None:
    options = docs[0].options or {}
    started = time.perf_counter()
    try:
        outcomes = _run_pipeline([d.text for d in docs], options)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        if len(docs) == 1:
            outcomes = [_Outcome(error=_describe(exc))]
        else:
            # Isolate the document that broke the batch: run each one alone.
            for doc in docs:
                _process_group([doc])
            return
    latency_ms = (time.perf_counter() - started) * 1000
    versions = _tagger_versions(outcomes, options)
    for doc, outcome in zip(docs, outcomes, strict=True):
        _store(doc, outcome, versions)
        record_inference(
            "extract",
            _primary_version(outcome, versions),
            latency_ms,
            ok=not outcome.error,
            error=outcome.error,
            n_chars=len(doc.text),
        )
    send_disagreement_scoring([doc.pk for doc, outcome in zip(docs, outcomes, strict=True) if not outcome.error])


def send_disagreement_scoring(document_ids: list[int]) -> None:
    """Once committed, send ``score_disagreement`` for processed documents (the review queue's order).

    A message that cannot be sent is only logged: the disagreement sweep scores what is missing.
    """
    if not document_ids or not settings.NER_DISAGREEMENT_AFTER_EXTRACT:
        return

    def send() -> None:
        try:
            jobs.send(SCORE_DISAGREEMENT, document_ids)
        except jobs.JobNotSent as exc:
            logger.warning("disagreement scores for documents %s not sent: %s", document_ids, exc)

    transaction.on_commit(send)


def _run_pipeline(texts: list[str], options: dict[str, Any]) -> list[_Outcome]:
    for hook in before_pipeline:
        hook(texts)
    results, tagger_version = _pipeline(texts, recognizers_for(options), options.get("tagger_version"))
    return [_Outcome(spans=list(spans), tagger_version=tagger_version) for spans in results]


def _pipeline(
    texts: list[str], recognizers: Sequence[str] | None, tagger_version: str | None
) -> tuple[list[list[Span]], str | None]:
    """Spans per text, and the name of the tagger version that ran (``run_pipeline`` reports it)."""
    from ner.extraction import pipeline  # looked up at call time, so tests can swap its functions

    result = pipeline.run_pipeline(texts, recognizers=recognizers, tagger_version=tagger_version)
    return result.spans, result.tagger_version


def record_inference(
    kind: str,
    version: ModelVersion | None,
    latency_ms: float,
    *,
    ok: bool,
    error: str = "",
    n_chars: int = 0,
    buffered: bool = False,
) -> None:
    # Imported here: ner.monitoring registers Prometheus collectors that read the database.
    from ner.monitoring import record_inference as record

    record(kind, version, latency_ms, ok=ok, error=error, n_chars=n_chars, buffered=buffered)


def _describe(exc: BaseException) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return f"extraction took longer than the time limit ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s)"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:1000]


def _tagger_versions(outcomes: list[_Outcome], options: dict[str, Any]) -> dict[str, ModelVersion]:
    names = {
        span.source.split(":", 1)[1]
        for outcome in outcomes
        for span in outcome.spans or ()
        if span.source.startswith("tagger:")
    }
    names.update(outcome.tagger_version for outcome in outcomes if outcome.tagger_version)
    if options.get("tagger_version"):
        names.add(options["tagger_version"])
    return {mv.name: mv for mv in ModelVersion.objects.filter(name__in=names)} if names else {}


def _primary_version(outcome: _Outcome, versions: dict[str, ModelVersion]) -> ModelVersion | None:
    if outcome.tagger_version in versions:
        return versions[outcome.tagger_version]
    for span in outcome.spans or ():
        if span.source.startswith("tagger:") and span.source[7:] in versions:
            return versions[span.source[7:]]
    return next(iter(versions.values()), None) if len(versions) == 1 else None


def _store(doc: Document, outcome: _Outcome, versions: dict[str, ModelVersion]) -> None:
    """Replace the document's non-reviewed machine entities and finish it, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=doc.pk).first()
        if locked is None:  # deleted while we worked
            return
        if outcome.error:
            locked.status = Document.Status.FAILED
            locked.error = outcome.error
        else:
            reviewed = list(locked.entities.exclude(review_status=Entity.Review.PENDING))
            locked.entities.filter(review_status=Entity.Review.PENDING).exclude(source="review").delete()
            taken = {(e.start, e.end, e.label, e.source) for e in locked.entities.all()}
            rows = []
            for span in outcome.spans or ():
                key = (span.start, span.end, span.label, span.source)
                # A reviewer's judgement wins over a new machine guess for the same characters.
                if key in taken or any(span.start < e.final_end and e.final_start < span.end for e in reviewed):
                    continue
                taken.add(key)
                version = versions.get(span.source[7:]) if span.source.startswith("tagger:") else None
                rows.append(
                    Entity(
                        document=locked,
                        start=span.start,
                        end=span.end,
                        label=span.label,
                        text=span.text,
                        score=span.score,
                        source=span.source[:64],
                        model_version=version,
                    )
                )
            Entity.objects.bulk_create(rows)
            locked.status = Document.Status.DONE
            locked.error = ""
            locked.model_version = _primary_version(outcome, versions)
        locked.processed_at = now
        locked.save(update_fields=["status", "error", "model_version", "processed_at", "updated_at"])


def mark_failed(document_ids: Iterable[int], reason: str) -> int:
    """Best effort: fail unfinished documents with a reason (used when a task gives up)."""
    now = timezone.now()
    return Document.objects.filter(
        pk__in=list(document_ids), status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]
    ).update(status=Document.Status.FAILED, error=reason[:1000], processed_at=now, updated_at=now)


# --- synchronous extraction -----------------------------------------------------------


def extract_text(text: str, *, recognizers: Iterable[str] | None = None) -> list[Span]:
    """Run the pipeline on one text now (no document stored) and record an ``InferenceLog`` row."""
    validate_text(text)
    names = tuple(recognizers) if recognizers is not None else None
    if names is not None:
        validate_options({"recognizers": list(names)})
    started = time.perf_counter()
    try:
        results, tagger_version = _pipeline([text], names, None)
        spans = results[0]
    except Exception as exc:
        record_inference(
            "extract",
            None,
            (time.perf_counter() - started) * 1000,
            ok=False,
            error=_describe(exc),
            n_chars=len(text),
            buffered=True,
        )
        raise
    outcome = _Outcome(spans=spans, tagger_version=tagger_version)
    versions = _tagger_versions([outcome], {})
    record_inference(
        "extract",
        _primary_version(outcome, versions),
        (time.perf_counter() - started) * 1000,
        ok=True,
        n_chars=len(text),
        buffered=True,  # one row per request: written in batches (ner.monitoring._LogBuffer)
    )
    return spans


# --- the periodic sweep -----------------------------------------------------------------


def sweep_stuck_documents(*, older_than_s: float | None = None, limit: int = 500) -> dict[str, int]:
    """Send again documents stuck ``queued`` or ``processing`` for too long; fail those out of attempts.

    A document is stuck when its task was lost (broker restarted without
    persistence, worker killed with the message unacknowledged, send failed).
    Returns counts: ``resent``, ``failed``.
    """
    cutoff = timezone.now() - (timedelta(seconds=older_than_s) if older_than_s is not None else _stuck_after())
    stuck = list(
        Document.objects.filter(
            Q(status=Document.Status.QUEUED, queued_at__lt=cutoff)
            | Q(status=Document.Status.QUEUED, queued_at__isnull=True, created_at__lt=cutoff)
            | Q(status=Document.Status.PROCESSING, updated_at__lt=cutoff)
        )
        .order_by("pk")
        .values_list("pk", "status", "attempts", "updated_at", "error")[:limit]
    )
    counts = {"resent": 0, "failed": 0}
    now = timezone.now()
    for pk, status, attempts, updated_at, last_error in stuck:
        unchanged = Document.objects.filter(pk=pk, status=status, updated_at=updated_at)
        if attempts >= _max_attempts():
            counts["failed"] += unchanged.update(
                status=Document.Status.FAILED, error=_gave_up_message(last_error), processed_at=now, updated_at=now
            )
            continue
        if unchanged.update(status=Document.Status.QUEUED, queued_at=now, updated_at=now):
            if send_extraction([pk]) is not None:
                counts["resent"] += 1
    if counts["resent"] or counts["failed"]:
        logger.warning("sweep: %(resent)d stuck document(s) sent again, %(failed)d failed", counts)
    return counts


def _transient_errors() -> tuple[type[Exception], ...]:
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as KombuOperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (
        OperationalError,
        InterfaceError,
        KombuOperationalError,
        RedisConnectionError,
        RedisTimeoutError,
    )


# Errors worth retrying: the database or the broker was briefly unreachable.
TRANSIENT_ERRORS = _transient_errors()

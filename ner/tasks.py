"""Celery tasks for extraction, training and evaluation: thin adapters over domain functions.

Every task takes primary keys.  Extraction tasks are idempotent, so they use
``acks_late`` with ``reject_on_worker_lost`` (a message whose worker dies is
delivered again) and retry transient errors (database or broker briefly gone)
with exponential backoff, jitter and a cap; any other error fails the document
with its reason and is not retried.  Training and evaluation are long and not
cheap to repeat: they are acknowledged on receipt, and a failure is written on
their row.  Queues are set in ``CELERY_TASK_ROUTES`` (settings).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from ner import jobs, monitoring
from ner.extraction import documents

logger = logging.getLogger(__name__)

MAX_RETRIES = 3


def _retry_countdown(retries: int) -> float:
    """Exponential backoff with full jitter, capped: base * 2**retries seconds at most."""
    base = float(getattr(settings, "NER_RETRY_BACKOFF_S", 2.0))
    ceiling = min(base * (2**retries), float(getattr(settings, "NER_RETRY_BACKOFF_MAX_S", 60.0)))
    return random.uniform(base / 2, max(base / 2, ceiling))


def _retry_or_fail(task: Task, document_ids: list[int], exc: Exception) -> None:
    """Retry a transient error, or after ``MAX_RETRIES`` fail the documents with the reason."""
    reason = f"{type(exc).__name__}: {exc}"[:500]
    if task.request.retries >= MAX_RETRIES:
        logger.error("documents %s failed after %d retries: %s", document_ids, MAX_RETRIES, reason)
        try:
            documents.mark_failed(document_ids, documents._gave_up_message(reason))
        except Exception:  # the database itself may be the problem; the sweep will finish the job
            logger.exception("could not mark documents %s failed", document_ids)
        raise exc
    logger.warning("transient error on documents %s (%s); retrying", document_ids, reason)
    try:
        documents.note_retry(document_ids, reason)
    except Exception:
        logger.warning("could not note the retry on documents %s", document_ids)
    raise task.retry(exc=exc, countdown=_retry_countdown(task.request.retries), max_retries=MAX_RETRIES)


EXTRACT_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "max_retries": MAX_RETRIES,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
}


@shared_task(name="ner.tasks.extract_document", **EXTRACT_OPTIONS)
def extract_document(self: Task, document_id: int) -> None:
    """Extract one document (and other small waiting ones, as one model batch)."""
    try:
        documents.process_document(document_id, task_id=self.request.id, drain=_batch_enabled())
    except documents.TRANSIENT_ERRORS as exc:
        _retry_or_fail(self, [document_id], exc)


@shared_task(name="ner.tasks.extract_documents", **EXTRACT_OPTIONS)
def extract_documents(self: Task, document_ids: list[int]) -> None:
    """Extract a list of documents in one model batch (bulk submissions)."""
    try:
        documents.process_documents(document_ids, task_id=self.request.id)
    except documents.TRANSIENT_ERRORS as exc:
        _retry_or_fail(self, list(document_ids), exc)


def _batch_enabled() -> bool:
    return int(getattr(settings, "NER_BATCH_SIZE", 16)) > 1


@shared_task(name="ner.tasks.sweep_stuck_documents", ignore_result=True, acks_late=True)
def sweep_stuck_documents() -> dict[str, int]:
    """Periodic (celery beat): send stuck documents again, fail those out of attempts, fail lost jobs."""
    counts = documents.sweep_stuck_documents()
    counts["lost_jobs"] = jobs.fail_lost_jobs()
    return counts


@shared_task(name="ner.tasks.sweep_inference_logs", ignore_result=True)
def sweep_inference_logs() -> int:
    """Periodic (celery beat): delete ``InferenceLog`` rows past ``NER_INFERENCE_LOG_RETENTION_DAYS``."""
    return monitoring.delete_old_logs()


@shared_task(name="ner.tasks.score_disagreement", ignore_result=True, acks_late=True)
def score_disagreement(document_ids: list[int]) -> int:
    """Store the recognizer disagreement of processed documents (the review queue's ``disagreement`` order)."""
    from ner.review import disagreement

    return disagreement.score_documents(document_ids)


@shared_task(name="ner.tasks.sweep_disagreement", ignore_result=True, acks_late=True)
def sweep_disagreement() -> int:
    """Periodic (celery beat): score documents without a current disagreement score (new, or rules changed)."""
    from ner.review import disagreement

    return disagreement.sweep()


LONG_OPTIONS: dict[str, Any] = {
    # Acknowledged on receipt: a lost training worker must not restart a multi-hour job by itself.
    "acks_late": False,
    "reject_on_worker_lost": False,
    "soft_time_limit": max(1, settings.CELERY_TRAIN_TIME_LIMIT - 60),
    "time_limit": settings.CELERY_TRAIN_TIME_LIMIT,
}


@shared_task(name="ner.tasks.train_model", **LONG_OPTIONS)
def train_model(model_version_id: int) -> None:
    """Train the ``ModelVersion`` row (status training) on the ``train`` queue."""
    from ner.models import ModelVersion

    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None or version.status != ModelVersion.Status.TRAINING:
        logger.warning("model version %s is not waiting for training; nothing to do", model_version_id)
        return
    from ner.training.trainer import run_training_job

    try:
        run_training_job(model_version_id)
    except Exception as exc:
        _fail_row(ModelVersion, model_version_id, ModelVersion.Status.TRAINING, exc)
        raise


@shared_task(name="ner.tasks.evaluate_model", **LONG_OPTIONS)
def evaluate_model(evaluation_run_id: int) -> None:
    """Run the ``EvaluationRun`` row on the ``train`` queue."""
    from ner.evaluation.runs import run_evaluation_job
    from ner.models import EvaluationRun

    try:
        run_evaluation_job(evaluation_run_id)
    except Exception as exc:
        _fail_row(EvaluationRun, evaluation_run_id, None, exc)
        raise


def _fail_row(model: Any, pk: int, only_status: str | None, exc: BaseException) -> None:
    """Write a failure on a training/evaluation row that the job itself left unfinished."""
    from celery.exceptions import SoftTimeLimitExceeded

    reason = (
        f"stopped at the time limit ({settings.CELERY_TRAIN_TIME_LIMIT} s)"
        if isinstance(exc, SoftTimeLimitExceeded)
        else f"{type(exc).__name__}: {exc}"[:1000]
    )
    rows = model.objects.filter(pk=pk).exclude(status__in=["ready", "done", "failed"])
    if only_status:
        rows = rows.filter(status=only_status)
    rows.update(status="failed", error=reason)

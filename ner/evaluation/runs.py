"""Evaluation runs: the one place that starts an evaluation, runs it and stores its report.

An evaluation is an ``EvaluationRun`` row (queued -> running -> done/failed) whose job
runs on the ``train`` queue, or in a thread of the web process without a broker
(:func:`ner.jobs.launch`).  ``evaluate_ner`` and the activation guard store their
reports here too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import transaction

from ner import jobs
from ner.evaluation import scoring
from ner.extraction.pipeline import PIPELINE_NAMES
from ner.models import EvaluationRun, ModelVersion

logger = logging.getLogger(__name__)

EVALUATE_TASK = "ner.tasks.evaluate_model"


class EvaluationRequestError(ValueError):
    """An evaluation cannot be started as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def start_evaluation(
    *,
    user: Any,
    data: str,
    pipeline: str,
    version: ModelVersion | int | None = None,
    labels: list[str] | None = None,
) -> EvaluationRun:
    """Create a QUEUED ``EvaluationRun`` and start ``ner.tasks.evaluate_model`` once committed.

    Without a broker the job runs in a thread; a broker that refuses the message fails
    the run with the reason instead of leaving it queued.
    """
    data = (data or "").strip()
    if not data:
        raise EvaluationRequestError(
            "name the evaluation data (a file path or a corpus spec such as synthetic-heldout:300)", "data"
        )
    if pipeline not in PIPELINE_NAMES:
        raise EvaluationRequestError(f"pipeline must be one of {', '.join(PIPELINE_NAMES)}", "pipeline")
    if isinstance(version, int):
        found = ModelVersion.objects.filter(pk=version).first()
        if found is None:
            raise EvaluationRequestError(f"model version {version} does not exist", "model_version")
        version = found
    run = EvaluationRun.objects.create(
        model_version=version,
        pipeline=pipeline,
        data_path=data,
        labels=list(labels or []),
        status=EvaluationRun.Status.QUEUED,
        created_by=_user(user),
    )
    transaction.on_commit(lambda: launch_evaluation(run.pk))
    return run


def launch_evaluation(run_id: int) -> None:
    rows = EvaluationRun.objects.filter(pk=run_id)
    jobs.launch(
        EVALUATE_TASK,
        run_id,
        on_task_id=lambda task_id: rows.update(task_id=task_id),
        on_not_sent=lambda reason: rows.exclude(status=EvaluationRun.Status.DONE).update(
            status=EvaluationRun.Status.FAILED, error=reason[:2000]
        ),
    )


def evaluate_version(
    version: ModelVersion, eval_data: str, *, pipeline: str = "tagger", user: Any = None
) -> EvaluationRun:
    """Score ``version`` on a corpus spec now, reusing a finished run on the same data."""
    from ner.corpora.specs import fingerprint, load_corpus

    sentences = load_corpus(eval_data)
    earlier = EvaluationRun.objects.filter(
        model_version=version,
        pipeline=pipeline,
        data_fingerprint=fingerprint(sentences),
        status=EvaluationRun.Status.DONE,
        micro_f1__isnull=False,
    ).first()
    if earlier is not None:
        return earlier
    report = scoring.evaluate_pipeline(sentences, pipeline=pipeline, tagger_version=version.name)
    report.setdefault("model_version", version.name)
    run = save_evaluation_run(report, data_path=eval_data, user=_user(user))
    if run.model_version_id != version.pk:  # the report names the version; make sure the row says it too
        run.model_version = version
        run.save(update_fields=["model_version"])
    return run


def save_evaluation_run(
    report: dict[str, Any], *, data_path: str, user: Any = None, duration_s: float | None = None
) -> EvaluationRun:
    """Store a finished report as a DONE ``EvaluationRun`` (linked to its model version by name)."""
    version = None
    if report.get("model_version"):
        version = ModelVersion.objects.filter(name=report["model_version"]).first()
    return EvaluationRun.objects.create(
        model_version=version,
        pipeline=report["pipeline"],
        data_path=data_path[:500],
        data_fingerprint=report["data"]["fingerprint"],
        labels=report["labels"],
        status=EvaluationRun.Status.DONE,
        micro_f1=report["micro_f1"],
        metrics=report,
        duration_s=duration_s if duration_s is not None else report["timing"]["seconds"],
        created_by=user,
    )


EXPECTED_ERRORS: tuple[type[Exception], ...] = (ValueError, LookupError, OSError)


def run_evaluation_job(evaluation_run_id: int) -> None:
    """Run a stored ``EvaluationRun`` (``data_path`` is a corpus spec, see ``ner.corpora.specs``).

    Sets status running, then done with ``metrics``/``micro_f1``, or failed with ``error``.
    Bad input (unreadable data, unknown labels, no tagger) is recorded and not raised,
    so a task queue does not retry it; anything unexpected is recorded and re-raised.
    """
    from ner.corpora.conll import ReadStats
    from ner.corpora.specs import load_examples

    run = EvaluationRun.objects.select_related("model_version").get(pk=evaluation_run_id)
    run.status = EvaluationRun.Status.RUNNING
    run.error = ""
    run.save(update_fields=["status", "error"])
    started = time.perf_counter()
    try:
        stats = ReadStats()
        sentences = load_examples(run.data_path, stats=stats)
        report = scoring.evaluate_pipeline(
            sentences,
            pipeline=run.pipeline,
            labels=list(run.labels) or None,
            tagger_version=run.model_version.name if run.model_version else None,
        )
        report["data"].update({"path": run.data_path, "read": stats.as_dict()})
    except Exception as exc:
        run.status = EvaluationRun.Status.FAILED
        run.error = str(exc)[:2000] or type(exc).__name__
        run.duration_s = time.perf_counter() - started
        run.save(update_fields=["status", "error", "duration_s"])
        if isinstance(exc, EXPECTED_ERRORS):
            logger.warning("evaluation %s failed: %s", evaluation_run_id, exc)
            return
        raise
    run.status = EvaluationRun.Status.DONE
    run.metrics = report
    run.micro_f1 = report["micro_f1"]
    run.data_fingerprint = report["data"]["fingerprint"]
    run.labels = report["labels"]
    run.duration_s = time.perf_counter() - started
    run.save(update_fields=["status", "metrics", "micro_f1", "data_fingerprint", "labels", "duration_s"])

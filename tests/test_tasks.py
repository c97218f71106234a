"""ner.tasks: routing, reliability options, retries only for transient errors, training/evaluation adapters."""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from ner import jobs as jobs_module
from ner import tasks
from ner.extraction import documents
from ner.models import Document, EvaluationRun, ModelVersion
from nlpapp.celery import app
from tests import fake_pipeline

SETTINGS = Path(__file__).resolve().parent.parent / "nlpapp" / "settings.py"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> fake_pipeline.FakePipeline:
    return fake_pipeline.install(monkeypatch)


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("ner.tasks.extract_document", "ner"),
        ("ner.tasks.extract_documents", "ner"),
        ("ner.tasks.train_model", "train"),
        ("ner.tasks.evaluate_model", "train"),
        ("ner.tasks.sweep_stuck_documents", "default"),
        ("chat.tasks.generate_reply", "gen"),
    ],
)
def test_tasks_are_routed_to_their_queue(name: str, queue: str) -> None:
    route = app.amqp.router.route({}, name)
    assert route["queue"].name == queue


def test_extraction_tasks_are_redelivered_when_their_worker_dies() -> None:
    from django.conf import settings

    for task in (tasks.extract_document, tasks.extract_documents):
        assert task.acks_late is True and task.reject_on_worker_lost is True
        assert task.soft_time_limit == settings.CELERY_TASK_SOFT_TIME_LIMIT
        assert task.time_limit == settings.CELERY_TASK_TIME_LIMIT > task.soft_time_limit
    for task in (tasks.train_model, tasks.evaluate_model):
        # Long jobs are not restarted by a redelivery; their row records the failure instead.
        assert task.acks_late is False
        assert task.time_limit == settings.CELERY_TRAIN_TIME_LIMIT
    longest = max(t.time_limit or 0 for t in app.tasks.values() if t.name.startswith(("ner.", "chat.")))
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest
    assert settings.NER_STUCK_AFTER_S > settings.CELERY_TASK_TIME_LIMIT


def test_beat_runs_the_sweep_periodically() -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-stuck-documents"]
    assert entry["task"] == "ner.tasks.sweep_stuck_documents"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == settings.NER_SWEEP_INTERVAL_S


def test_stuck_threshold_must_exceed_the_task_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    monkeypatch.setenv("NER_STUCK_AFTER_S", "100")
    with pytest.raises(ImproperlyConfigured, match="NER_STUCK_AFTER_S"):
        runpy.run_path(str(SETTINGS))


def test_retry_backoff_grows_with_jitter_and_a_cap(settings: Any) -> None:
    settings.NER_RETRY_BACKOFF_S = 2.0
    settings.NER_RETRY_BACKOFF_MAX_S = 10.0
    first = [tasks._retry_countdown(0) for _ in range(50)]
    late = [tasks._retry_countdown(6) for _ in range(50)]
    assert all(1.0 <= c <= 2.0 for c in first)
    assert all(1.0 <= c <= 10.0 for c in late) and max(late) > 3.0


@pytest.mark.django_db
def test_extract_document_task_processes_the_document(fake: fake_pipeline.FakePipeline) -> None:
    doc = Document.objects.create(text="ping me@here.io")
    tasks.extract_document.apply(args=(doc.pk,), task_id="abc")
    doc.refresh_from_db()
    assert doc.status == "done" and doc.task_id == "abc" and doc.entities.count() == 1


@pytest.mark.django_db
def test_a_permanent_error_fails_at_once_without_retry(fake: fake_pipeline.FakePipeline) -> None:
    fake.error = KeyError("label")
    doc = Document.objects.create(text="x")
    tasks.extract_document.apply(args=(doc.pk,))
    doc.refresh_from_db()
    assert doc.status == "failed" and "KeyError" in doc.error
    assert len(fake.calls) == 1


@pytest.mark.django_db
def test_a_transient_error_is_retried_then_fails_visibly(fake: fake_pipeline.FakePipeline, settings: Any) -> None:
    from django.db import OperationalError

    settings.NER_MAX_ATTEMPTS = 10  # let the task's own retry cap decide here
    fake.error = OperationalError("could not connect to server")
    doc = Document.objects.create(text="x")
    result = tasks.extract_document.apply(args=(doc.pk,))
    assert result.failed()
    doc.refresh_from_db()
    assert doc.status == "failed"
    assert "could not connect to server" in doc.error and "gave up" in doc.error
    assert len(fake.calls) == tasks.MAX_RETRIES + 1


@pytest.mark.django_db
def test_extract_documents_task_runs_one_batch(fake: fake_pipeline.FakePipeline) -> None:
    docs = [Document.objects.create(text=f"a{i}@b.io") for i in range(4)]
    tasks.extract_documents.apply(args=([d.pk for d in docs],))
    assert fake.batch_sizes == [4]
    assert Document.objects.filter(status="done").count() == 4


@pytest.mark.django_db
def test_the_sweep_task_returns_its_counts(fake: fake_pipeline.FakePipeline) -> None:
    assert tasks.sweep_stuck_documents.apply().get() == {"resent": 0, "failed": 0, "lost_jobs": 0}


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Fake training and evaluation modules that record what they were asked to run."""
    calls: list[tuple[str, int]] = []
    trainer = types.ModuleType("ner.training.trainer")
    evaluation = types.ModuleType("ner.evaluation.runs")

    def run_training_job(pk: int) -> None:
        calls.append(("train", pk))
        if ModelVersion.objects.get(pk=pk).notes == "explode":
            raise RuntimeError("out of memory")

    def run_evaluation_job(pk: int) -> None:
        calls.append(("evaluate", pk))
        raise FileNotFoundError("dev.conll")

    trainer.run_training_job = run_training_job  # type: ignore[attr-defined]
    evaluation.run_evaluation_job = run_evaluation_job  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ner.training.trainer", trainer)
    monkeypatch.setitem(sys.modules, "ner.evaluation.runs", evaluation)
    return calls


@pytest.mark.django_db
def test_train_model_runs_only_rows_waiting_for_training(jobs: list[tuple[str, int]]) -> None:
    waiting = ModelVersion.objects.create(name="t-1", status=ModelVersion.Status.TRAINING)
    ready = ModelVersion.objects.create(name="t-2", status=ModelVersion.Status.READY)
    tasks.train_model.apply(args=(waiting.pk,))
    tasks.train_model.apply(args=(ready.pk,))  # a duplicate message for a finished job
    assert jobs == [("train", waiting.pk)]


@pytest.mark.django_db
def test_a_crashing_training_job_leaves_a_failed_row(jobs: list[tuple[str, int]]) -> None:
    version = ModelVersion.objects.create(name="t-3", status=ModelVersion.Status.TRAINING, notes="explode")
    result = tasks.train_model.apply(args=(version.pk,))
    assert result.failed()
    version.refresh_from_db()
    assert version.status == "failed" and version.error == "RuntimeError: out of memory"


@pytest.mark.django_db
def test_a_crashing_evaluation_leaves_a_failed_row(jobs: list[tuple[str, int]]) -> None:
    run = EvaluationRun.objects.create(data_path="dev.conll", status=EvaluationRun.Status.QUEUED)
    tasks.evaluate_model.apply(args=(run.pk,))
    run.refresh_from_db()
    assert jobs == [("evaluate", run.pk)]
    assert run.status == "failed" and "dev.conll" in run.error


def test_transient_errors_cover_database_and_broker() -> None:
    from django.db import OperationalError
    from kombu.exceptions import OperationalError as KombuError
    from redis.exceptions import ConnectionError as RedisConnectionError

    for error in (OperationalError, KombuError, RedisConnectionError):
        assert issubclass(error, documents.TRANSIENT_ERRORS)
    assert not issubclass(ValueError, documents.TRANSIENT_ERRORS)


@pytest.mark.django_db
def test_the_sweep_fails_jobs_whose_worker_was_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    from billiard.exceptions import WorkerLostError
    from celery.result import AsyncResult

    states = {"lost": ("FAILURE", WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL)"))}

    monkeypatch.setattr(AsyncResult, "state", property(lambda r: states.get(r.id, ("PENDING", None))[0]))
    monkeypatch.setattr(AsyncResult, "result", property(lambda r: states.get(r.id, ("PENDING", None))[1]))
    lost = ModelVersion.objects.create(name="t-lost", status=ModelVersion.Status.TRAINING, task_id="lost")
    waiting = ModelVersion.objects.create(name="t-waiting", status=ModelVersion.Status.TRAINING, task_id="queued")
    threaded = ModelVersion.objects.create(name="t-thread", status=ModelVersion.Status.TRAINING, task_id="thread:1")
    run = EvaluationRun.objects.create(data_path="d.conll", status=EvaluationRun.Status.RUNNING, task_id="lost")
    assert jobs_module.fail_lost_jobs() == 2
    lost.refresh_from_db()
    run.refresh_from_db()
    assert lost.status == run.status == "failed"
    assert "SIGKILL" in lost.error
    assert ModelVersion.objects.get(pk=waiting.pk).status == "training"
    assert ModelVersion.objects.get(pk=threaded.pk).status == "training"

"""ner.extraction.documents: documents stored before their task, idempotent processing, batching, the stuck sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ner.extraction import documents
from ner.models import Document, Entity, InferenceLog
from tests import fake_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> fake_pipeline.FakePipeline:
    return fake_pipeline.install(monkeypatch)


def waiting(text: str, **fields: Any) -> Document:
    """A stored document whose task was never sent (as after a lost message)."""
    fields.setdefault("queued_at", timezone.now())
    fields.setdefault("status", Document.Status.QUEUED)
    return Document.objects.create(text=text, **fields)


def test_submit_stores_first_then_extracts_on_commit(
    fake: fake_pipeline.FakePipeline, django_capture_on_commit_callbacks: Callable
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        doc = documents.submit_document("Mail me at ann@example.com", source="chat", external_id="m-1")
        stored = Document.objects.get(pk=doc.pk)
        assert stored.status == Document.Status.QUEUED and stored.queued_at is not None
        assert fake.calls == []  # nothing is sent before the transaction commits
    assert len(callbacks) == 1
    callbacks[0]()
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE, doc.error
    assert doc.task_id and doc.attempts == 1 and doc.processed_at is not None
    assert [(e.label, e.text, e.source) for e in doc.entities.all()] == [("EMAIL", "ann@example.com", "pattern:email")]
    log = InferenceLog.objects.get()
    assert log.ok and log.kind == "extract" and log.n_chars == len(doc.text)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", None, "empty"),
        ("   \n", None, "empty"),
        ("x" * 100_001, None, "limit is 100000"),
        ("hi", {"colour": "red"}, "unknown option(s) colour"),
        ("hi", {"recognizers": ["patterns", "magic"]}, "unknown recognizer(s) magic"),
        ("hi", {"recognizers": []}, "non-empty list"),
        ("hi", {"recognizers": ["patterns"], "pipeline": "rules"}, "not both"),
        ("hi", {"pipeline": "fast"}, "must be one of"),
        ("hi", {"tagger_version": "nope"}, "no tagger model version named 'nope'"),
        ("hi", {"test_sleep": 999}, "unknown option(s) test_sleep"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(text: str, options: dict | None, message: str) -> None:
    with pytest.raises(documents.DocumentRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        documents.submit_document(text, options=options)
    assert not Document.objects.exists()


def test_fault_options_are_not_part_of_the_api() -> None:
    """Fault injection lives in the tests (tests/faults.py), never in what a client may send."""
    for option in ("test_sleep", "test_fail"):
        with pytest.raises(documents.DocumentRejected, match="unknown option") as refused:
            documents.validate_options({option: 1})
        assert refused.value.field == "options"


def test_processing_twice_neither_duplicates_nor_reruns(fake: fake_pipeline.FakePipeline) -> None:
    doc = waiting("a@x.io and b@y.io")
    documents.process_document(doc.pk, task_id="t1")
    documents.process_document(doc.pk, task_id="t1")  # the same message delivered again after it finished
    documents.process_document(doc.pk, task_id="t2")  # a duplicate message
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE and doc.attempts == 1
    assert doc.entities.count() == 2
    assert len(fake.calls) == 1


def test_a_redelivered_message_reclaims_its_unfinished_document(fake: fake_pipeline.FakePipeline) -> None:
    doc = waiting("c@z.io", status=Document.Status.PROCESSING, task_id="lost", attempts=1)
    Entity.objects.create(document=doc, start=0, end=6, label="EMAIL", text="c@z.io", source="pattern:email")
    assert documents.process_document(doc.pk, task_id="other") is not None
    doc.refresh_from_db()
    assert doc.status == Document.Status.PROCESSING, "another task's recent claim must be left alone"
    documents.process_document(doc.pk, task_id="lost")
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE and doc.attempts == 2
    assert doc.entities.count() == 1  # rewritten, not added again


def test_reviewed_entities_survive_reprocessing(fake: fake_pipeline.FakePipeline) -> None:
    doc = waiting("old@x.io new@y.io")
    Entity.objects.create(
        document=doc, start=0, end=8, label="EMAIL", text="old@x.io", source="pattern:email", review_status="rejected"
    )
    Entity.objects.create(document=doc, start=9, end=12, label="PER", text="new", source="spacy", score=0.4)
    documents.process_document(doc.pk)
    doc.refresh_from_db()
    rows = sorted((e.text, e.label, e.review_status) for e in doc.entities.all())
    # The reviewer's rejection stays and is not overridden; the pending guess is replaced.
    assert rows == [("new@y.io", "EMAIL", "pending"), ("old@x.io", "EMAIL", "rejected")]


def test_a_pipeline_error_fails_the_document_with_its_reason(fake: fake_pipeline.FakePipeline) -> None:
    fake.error = RuntimeError("model file missing")
    doc = waiting("hello")
    documents.process_document(doc.pk)
    doc.refresh_from_db()
    assert doc.status == Document.Status.FAILED
    assert doc.error == "RuntimeError: model file missing"
    log = InferenceLog.objects.get()
    assert not log.ok and "model file missing" in log.error


def test_transient_errors_propagate_for_a_retry(fake: fake_pipeline.FakePipeline) -> None:
    from django.db import OperationalError

    fake.error = OperationalError("server closed the connection")
    doc = waiting("hello")
    with pytest.raises(OperationalError):
        documents.process_document(doc.pk, task_id="t")
    doc.refresh_from_db()
    assert doc.status == Document.Status.PROCESSING and doc.task_id == "t"


def test_waiting_small_documents_are_drained_into_one_batch(fake: fake_pipeline.FakePipeline) -> None:
    docs = [waiting(f"user{i}@shop.com") for i in range(5)]
    other_options = waiting("z@z.io", options={"recognizers": ["patterns"]})
    too_long = waiting("q@q.io " + "x" * 3000)
    documents.process_document(docs[0].pk, task_id="t")
    assert fake.batch_sizes == [5]
    assert set(Document.objects.filter(status="done").values_list("pk", flat=True)) == {d.pk for d in docs}
    for other in (other_options, too_long):
        other.refresh_from_db()
        assert other.status == Document.Status.QUEUED
    # The drained documents' own tasks find them done and do nothing.
    documents.process_document(docs[3].pk, task_id="their-own")
    assert fake.batch_sizes == [5]


def test_batch_size_one_disables_draining(fake: fake_pipeline.FakePipeline, settings: Any) -> None:
    settings.NER_BATCH_SIZE = 1
    docs = [waiting(f"u{i}@s.com") for i in range(3)]
    documents.process_document(docs[0].pk)
    assert fake.batch_sizes == [1]


def test_one_bad_document_does_not_fail_its_batch(fake: fake_pipeline.FakePipeline) -> None:
    fake.fail_on = "poison"
    docs = [waiting("a@a.io"), waiting("poison b@b.io"), waiting("c@c.io")]
    done = documents.process_documents([d.pk for d in docs], task_id="bulk")
    assert [d.status for d in done] == ["done", "failed", "done"]
    assert "poison" in done[1].error
    assert fake.batch_sizes == [3, 1, 1, 1]


def test_submit_documents_sends_chunks(
    fake: fake_pipeline.FakePipeline, django_capture_on_commit_callbacks: Callable
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        docs = documents.submit_documents([f"n{i}@m.org" for i in range(5)], chunk_size=2)
    assert fake.batch_sizes == [2, 2, 1]
    assert Document.objects.filter(pk__in=[d.pk for d in docs], status="done").count() == 5
    assert Entity.objects.count() == 5


def test_a_document_out_of_attempts_fails_instead_of_looping(fake: fake_pipeline.FakePipeline) -> None:
    doc = waiting("x@y.io", status=Document.Status.PROCESSING, task_id="t", attempts=3)
    documents.process_document(doc.pk, task_id="t")
    doc.refresh_from_db()
    assert doc.status == Document.Status.FAILED
    assert doc.error.startswith("gave up after 3 attempts")
    assert fake.calls == []


def test_a_broker_failure_at_submit_keeps_the_document_queued(
    fake: fake_pipeline.FakePipeline, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable
) -> None:
    from kombu.exceptions import OperationalError

    from ner import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to redis")

    monkeypatch.setattr(tasks.extract_document, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        doc = documents.submit_document("keep@me.io")
    doc.refresh_from_db()
    assert doc.status == Document.Status.QUEUED
    monkeypatch.undo()
    fake_pipeline.install(monkeypatch)
    # Later, the sweep finds it and sends it again.
    Document.objects.filter(pk=doc.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert documents.sweep_stuck_documents() == {"resent": 1, "failed": 0}
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE and doc.entities.count() == 1


def test_sweep_resends_stuck_documents_and_fails_exhausted_ones(
    fake: fake_pipeline.FakePipeline, settings: Any
) -> None:
    settings.NER_BATCH_SIZE = 1  # keep the fresh document out of the resent ones' batches
    old = timezone.now() - timedelta(hours=1)
    stuck_queued = waiting("a@a.io", queued_at=old)
    stuck_processing = waiting("b@b.io", status=Document.Status.PROCESSING, task_id="dead", attempts=1)
    exhausted = waiting("c@c.io", status=Document.Status.PROCESSING, task_id="dead", attempts=3)
    fresh = waiting("d@d.io")
    Document.objects.filter(pk__in=[stuck_processing.pk, exhausted.pk]).update(updated_at=old)
    assert documents.sweep_stuck_documents() == {"resent": 2, "failed": 1}
    statuses = dict(Document.objects.values_list("pk", "status"))
    assert statuses[stuck_queued.pk] == statuses[stuck_processing.pk] == "done"
    assert statuses[exhausted.pk] == "failed"
    assert statuses[fresh.pk] == "queued"  # not stuck yet
    exhausted.refresh_from_db()
    assert "gave up after 3 attempts" in exhausted.error


def test_resubmit_runs_a_failed_document_again(
    fake: fake_pipeline.FakePipeline, django_capture_on_commit_callbacks: Callable
) -> None:
    doc = waiting("e@e.io", status=Document.Status.FAILED, error="boom", attempts=3)
    with django_capture_on_commit_callbacks(execute=True):
        documents.resubmit_document(doc.pk)
    doc.refresh_from_db()
    assert doc.status == Document.Status.DONE and doc.error == "" and doc.attempts == 1


def test_extract_text_logs_each_call(fake: fake_pipeline.FakePipeline) -> None:
    spans = documents.extract_text("write to f@g.com", recognizers=["patterns"])
    assert [s.text for s in spans] == ["f@g.com"]
    assert fake.calls[-1][1] == ("patterns",)
    fake.error = RuntimeError("down")
    with pytest.raises(RuntimeError):
        documents.extract_text("again")
    assert list(InferenceLog.objects.order_by("created_at", "pk").values_list("ok", flat=True)) == [True, False]
    with pytest.raises(documents.DocumentRejected):
        documents.extract_text("x", recognizers=["nope"])


def test_calls_are_attributed_to_the_tagger_version_that_ran(fake: fake_pipeline.FakePipeline) -> None:
    from ner.models import ModelVersion

    version = ModelVersion.objects.create(name="tagger-v7", status="ready", is_active=True)
    fake.tagger_version = "tagger-v7"  # it ran and found nothing
    doc = waiting("no entities here")
    documents.process_document(doc.pk)
    doc.refresh_from_db()
    assert doc.status == "done" and doc.model_version == version
    assert InferenceLog.objects.get().model_version == version
    fake.tagger_version = None
    documents.extract_text("plain", recognizers=["patterns"])
    assert InferenceLog.objects.filter(model_version__isnull=True).count() == 1

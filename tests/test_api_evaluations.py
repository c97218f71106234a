"""/api/v1/evaluations: list, detail, start one (202; the run is sent to ner.tasks.evaluate_model)."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ner.evaluation import runs
from ner.models import EvaluationRun, ModelVersion
from tests.api_support import API, clients, error_of  # noqa: F401

pytestmark = pytest.mark.django_db


def test_list_and_detail(clients: dict[str, Any]) -> None:
    run = EvaluationRun.objects.create(data_path="synthetic:10", pipeline="rules", micro_f1=0.5, metrics={"x": 1})
    EvaluationRun.objects.create(data_path="wnut16", pipeline="spacy", status="failed", error="boom")
    body = clients["reviewer"].get(f"{API}/evaluations?pipeline=rules").json()
    assert [r["id"] for r in body["results"]] == [run.pk]
    detail = clients["reviewer"].get(f"{API}/evaluations/{run.pk}").json()
    assert detail["micro_f1"] == 0.5 and detail["metrics"] == {"x": 1}
    assert clients["reviewer"].get(f"{API}/evaluations?status=failed").json()["results"][0]["error"] == "boom"


def test_start_sends_the_task_after_commit(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(runs, "launch_evaluation", sent.append)
    version = ModelVersion.objects.create(name="tagger-v1", status="ready")
    payload = {
        "data": "synthetic-heldout:30:7",
        "pipeline": "tagger",
        "labels": ["PER", "ORG"],
        "model_version": version.pk,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["admin"].post(f"{API}/evaluations", payload, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    run = EvaluationRun.objects.get(pk=body["id"])
    assert sent == [run.pk]
    assert (run.status, run.pipeline, run.labels, run.model_version) == ("queued", "tagger", ["PER", "ORG"], version)
    assert body["model_version"] == "tagger-v1" and body["data_path"] == "synthetic-heldout:30:7"


def test_send_with_a_broker_records_the_task_id(
    clients: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ner import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(
        tasks.evaluate_model, "apply_async", lambda args, task_id=None: SimpleNamespace(id=f"task-{args[0]}")
    )
    run = EvaluationRun.objects.create(data_path="synthetic:5", status="queued")
    runs.launch_evaluation(run.pk)
    run.refresh_from_db()
    assert run.task_id == f"task-{run.pk}"
    state = clients["reviewer"].get(f"{API}/tasks/{run.task_id}").json()
    assert state["kind"] == "evaluation" and state["state"] == "queued" and state["done"] is False


def test_send_failure_is_recorded_on_the_run(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ner import tasks

    def broken(args: Any, task_id: str | None = None) -> None:
        raise ConnectionError("broker unreachable")

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.evaluate_model, "apply_async", broken)
    run = EvaluationRun.objects.create(data_path="synthetic:5", status="queued")
    runs.launch_evaluation(run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "broker unreachable" in run.error


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "data"),
        ({"data": "/no/such.conll"}, "data"),
        ({"data": "notes.pdf"}, "data"),
        ({"data": "synthetic:10", "pipeline": "magic"}, "pipeline"),
        ({"data": "synthetic:10", "labels": ["PER", "ALIEN"]}, "labels"),
        ({"data": "synthetic:10", "model_version": 99999}, "model_version"),
        ({"data": "synthetic:10", "micro_f1": 1.0}, "micro_f1"),
    ],
)
def test_start_rejects_bad_input(clients: dict[str, Any], payload: dict[str, Any], field: str) -> None:
    response = clients["admin"].post(f"{API}/evaluations", payload, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert EvaluationRun.objects.count() == 0

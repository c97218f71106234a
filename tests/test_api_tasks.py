"""/api/v1/tasks/{id}: state from the object owning the task, else from Celery; 404 for unknown ids."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ner.models import Document, ModelVersion
from tests.api_support import API, clients, error_of  # noqa: F401

pytestmark = pytest.mark.django_db


def test_batch_of_documents(clients: dict[str, Any]) -> None:
    a = Document.objects.create(text="a", task_id="t-batch", status="done")
    b = Document.objects.create(text="b", task_id="t-batch", status="queued")
    state = clients["agent"].get(f"{API}/tasks/t-batch").json()
    assert state == {
        "task_id": "t-batch",
        "kind": "document",
        "state": "queued",
        "done": False,
        "progress": 0.5,
        "error": "",
        "object_url": f"{API}/documents/{a.pk}",
        "objects": [a.pk, b.pk],
    }
    Document.objects.filter(pk=b.pk).update(status="failed", error="text too long")
    state = clients["agent"].get(f"{API}/tasks/t-batch").json()
    assert (state["state"], state["done"], state["progress"], state["error"]) == ("failed", True, 1.0, "text too long")


def test_training_run(clients: dict[str, Any]) -> None:
    version = ModelVersion.objects.create(name="tagger-v4", task_id="t-train", progress=0.25)
    state = clients["reviewer"].get(f"{API}/tasks/t-train").json()
    assert (state["kind"], state["state"], state["progress"], state["done"]) == (
        "model_version",
        "training",
        0.25,
        False,
    )
    assert state["object_url"] == f"{API}/model-versions/{version.pk}"


def test_celery_state_when_no_object_owns_the_id(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    import celery.result

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(celery.result, "AsyncResult", lambda task_id: SimpleNamespace(state="SUCCESS", result=3))
    state = clients["agent"].get(f"{API}/tasks/some-celery-id").json()
    assert (state["kind"], state["state"], state["done"], state["object_url"]) == ("celery", "success", True, None)


def test_unknown_task_is_404(clients: dict[str, Any]) -> None:
    response = clients["agent"].get(f"{API}/tasks/never-sent")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert clients["agent"].get(f"{API}/tasks/{'x' * 65}").status_code == 404
    assert clients["agent"].get(f"{API}/tasks/a%00b").status_code == 404  # a NUL byte would break PostgreSQL

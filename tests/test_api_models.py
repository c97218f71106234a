"""/api/v1/model-versions: list, detail, start training, activate behind the F1 guard, roll back."""
# ruff: noqa: F811  (fixtures imported from tests.api_support are redefined as parameters)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ner.models import ModelActivation, ModelVersion
from tests.api_support import API, clients, error_of  # noqa: F401

pytestmark = pytest.mark.django_db


def _version(name: str, f1: float | None, status: str = "ready") -> ModelVersion:
    return ModelVersion.objects.create(name=name, status=status, metrics={} if f1 is None else {"f1": f1})


def test_list_and_detail(clients: dict[str, Any]) -> None:
    v1 = _version("tagger-v1", 0.8)
    _version("tagger-v2", None, status="training")
    body = clients["reviewer"].get(f"{API}/model-versions").json()
    assert [v["name"] for v in body["results"]] == ["tagger-v2", "tagger-v1"]
    assert clients["reviewer"].get(f"{API}/model-versions?status=ready").json()["count"] == 1
    detail = clients["reviewer"].get(f"{API}/model-versions/{v1.pk}").json()
    assert detail["dev_f1"] == 0.8 and detail["is_active"] is False and "path" not in detail


def test_activate_guard_force_and_rollback(clients: dict[str, Any]) -> None:
    admin = clients["admin"]
    good, worse = _version("tagger-v1", 0.8), _version("tagger-v2", 0.7)
    first = admin.post(f"{API}/model-versions/{good.pk}/activate", {}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["is_active"] is True

    refused = admin.post(f"{API}/model-versions/{worse.pk}/activate", {}, format="json")
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["code"] == "activation_refused" and "0.7000" in error["message"] and "0.8000" in error["message"]
    assert ModelVersion.objects.get(is_active=True) == good

    forced = admin.post(f"{API}/model-versions/{worse.pk}/activate", {"force": True}, format="json")
    assert forced.status_code == 200 and forced.json()["is_active"] is True
    assert ModelActivation.objects.filter(model_version=worse, forced=True).exists()

    back = admin.post(f"{API}/model-versions/rollback", {"kind": "tagger"}, format="json")
    assert back.status_code == 200 and back.json()["name"] == "tagger-v1"
    assert ModelVersion.objects.get(is_active=True) == good


def test_activate_refuses_unready_and_missing(clients: dict[str, Any]) -> None:
    training = _version("tagger-v3", None, status="training")
    response = clients["admin"].post(f"{API}/model-versions/{training.pk}/activate", {}, format="json")
    assert response.status_code == 409 and "training" in error_of(response)["message"]
    assert clients["admin"].post(f"{API}/model-versions/9999/activate", {}, format="json").status_code == 404


def test_rollback_with_nothing_to_roll_back_to(clients: dict[str, Any]) -> None:
    response = clients["admin"].post(f"{API}/model-versions/rollback", {}, format="json")
    assert response.status_code == 409 and error_of(response)["code"] == "rollback_refused"
    bad = clients["admin"].post(f"{API}/model-versions/rollback", {"kind": "oracle"}, format="json")
    assert bad.status_code == 400 and "kind" in error_of(bad)["fields"]


def test_start_training(clients: dict[str, Any], tmp_path: Path) -> None:
    corpus = tmp_path / "mine.conll"
    corpus.write_text("Ann B-PER\n")
    payload = {
        "train": ["synthetic:40:1", str(corpus)],
        "dev": "synthetic-heldout:20",
        "hyperparameters": {"epochs": 1},
    }
    response = clients["admin"].post(f"{API}/model-versions", payload, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "training" and body["kind"] == "tagger"
    version = ModelVersion.objects.get(pk=body["id"])
    assert version.hyperparameters["train"] == ["synthetic:40:1", str(corpus)]
    assert version.hyperparameters["dev"] == "synthetic-heldout:20" and version.hyperparameters["epochs"] == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "train"),
        ({"train": []}, "train"),
        ({"train": ["imagenet"]}, "train"),
        ({"train": ["/no/such/file.conll"]}, "train"),
        ({"train": ["synthetic:10"], "dev": "/etc/passwd"}, "dev"),
        ({"train": ["synthetic:10"], "hyperparameters": [1]}, "hyperparameters"),
        ({"train": ["synthetic:10"], "name": "mine"}, "name"),
    ],
)
def test_start_training_rejects_bad_input(clients: dict[str, Any], payload: dict[str, Any], field: str) -> None:
    response = clients["admin"].post(f"{API}/model-versions", payload, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert ModelVersion.objects.count() == 0

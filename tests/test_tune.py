"""Hyperparameter search: trials recorded, best by dev F1, budget respected, best saved as a version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ner.models import ModelVersion
from ner.training.trainer import TrainConfig
from ner.training.tune import tune
from tests.test_trainer import SENTENCES, write_conll
from tests.tiny_models import build_tiny_encoder

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # each trial fine-tunes a tiny model


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "encoder"))


@pytest.fixture(autouse=True)
def model_dir(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.MODEL_DIR = tmp_path / "models"  # type: ignore[attr-defined]
    return Path(settings.MODEL_DIR)  # type: ignore[attr-defined]


def test_grid_search_tries_every_point_and_keeps_the_best(tiny_encoder: str, tmp_path: Path) -> None:
    grid: dict[str, list[object]] = {
        "lr": [1e-4, 3e-3],
        "epochs": [1, 3],
        "dropout": [0.1],
        "weight_decay": [0.0],
        "batch_size": [4],
    }
    out = tmp_path / "trials.json"
    report, best_model = tune(
        SENTENCES * 4, SENTENCES, base=TrainConfig(base_model=tiny_encoder), sampler="grid", grid=grid, out=out
    )
    trials = report["trials"]
    assert len(trials) == 4
    assert {(t["params"]["lr"], t["params"]["epochs"]) for t in trials} == {(1e-4, 1), (1e-4, 3), (3e-3, 1), (3e-3, 3)}
    assert report["best"]["f1"] == max(t["f1"] for t in trials)
    assert best_model is not None
    assert json.loads(out.read_text())["best"] == report["best"]


def test_tpe_search_respects_the_budget(tiny_encoder: str) -> None:
    report, _ = tune(
        SENTENCES * 4,
        SENTENCES,
        base=TrainConfig(base_model=tiny_encoder),
        sampler="tpe",
        n_trials=50,
        max_seconds=3,
    )
    assert 1 <= len(report["trials"]) < 50
    assert all(1e-5 <= t["params"]["lr"] <= 3e-4 and 2 <= t["params"]["epochs"] <= 10 for t in report["trials"])


def test_tuning_needs_a_dev_set(tiny_encoder: str) -> None:
    with pytest.raises(ValueError, match="dev"):
        tune(SENTENCES, [], base=TrainConfig(base_model=tiny_encoder))


def test_tune_ner_command_saves_the_best_version(tiny_encoder: str, tmp_path: Path) -> None:
    corpus = write_conll(tmp_path / "train.conll", SENTENCES * 4)
    out = tmp_path / "tune.json"
    grid = json.dumps({"lr": [3e-3], "epochs": [1, 2], "batch_size": [4]})
    call_command(
        "tune_ner", "--train", str(corpus), "--dev", str(corpus), "--sampler", "grid", "--grid", grid,
        "--base-model", tiny_encoder, "--json", str(out), "--save-best",
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert len(report["trials"]) == 2
    row = ModelVersion.objects.get()
    assert row.status == ModelVersion.Status.READY and (row.folder / "model.safetensors").exists()
    assert row.hyperparameters["epochs"] == report["best"]["params"]["epochs"]
    with pytest.raises(CommandError, match="grid"):
        call_command("tune_ner", "--train", str(corpus), "--dev", str(corpus), "--grid", '{"momentum": [1]}')

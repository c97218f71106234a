"""Fine-tuning: the loss falls, a loadable version is written, nothing is ever overwritten."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ner.corpora.types import Sentence
from ner.extraction.recognizers.tagger import TaggerModel, TaggerRecognizer, clear_cache, get_tagger
from ner.models import ModelVersion
from ner.registry.versions import next_version_name
from ner.training.augment import augment, typo
from ner.training.trainer import (
    TrainConfig,
    TrainingError,
    clean_iob2,
    keep_layers,
    run_training_job,
    save_version,
    score,
    train,
    training_dtype,
)
from tests.tiny_models import build_tiny_encoder

pytestmark = pytest.mark.django_db

SENTENCES = [
    Sentence("Anna Smith flew to Paris with Acme .".split(), ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-ORG", "O"]),
    Sentence("please call Bob at Globex".split(), ["O", "O", "B-PER", "O", "B-ORG"]),
    Sentence("my order from Berlin never came".split(), ["O", "O", "O", "B-LOC", "O", "O"]),
]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "encoder"))


@pytest.fixture(autouse=True)
def model_dir(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    settings.MODEL_DIR = tmp_path / "models"  # type: ignore[attr-defined]
    return Path(settings.MODEL_DIR)  # type: ignore[attr-defined]


def config(base: str, **kwargs: object) -> TrainConfig:
    values: dict[str, object] = {
        "base_model": base,
        "epochs": 6,
        "lr": 3e-3,
        "batch_size": 4,
        "seed": 3,
        "precision": "fp32",  # the same arithmetic on every CPU (auto picks bf16 where the CPU has it)
    }
    values.update(kwargs)
    return TrainConfig(**values)  # type: ignore[arg-type]


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def write_conll(path: Path, sentences: list[Sentence]) -> Path:
    path.write_text(
        "".join("".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags, strict=True)) + "\n" for s in sentences)
    )
    return path


def test_training_lowers_the_loss_and_writes_a_loadable_version(tiny_encoder: str) -> None:
    progress: list[float] = []
    row = train(SENTENCES * 8, SENTENCES, config=config(tiny_encoder), progress=lambda f, _m: progress.append(f))
    assert row.status == ModelVersion.Status.READY and row.name == "tagger-v1"
    losses = [epoch["train_loss"] for epoch in row.metrics["history"]]
    assert losses[-1] < losses[0] * 0.7
    assert progress == sorted(progress) and progress[-1] == 1.0
    for name in ("model.safetensors", "tokenizer.json", "labels.json", "inference.json", "metrics.json", "data.json"):
        assert (row.folder / name).exists(), name
    assert row.labels == ["LOC", "ORG", "PER"] and row.metrics["training_precision"] == "fp32"
    assert row.data_fingerprints["train_sentences"] == 24 and len(row.data_fingerprints["train_sha256"]) == 64
    assert row.metrics["aggregation"] in ("first", "average", "max") and "f1" in row.metrics
    model = TaggerModel.load(row.folder, precision="fp32")
    assert model.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    [spans] = TaggerRecognizer.from_model(model, row.name).recognize(["Anna Smith flew to Paris with Acme."])
    assert all(s.source == "tagger:tagger-v1" for s in spans)


def test_bf16_training_also_learns_and_is_recorded(tiny_encoder: str) -> None:
    row = train(SENTENCES * 8, SENTENCES, config=config(tiny_encoder, precision="bf16"))
    losses = [epoch["train_loss"] for epoch in row.metrics["history"]]
    assert losses[-1] < losses[0] * 0.7
    assert row.hyperparameters["precision"] == "bf16" and row.metrics["training_precision"] == "bf16"
    from safetensors import safe_open

    with safe_open(str(row.folder / "model.safetensors"), framework="pt") as weights:
        dtypes = {str(weights.get_tensor(name).dtype) for name in weights.keys()}
    assert dtypes == {"torch.float32"}  # the weights stay fp32: only the step's matmuls ran in bf16


@pytest.mark.parametrize(
    ("device", "precision", "native_bf16", "expected"),
    [
        ("cpu", "auto", True, "bfloat16"),
        ("cpu", "auto", False, None),
        ("cpu", "fp32", True, None),
        ("cpu", "bf16", False, "bfloat16"),
        ("cuda", "fp32", True, None),
    ],
)
def test_training_dtype_follows_the_hardware(
    monkeypatch: pytest.MonkeyPatch, device: str, precision: str, native_bf16: bool, expected: str | None
) -> None:
    from ner import device as devices

    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda: native_bf16)
    dtype = training_dtype(device, precision)
    assert (dtype and str(dtype).removeprefix("torch.")) == expected
    with pytest.raises(TrainingError, match="unknown training precision"):
        training_dtype("cpu", "fp8")


def test_encoder_layers_train_a_smaller_model_that_loads(tiny_encoder: str) -> None:
    row = train(SENTENCES * 8, SENTENCES, config=config(tiny_encoder, encoder_layers=[1]))
    saved = json.loads((row.folder / "config.json").read_text())
    assert saved["num_hidden_layers"] == 1 and row.hyperparameters["encoder_layers"] == [1]
    model = TaggerModel.load(row.folder, precision="fp32")
    assert len(model.model.base_model.encoder.layer) == 1
    [spans] = TaggerRecognizer.from_model(model, row.name).recognize(["Anna Smith flew to Paris with Acme."])
    assert all(s.source == f"tagger:{row.name}" for s in spans)
    for bad in ([2], [1, 0], []):
        with pytest.raises(TrainingError, match="encoder_layers"):
            keep_layers(TaggerModel.load(row.folder, precision="fp32").model, bad)


def test_same_seed_gives_the_same_model(tiny_encoder: str) -> None:
    a = train(SENTENCES * 4, SENTENCES, config=config(tiny_encoder, epochs=2))
    b = train(SENTENCES * 4, SENTENCES, config=config(tiny_encoder, epochs=2))
    assert [h["train_loss"] for h in a.metrics["history"]] == [h["train_loss"] for h in b.metrics["history"]]
    assert (a.folder / "model.safetensors").read_bytes() == (b.folder / "model.safetensors").read_bytes()


def test_a_second_training_never_overwrites_the_first(tiny_encoder: str) -> None:
    first = train(SENTENCES * 2, None, config=config(tiny_encoder, epochs=1))
    before = folder_digest(first.folder)
    second = train(SENTENCES * 2, None, config=config(tiny_encoder, epochs=1, seed=4))
    assert second.name != first.name and second.folder != first.folder
    assert folder_digest(first.folder) == before
    assert next_version_name() == "tagger-v3"
    from ner.training.trainer import FitResult

    with pytest.raises(TrainingError, match="never overwritten"):
        save_version(FitResult(model=None, tokenizer=None, labels=[]), first.folder, {})
    assert folder_digest(first.folder) == before


def test_next_name_skips_folders_without_rows(tiny_encoder: str, model_dir: Path) -> None:
    (model_dir / "tagger-v9").mkdir(parents=True)
    row = train(SENTENCES, None, config=config(tiny_encoder, epochs=1))
    assert row.name == "tagger-v10"


def test_wall_clock_budget_stops_training(tiny_encoder: str) -> None:
    row = train(SENTENCES * 20, SENTENCES, config=config(tiny_encoder, epochs=50, max_seconds=0.01, batch_size=2))
    assert row.metrics["stopped"] == "budget" and row.metrics["epochs_run"] == 1


def test_bad_corpora_are_refused(tiny_encoder: str) -> None:
    with pytest.raises(TrainingError, match="empty"):
        train([], None, config=config(tiny_encoder))
    with pytest.raises(TrainingError, match="no entities"):
        train([Sentence(["hi"], ["O"])], None, config=config(tiny_encoder))
    assert ModelVersion.objects.filter(status=ModelVersion.Status.FAILED).count() == 2


def test_run_training_job_updates_the_row(tiny_encoder: str, tmp_path: Path) -> None:
    corpus = write_conll(tmp_path / "train.conll", SENTENCES * 4)
    row = ModelVersion.objects.create(
        name=next_version_name(),
        status=ModelVersion.Status.TRAINING,
        hyperparameters={"train": [str(corpus)], "dev": str(corpus), "base_model": tiny_encoder, "epochs": 2},
    )
    run_training_job(row.pk)
    row.refresh_from_db()
    assert row.status == ModelVersion.Status.READY, row.error
    assert row.progress == 1.0 and row.metrics["epochs_run"] == 2
    assert row.hyperparameters["train"] == [str(corpus)]
    run_training_job(row.pk)  # redelivered: nothing happens
    row.refresh_from_db()
    assert row.status == ModelVersion.Status.READY


def test_run_training_job_records_a_failure(tmp_path: Path) -> None:
    row = ModelVersion.objects.create(
        name="tagger-v1", status=ModelVersion.Status.TRAINING, hyperparameters={"train": [str(tmp_path / "nope.conll")]}
    )
    run_training_job(row.pk)
    row.refresh_from_db()
    assert row.status == ModelVersion.Status.FAILED and "nope.conll" in row.error


def test_train_ner_command_trains_and_activates(tiny_encoder: str, tmp_path: Path) -> None:
    corpus = write_conll(tmp_path / "train.conll", SENTENCES * 4)
    out = tmp_path / "metrics.json"
    call_command(
        "train_ner", "--train", str(corpus), "--dev", str(corpus), "--base-model", tiny_encoder,
        "--epochs", "1", "--activate", "--json", str(out),
    )  # fmt: skip
    row = ModelVersion.objects.get(is_active=True)
    assert out.exists() and row.status == ModelVersion.Status.READY
    clear_cache()
    tagger = get_tagger()
    assert tagger is not None and tagger.version_name == row.name
    clear_cache()


def test_train_ner_command_rejects_bad_input(tiny_encoder: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="nothing to train on"):
        call_command("train_ner")
    with pytest.raises(CommandError):
        call_command("train_ner", "--train", str(tmp_path / "missing.conll"))
    with pytest.raises(CommandError, match="epochs"):
        call_command("train_ner", "--train", "x.conll", "--epochs", "0")
    bad = tmp_path / "bad.conll"
    bad.write_text("hello O\nworld B-\n")
    with pytest.raises(CommandError, match=r"bad\.conll"):
        call_command("train_ner", "--train", str(bad), "--base-model", tiny_encoder)
    assert not ModelVersion.objects.exists()


def test_train_ner_command_keeps_the_encoder_layers_asked_for(tiny_encoder: str, tmp_path: Path) -> None:
    corpus = write_conll(tmp_path / "train.conll", SENTENCES * 4)
    common = ["--train", str(corpus), "--base-model", tiny_encoder, "--epochs", "1", "--precision", "fp32"]
    with pytest.raises(CommandError, match="comma-separated layer numbers"):
        call_command("train_ner", *common, "--encoder-layers", "0,two")
    with pytest.raises(CommandError, match="encoder_layers must be increasing indices below 2"):
        call_command("train_ner", *common, "--encoder-layers", "0,5")
    call_command("train_ner", *common, "--encoder-layers", "0")
    row = ModelVersion.objects.get(status=ModelVersion.Status.READY)
    assert json.loads((row.folder / "config.json").read_text())["num_hidden_layers"] == 1


def test_augmentation_keeps_tags_and_changes_words() -> None:
    rng = random.Random(1)
    sentences = [Sentence("Please ship to Springfield tomorrow".split(), ["O", "O", "O", "B-LOC", "O"])] * 50
    noisy = augment(sentences, rng, 1.0)
    assert all(s.tags == sentences[0].tags for s in noisy)
    assert any(s.tokens != sentences[0].tokens for s in noisy)
    assert typo("at", rng) == "at" and typo("1234", rng) == "1234"
    assert augment(sentences, rng, 0.0) is sentences


def test_scoring_is_strict_iob2() -> None:
    assert clean_iob2(["I-PER", "I-PER", "O", "I-LOC"]) == ["B-PER", "I-PER", "O", "B-LOC"]
    gold = [["B-PER", "I-PER", "O"]]
    assert score(gold, [["B-PER", "I-PER", "O"]])["f1"] == 1.0
    assert score(gold, [["B-PER", "O", "O"]])["f1"] == 0.0


def test_default_tagger_step_trains_once_then_reuses(
    tiny_encoder: str, settings: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ner.training import default_model

    said: list[str] = []
    settings.NER_DEFAULT_TRAIN_SECONDS = 0  # type: ignore[attr-defined]
    default_model.build_default_tagger(said.append)
    assert "no default tagger" in said[-1] and not ModelVersion.objects.exists()

    settings.NER_DEFAULT_TRAIN_SECONDS = 30  # type: ignore[attr-defined]
    monkeypatch.setattr("ner.training.trainer.load_specs", lambda specs: SENTENCES * 10)
    monkeypatch.setitem(default_model.DEFAULT_HYPERPARAMETERS, "base_model", tiny_encoder)
    monkeypatch.setitem(default_model.DEFAULT_HYPERPARAMETERS, "epochs", 1)
    default_model.build_default_tagger(said.append)
    row = ModelVersion.objects.get()
    assert row.is_active and row.hyperparameters["default"] is True
    assert row.labels == ["LOC", "ORG", "PER", "PRODUCT"]

    default_model.build_default_tagger(said.append)  # a later start reuses it
    assert "reusing" in said[-1] and ModelVersion.objects.count() == 1
    ModelVersion.objects.update(is_active=False)
    default_model.build_default_tagger(said.append)  # ready but inactive: activated, not retrained
    assert "activated" in said[-1] and ModelVersion.objects.get().is_active


def test_the_learning_rate_decays_to_zero_by_the_end_of_the_budget() -> None:
    from ner.training.trainer import BudgetHorizon

    horizon = BudgetHorizon(600, warmup_ratio=0.1, settle=0)  # 6 epochs of 100 steps planned
    assert horizon(0) == 0.0 and horizon(60) == 1.0 and horizon(600) == 0.0
    # 20 steps took 20 s and 180 s of the budget are left: 200 steps fit, so the decay ends there, not at 600.
    horizon.fit_budget(20, loop_elapsed=20.0, remaining=180.0)
    assert horizon.steps == 200
    assert horizon(199) < 0.01 and horizon(200) == 0.0
    # A faster pace later lets it grow again, never past the plan; it never ends before the next step.
    horizon.fit_budget(100, loop_elapsed=20.0, remaining=180.0)
    assert horizon.steps == 600
    horizon.fit_budget(50, loop_elapsed=500.0, remaining=-300.0)
    assert horizon.steps == 51
    # Loading before the loop is not the loop's pace: 10 quick steps after a slow start keep the plan
    # (counted from the start of training, 10 steps in 102 s would have cut it to 41 steps).
    fresh = BudgetHorizon(600, warmup_ratio=0.1, settle=0)
    fresh.fit_budget(10, loop_elapsed=2.0, remaining=318.0)
    assert fresh.steps == 600
    # The first steps' pace (the epoch's encoding, first kernel calls) is not trusted at all.
    settling = BudgetHorizon(600, warmup_ratio=0.1)
    settling.fit_budget(20, loop_elapsed=20.0, remaining=180.0)
    assert settling.steps == 600
    settling.fit_budget(50, loop_elapsed=50.0, remaining=150.0)
    assert settling.steps == 200

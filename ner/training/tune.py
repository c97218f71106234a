"""Hyperparameter search for the tagger with Optuna: a grid or TPE (Bayesian) over the training knobs.

Every trial trains in memory (``trainer.fit``) and is scored by dev F1 (seqeval,
strict IOB2).  After each trial the whole record (parameters, F1, seconds,
state) is rewritten to the JSON file, so an interrupted search keeps what it
measured.  The total budget bounds the search: no trial starts after it is
spent, and a running trial gets only the time that is left.  The best trial's
model can be stored as a new version without training it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ner.corpora.types import Sentence
from ner.training.trainer import FitResult, TrainConfig, fit

if TYPE_CHECKING:
    from ner.models import ModelVersion

logger = logging.getLogger(__name__)

SAMPLERS: tuple[str, ...] = ("tpe", "grid")
# TPE draws from these ranges.
SPACE: dict[str, Any] = {
    "lr": (1e-5, 3e-4),  # log scale
    "epochs": (2, 10),
    "dropout": (0.0, 0.3),
    "weight_decay": (0.0, 0.1),
    "batch_size": (8, 16, 32),
}
# The grid sampler tries every combination of these (8 trials).
DEFAULT_GRID: dict[str, list[Any]] = {
    "lr": [5e-5, 1.5e-4],
    "epochs": [4, 8],
    "dropout": [0.1],
    "weight_decay": [0.0, 0.01],
    "batch_size": [16],
}


def _suggest(trial: Any, grid: dict[str, list[Any]] | None) -> dict[str, Any]:
    if grid is not None:
        # With the grid sampler every suggest_* returns one of the grid's values.
        return {name: trial.suggest_categorical(name, values) for name, values in grid.items()}
    return {
        "lr": trial.suggest_float("lr", *SPACE["lr"], log=True),
        "epochs": trial.suggest_int("epochs", *SPACE["epochs"]),
        "dropout": trial.suggest_float("dropout", *SPACE["dropout"]),
        "weight_decay": trial.suggest_float("weight_decay", *SPACE["weight_decay"]),
        "batch_size": trial.suggest_categorical("batch_size", list(SPACE["batch_size"])),
    }


def tune(
    train: Sequence[Sentence],
    dev: Sequence[Sentence],
    *,
    base: TrainConfig,
    sampler: str = "tpe",
    n_trials: int = 20,
    max_seconds: float | None = None,
    grid: dict[str, list[Any]] | None = None,
    out: str | Path | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any], FitResult | None]:
    """Run the search; returns the report (trials, best) and the best trial's in-memory model."""
    import optuna

    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    if not dev:
        raise ValueError("tuning needs a dev set: trials are compared by dev F1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search_grid = (grid or DEFAULT_GRID) if sampler == "grid" else None
    chosen = (
        optuna.samplers.GridSampler(search_grid, seed=base.seed)
        if search_grid is not None
        else optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=min(5, max(1, n_trials // 3)))
    )
    if search_grid is not None:
        n_trials = min(n_trials, _grid_size(search_grid))
    study = optuna.create_study(direction="maximize", sampler=chosen)
    started = time.monotonic()
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] = {"f1": None}
    best_result: list[FitResult | None] = [None]
    report: dict[str, Any] = {
        "sampler": sampler,
        "space": search_grid if search_grid is not None else {k: list(v) for k, v in SPACE.items()},
        "base": base.as_dict(),
        "max_seconds": max_seconds,
        "train_sentences": len(train),
        "dev_sentences": len(dev),
        "trials": trials,
        "best": best,
    }

    def write() -> None:
        if out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(json.dumps(report, indent=1))

    def objective(trial: Any) -> float:
        params = _suggest(trial, search_grid)
        left = None if max_seconds is None else max(1.0, max_seconds - (time.monotonic() - started))
        if base.max_seconds is not None:
            left = base.max_seconds if left is None else min(base.max_seconds, left)
        config = replace(base, **params, max_seconds=left)
        t0 = time.monotonic()
        record: dict[str, Any] = {"number": trial.number, "params": params}
        try:
            result = fit(train, dev, config)
        except Exception as exc:
            record.update(state="failed", error=f"{type(exc).__name__}: {exc}", seconds=round(time.monotonic() - t0, 1))
            trials.append(record)
            write()
            raise
        f1 = float(result.metrics.get("f1", 0.0))
        record.update(
            state="complete",
            f1=f1,
            precision=result.metrics.get("precision"),
            recall=result.metrics.get("recall"),
            epochs_run=result.metrics.get("epochs_run"),
            stopped=result.metrics.get("stopped"),
            aggregation=result.aggregation,
            seconds=round(time.monotonic() - t0, 1),
        )
        trials.append(record)
        if best["f1"] is None or f1 > best["f1"]:
            best.clear()
            best.update({"number": trial.number, "f1": f1, "params": params})
            best_result[0] = result
        write()
        if on_trial:
            on_trial(record)
        return f1

    study.optimize(objective, n_trials=n_trials, timeout=max_seconds, catch=(RuntimeError, ValueError))
    report["seconds"] = round(time.monotonic() - started, 1)
    write()
    return report, best_result[0]


def _grid_size(grid: dict[str, list[Any]]) -> int:
    size = 1
    for values in grid.values():
        size *= max(1, len(values))
    return size


def save_best(result: FitResult, report: dict[str, Any], specs: dict[str, Any]) -> ModelVersion:
    """Store the best trial's model as a new READY version (next free ``tagger-vN``)."""
    from ner.registry import versions
    from ner.training.trainer import save_version

    hyper = {**report["base"], **report["best"]["params"], **specs, "tuned_by": report["sampler"]}
    row = versions.create_training_row(hyperparameters=hyper, base_model=report["base"].get("base_model", ""))
    try:
        save_version(result, row.folder, {"hyperparameters": hyper, "data": specs})
    except Exception as exc:
        versions.mark_failed(row.pk, f"{type(exc).__name__}: {exc}")
        raise
    return versions.mark_ready(
        row, labels=[t[2:] for t in result.labels if t != "O"], metrics=result.metrics, data_fingerprints=specs
    )

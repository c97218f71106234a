"""The one writer of ``ModelVersion`` rows: names, new training rows, ready and failed, starting a training job.

Activation and rollback (which flip ``is_active``) live in :mod:`ner.registry.activation`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from ner import jobs
from ner.models import ModelVersion

TRAIN_TASK = "ner.tasks.train_model"
VERSION_RE = re.compile(r"^tagger-v(\d+)$")
# Defaults shown in the registry page's training form (the trainer has its own for missing keys).
TRAINING_DEFAULTS: dict[str, Any] = {"epochs": 3, "lr": 5e-5, "batch_size": 16, "max_seconds": 600, "seed": 13}


class RegistryError(ValueError):
    """A registry action that cannot be done (unknown version, not ready, nothing to roll back to)."""


def model_dir() -> Path:
    return Path(settings.MODEL_DIR)


def next_version_name() -> str:
    """``tagger-vN`` with N above every existing version row and folder."""
    numbers = [0]
    for name in ModelVersion.objects.filter(name__startswith="tagger-v").values_list("name", flat=True):
        if match := VERSION_RE.match(name):
            numbers.append(int(match.group(1)))
    if model_dir().exists():
        for child in model_dir().iterdir():
            if match := VERSION_RE.match(child.name):
                numbers.append(int(match.group(1)))
    return f"tagger-v{max(numbers) + 1}"


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def create_training_row(*, hyperparameters: dict[str, Any], base_model: str = "", user: Any = None) -> ModelVersion:
    """A TRAINING tagger ``ModelVersion`` with the next free name (retries when another process took it)."""
    for _ in range(20):
        name = next_version_name()
        try:
            with transaction.atomic():
                return ModelVersion.objects.create(
                    kind=ModelVersion.Kind.TAGGER,
                    name=name,
                    path=str(model_dir() / name),
                    base_model=base_model,
                    status=ModelVersion.Status.TRAINING,
                    hyperparameters=hyperparameters,
                    progress=0.0,
                    created_by=_user(user),
                )
        except IntegrityError:
            continue
    raise RegistryError("could not reserve a version name")


def mark_ready(
    row: ModelVersion,
    *,
    labels: Sequence[str],
    metrics: dict[str, Any],
    data_fingerprints: dict[str, Any],
    hyperparameters: dict[str, Any] | None = None,
    base_model: str | None = None,
) -> ModelVersion:
    """Record a finished training run on its row (status READY, progress 1)."""
    row.status = ModelVersion.Status.READY
    row.labels = sorted(set(labels))
    row.metrics = metrics
    row.data_fingerprints = data_fingerprints
    if hyperparameters is not None:
        row.hyperparameters = hyperparameters
    if base_model is not None:
        row.base_model = base_model
    row.progress = 1.0
    row.error = ""
    row.save()
    return row


def mark_failed(version_id: int, error: str) -> int:
    """Fail a row that is still training, with the reason; returns the number of rows changed (0 or 1)."""
    return ModelVersion.objects.filter(pk=version_id, status=ModelVersion.Status.TRAINING).update(
        status=ModelVersion.Status.FAILED, error=error[:2000]
    )


def set_progress(version_id: int, fraction: float) -> None:
    ModelVersion.objects.filter(pk=version_id).update(progress=round(min(fraction, 1.0), 4))


# --- starting a training job ----------------------------------------------------------------


def start_training(
    *,
    user: Any,
    train_specs: Sequence[str],
    dev_spec: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    background: bool | None = None,
) -> ModelVersion:
    """Create the TRAINING ``ModelVersion`` row and start ``ner.tasks.train_model`` once committed.

    ``hyperparameters`` are passed to ``run_training_job`` as they are (``epochs``, ``lr``,
    ``batch_size``, ``max_seconds``, ``seed``, ``base_model``...), with ``train`` and ``dev``
    added.  ``background`` (default: when tasks run eagerly) runs the job in a thread.
    """
    specs = [s.strip() for s in train_specs if s and s.strip()]
    if not specs:
        raise RegistryError("give at least one training corpus")
    params = dict(hyperparameters or {})
    params["train"] = specs
    params["dev"] = dev_spec or None
    version = create_training_row(hyperparameters=params, base_model=str(params.get("base_model") or ""), user=user)
    transaction.on_commit(lambda: launch_training(version.pk, in_thread=background))
    return version


def launch_training(version_id: int, *, in_thread: bool | None = None) -> None:
    rows = ModelVersion.objects.filter(pk=version_id)
    jobs.launch(
        TRAIN_TASK,
        version_id,
        in_thread=in_thread,
        on_task_id=lambda task_id: rows.update(task_id=task_id),
        on_not_sent=lambda reason: mark_failed(version_id, reason),
    )


def start_training_from_review(
    *,
    user: Any,
    base_specs: Sequence[str],
    dev_spec: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    include_reviewed: bool = True,
    background: bool | None = None,
) -> ModelVersion:
    """Export the reviewed documents to a new file under ``DATA_DIR/exports`` and train on it plus ``base_specs``."""
    specs = list(base_specs)
    params = dict(hyperparameters or {})
    if include_reviewed:
        from ner.review.export import export_to_data_dir

        exported = export_to_data_dir("jsonl")
        specs.append(str(exported.path))
        params["reviewed_documents"] = exported.documents
    return start_training(
        user=user, train_specs=specs, dev_spec=dev_spec, hyperparameters=params, background=background
    )

"""The model registry: start training runs, activate a version behind an F1 guard, roll back.

Activation guard: a candidate tagger becomes active only when its micro F1 on the chosen
evaluation set is not worse than the active version's on the same set (both are
evaluated with the ``tagger`` pipeline and stored as ``EvaluationRun`` rows; an earlier
run on the same data fingerprint is reused).  Without an evaluation set the dev-set F1
recorded by training is compared.  ``force=True`` overrides a refusal, and the override
is written to the activation history (``ModelActivation``), which rollback walks back.

Training in eager mode (no broker): the run goes to a background thread of the web
process so the request returns at once and the registry page can poll its progress.
With a broker it is a Celery task on the ``train`` queue.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from ner.models import EvaluationRun, ModelActivation, ModelVersion

logger = logging.getLogger(__name__)

EVAL_PIPELINE = "tagger"
NO_ACTIVE = "no active version"
# Defaults shown in the registry page's training form (the trainer has its own for missing keys).
TRAINING_DEFAULTS: dict[str, Any] = {"epochs": 3, "lr": 5e-5, "batch_size": 16, "max_seconds": 600, "seed": 13}
_NAME = re.compile(r"^tagger-v(\d+)$")


class RegistryError(ValueError):
    """A registry action that cannot be done (unknown version, not ready, nothing to roll back to)."""


class ActivationRefused(RegistryError):
    """The candidate scores worse than the active version; ``force=True`` overrides."""


@dataclass(frozen=True, slots=True)
class Comparison:
    candidate_f1: float | None
    active_f1: float | None
    basis: str  # "eval:<spec>" or "dev"

    @property
    def allowed(self) -> bool:
        if self.active_f1 is None:
            return True
        if self.candidate_f1 is None:
            return False
        return self.candidate_f1 + 1e-9 >= self.active_f1

    def describe(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.4f}"

        if self.active_f1 is None and self.candidate_f1 is None and self.basis == NO_ACTIVE:
            return "no active version to compare with"
        return f"F1 on {self.basis}: candidate {fmt(self.candidate_f1)}, active {fmt(self.active_f1)}"


# --- Evaluation ------------------------------------------------------------------------------


def report_f1(report: dict[str, Any] | None) -> float | None:
    """The micro F1 (strict IOB2 mode where the report has both modes) of an evaluation report."""
    if not isinstance(report, dict):
        return None
    for path in (("strict", "micro", "f1"), ("micro", "f1"), ("micro_f1",), ("f1",)):
        node: Any = report
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)):
            return float(node)
    return None


def evaluate_version(version: ModelVersion, eval_data: str, *, user: Any = None) -> EvaluationRun:
    """Score ``version`` with the tagger pipeline on a corpus spec (reusing a finished run on the same data)."""
    from ner.evaluation import evaluate_pipeline, save_evaluation_run
    from ner.training.corpora import fingerprint, load_corpus

    sentences = load_corpus(eval_data)
    earlier = EvaluationRun.objects.filter(
        model_version=version,
        pipeline=EVAL_PIPELINE,
        data_fingerprint=fingerprint(sentences),
        status=EvaluationRun.Status.DONE,
        micro_f1__isnull=False,
    ).first()
    if earlier is not None:
        return earlier
    report = evaluate_pipeline(sentences, pipeline=EVAL_PIPELINE, tagger_version=version.name)
    report.setdefault("model_version", version.name)
    run = save_evaluation_run(
        report, data_path=eval_data, user=user if getattr(user, "is_authenticated", False) else None
    )
    if run.model_version_id != version.pk:  # the report names the version; make sure the row says it too
        run.model_version = version
        run.save(update_fields=["model_version"])
    return run


def compare(
    candidate: ModelVersion, active: ModelVersion | None, eval_data: str | None, *, user: Any = None
) -> Comparison:
    if active is None:
        return Comparison(None, None, NO_ACTIVE)
    if eval_data:
        cand = evaluate_version(candidate, eval_data, user=user).micro_f1
        act = evaluate_version(active, eval_data, user=user).micro_f1
        return Comparison(cand, act, f"eval:{eval_data}")
    return Comparison(candidate.dev_f1, active.dev_f1, "dev")


# --- Activation and rollback --------------------------------------------------------------


def active_version(kind: str = ModelVersion.Kind.TAGGER) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, is_active=True).first()


def _get(version_id: int) -> ModelVersion:
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        raise RegistryError(f"model version {version_id} does not exist")
    return version


def _switch(version: ModelVersion, previous: ModelVersion | None) -> None:
    with transaction.atomic():
        ModelVersion.objects.filter(kind=version.kind, is_active=True).exclude(pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=timezone.now())
    version.refresh_from_db()


def activate(version_id: int, *, user: Any = None, force: bool = False, eval_data: str | None = None) -> ModelVersion:
    """Make a READY version the active one of its kind, if it is not worse than the active one.

    Raises ``ActivationRefused`` (with both F1 figures in the message) unless ``force``.
    """
    version = _get(version_id)
    if version.status != ModelVersion.Status.READY:
        raise RegistryError(f"{version.name} is {version.status}, only a ready version can be activated")
    current = active_version(version.kind)
    if current is not None and current.pk == version.pk:
        return version
    comparison = compare(version, current, eval_data, user=user) if version.kind == ModelVersion.Kind.TAGGER else None
    reason = comparison.describe() if comparison else "no F1 guard for this kind"
    if comparison is not None and not comparison.allowed:
        if not force:
            raise ActivationRefused(f"{version.name} is worse than the active {current}: {reason}")
        reason += " (override)"
    _switch(version, current)
    ModelActivation.objects.create(
        model_version=version,
        previous=current,
        kind=version.kind,
        user=user if getattr(user, "is_authenticated", False) else None,
        forced=force and comparison is not None and not comparison.allowed,
        reason=reason,
    )
    logger.info("activated %s (%s)", version.name, reason)
    return version


def rollback(kind: str = "tagger", *, user: Any = None) -> ModelVersion:
    """Re-activate the version that was active before the current one; repeated calls go further back."""
    current = active_version(kind)
    if current is None:
        raise RegistryError(f"no active {kind} version to roll back from")
    stack = ModelActivation.objects.filter(kind=kind, is_rollback=False, rolled_back=False).order_by(
        "-created_at", "-pk"
    )
    top = stack.first()
    target: ModelVersion | None
    if top is not None and top.model_version_id == current.pk:
        target = top.previous
    else:  # activated outside the registry (admin, shell): fall back to the most recently activated other version
        target = (
            ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.READY, activated_at__isnull=False)
            .exclude(pk=current.pk)
            .order_by("-activated_at")
            .first()
        )
    if target is None:
        raise RegistryError(f"{current.name} has no earlier active version to roll back to")
    if target.status != ModelVersion.Status.READY:
        raise RegistryError(f"cannot roll back to {target.name}: it is {target.status}")
    if top is not None and top.model_version_id == current.pk:
        ModelActivation.objects.filter(pk=top.pk).update(rolled_back=True)
    _switch(target, current)
    ModelActivation.objects.create(
        model_version=target,
        previous=current,
        kind=kind,
        user=user if getattr(user, "is_authenticated", False) else None,
        is_rollback=True,
        reason=f"rollback from {current.name}",
    )
    return target


# --- Training ----------------------------------------------------------------------------------


def next_version_name() -> str:
    numbers = [int(m.group(1)) for n in ModelVersion.objects.values_list("name", flat=True) if (m := _NAME.match(n))]
    n = max(numbers, default=0) + 1
    while (Path(settings.MODEL_DIR) / f"tagger-v{n}").exists():
        n += 1
    return f"tagger-v{n}"


def start_training(
    *,
    user: Any,
    train_specs: Sequence[str],
    dev_spec: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    background: bool | None = None,
) -> ModelVersion:
    """Create the TRAINING ``ModelVersion`` row and send ``ner.tasks.train_model`` once committed.

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
    version = ModelVersion.objects.create(
        kind=ModelVersion.Kind.TAGGER,
        name=next_version_name(),
        status=ModelVersion.Status.TRAINING,
        base_model=str(params.get("base_model") or ""),
        hyperparameters=params,
        progress=0.0,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    run_in_thread = settings.CELERY_TASK_ALWAYS_EAGER if background is None else background
    transaction.on_commit(lambda: _send_training(version.pk, run_in_thread))
    return version


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
        from ner.export import export_to_data_dir

        exported = export_to_data_dir("jsonl")
        specs.append(str(exported.path))
        params["reviewed_documents"] = exported.documents
    return start_training(
        user=user, train_specs=specs, dev_spec=dev_spec, hyperparameters=params, background=background
    )


def _send_training(version_id: int, in_thread: bool) -> None:
    if in_thread:
        thread = threading.Thread(
            target=_run_training_here, args=(version_id,), name=f"train-{version_id}", daemon=True
        )
        thread.start()
        return
    try:
        from ner.tasks import train_model
    except ImportError:
        _fail(version_id, "the training task (ner.tasks.train_model) is not installed")
        return
    result = train_model.delay(version_id)
    ModelVersion.objects.filter(pk=version_id).update(task_id=str(result.id or ""))


def _run_training_here(version_id: int) -> None:
    close_old_connections()
    try:
        from ner.training.trainer import run_training_job

        ModelVersion.objects.filter(pk=version_id).update(task_id=f"thread:{threading.get_ident()}")
        run_training_job(version_id)
    except Exception as exc:
        logger.exception("training run %s failed", version_id)
        _fail(version_id, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _fail(version_id: int, error: str) -> None:
    ModelVersion.objects.filter(pk=version_id, status=ModelVersion.Status.TRAINING).update(
        status=ModelVersion.Status.FAILED, error=error[:2000]
    )

"""Activate a model version behind an F1 guard, and roll back.

Activation guard: a candidate tagger becomes active only when its micro F1 on the chosen
evaluation set is not worse than the active version's on the same set (both are
evaluated with the ``tagger`` pipeline and stored as ``EvaluationRun`` rows; an earlier
run on the same data fingerprint is reused).  Without an evaluation set the dev-set F1
recorded by training is compared, but only when both versions were scored on the same dev
set (equal ``dev_sha256`` fingerprints, or neither recorded); otherwise the figures measure
different data, and activation is refused with a message saying so.  ``force=True``
overrides a refusal, and the override is written to the activation history
(``ModelActivation``), which rollback walks back.

New versions are created and trained through :mod:`ner.registry.versions`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ner.evaluation.runs import evaluate_version
from ner.models import ModelActivation, ModelVersion
from ner.registry.versions import RegistryError

logger = logging.getLogger(__name__)

EVAL_PIPELINE = "tagger"
NO_ACTIVE = "no active version"


class ActivationRefused(RegistryError):
    """The candidate scores worse than the active version; ``force=True`` overrides."""


@dataclass(frozen=True, slots=True)
class Comparison:
    candidate_f1: float | None
    active_f1: float | None
    basis: str  # "eval:<spec>", "dev" or NO_ACTIVE
    # False when the two figures were measured on different dev sets: no comparison is possible.
    comparable: bool = True
    dev_sets: tuple[str, str] = ("", "")  # (candidate, active) dev fingerprints when not comparable

    @property
    def allowed(self) -> bool:
        if self.basis == NO_ACTIVE:
            return True
        if not self.comparable:
            return False
        if self.active_f1 is None:
            return True
        if self.candidate_f1 is None:
            return False
        return self.candidate_f1 + 1e-9 >= self.active_f1

    def describe(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.4f}"

        if self.basis == NO_ACTIVE:
            return "no active version to compare with"
        if not self.comparable:
            cand, act = (f[:12] or "not recorded" for f in self.dev_sets)
            return (
                f"dev F1 not compared: the versions were scored on different dev sets (candidate {cand}: "
                f"{fmt(self.candidate_f1)}, active {act}: {fmt(self.active_f1)}); name an evaluation set "
                "to compare both on the same data"
            )
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


def compare(
    candidate: ModelVersion, active: ModelVersion | None, eval_data: str | None, *, user: Any = None
) -> Comparison:
    if active is None:
        return Comparison(None, None, NO_ACTIVE)
    if eval_data:
        cand = evaluate_version(candidate, eval_data, pipeline=EVAL_PIPELINE, user=user).micro_f1
        act = evaluate_version(active, eval_data, pipeline=EVAL_PIPELINE, user=user).micro_f1
        return Comparison(cand, act, f"eval:{eval_data}")
    if candidate.dev_fingerprint != active.dev_fingerprint:
        return Comparison(
            candidate.dev_f1,
            active.dev_f1,
            "dev",
            comparable=False,
            dev_sets=(candidate.dev_fingerprint, active.dev_fingerprint),
        )
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
            verdict = "is worse than" if comparison.comparable else "cannot be compared with"
            raise ActivationRefused(f"{version.name} {verdict} the active {current}: {reason}")
        reason += " (override)"
    if version.kind == ModelVersion.Kind.TAGGER:
        _prepare_fast_path(version)
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


def _prepare_fast_path(version: ModelVersion) -> None:
    """Export the tagger to ONNX now, so workers load it without exporting; a failure only costs speed."""
    from ner.extraction.recognizers import tagger_onnx

    if not tagger_onnx.available() or not (version.folder / "labels.json").exists():
        return
    try:
        tagger_onnx.prepare(version.folder)
    except Exception:
        logger.warning("could not export %s to ONNX; workers will run it on torch", version.name, exc_info=True)


def _rollback_plan(kind: str) -> tuple[ModelVersion | None, ModelActivation | None, ModelVersion | None]:
    """(current active version, its activation on the stack if it is on top, the version rollback restores)."""
    current = active_version(kind)
    if current is None:
        return None, None, None
    stack = ModelActivation.objects.filter(kind=kind, is_rollback=False, rolled_back=False).order_by(
        "-created_at", "-pk"
    )
    top = stack.first()
    target: ModelVersion | None
    if top is not None and top.model_version_id == current.pk:
        target = top.previous
    else:  # activated outside the registry (admin, shell): fall back to the most recently activated other version
        top = None
        target = (
            ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.READY, activated_at__isnull=False)
            .exclude(pk=current.pk)
            .order_by("-activated_at")
            .first()
        )
    return current, top, target


def rollback_target(kind: str = "tagger") -> ModelVersion | None:
    """The READY version ``rollback(kind)`` would re-activate, or None when there is nothing to roll back to."""
    _current, _top, target = _rollback_plan(kind)
    return target if target is not None and target.status == ModelVersion.Status.READY else None


def rollback(kind: str = "tagger", *, user: Any = None) -> ModelVersion:
    """Re-activate the version that was active before the current one; repeated calls go further back."""
    current, top, target = _rollback_plan(kind)
    if current is None:
        raise RegistryError(f"no active {kind} version to roll back from")
    if target is None:
        raise RegistryError(f"{current.name} has no earlier active version to roll back to")
    if target.status != ModelVersion.Status.READY:
        raise RegistryError(f"cannot roll back to {target.name}: it is {target.status}")
    if top is not None:
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

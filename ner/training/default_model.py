"""The set-up step that builds and activates the default tagger, once.

``make run`` calls it on every start: when an active READY tagger exists it is
reused; when a READY default version exists but nothing is active it is
activated; otherwise a new version is trained on the synthetic customer-service
corpus plus WNUT-16 (10% held out for early stopping), limited to the general
labels (the pattern recognizers own the structured ones), within
``NER_DEFAULT_TRAIN_SECONDS`` of training-loop time (0 skips the step).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from ner.labels import GENERAL_LABELS

DEFAULT_SPECS: tuple[str, ...] = ("synthetic:2000:13", "wnut16")
DEFAULT_HYPERPARAMETERS: dict[str, float | int] = {
    "epochs": 4,  # 4 beat 5-6 on WNUT-17 and synthetic dev, tied on UNER (docs/benchmarks/tagger.md)
    "lr": 1e-4,
    "batch_size": 16,
    "weight_decay": 0.01,
    "dropout": 0.1,
    "augment": 0.1,
    "seed": 13,
}


def build_default_tagger(say: Callable[[str], None]) -> None:
    """Default tagger: reuse the active one, or train it on synthetic + WNUT-16 and activate it."""
    from ner.models import ModelVersion
    from ner.training.trainer import TrainConfig, activate, load_specs, train

    taggers = ModelVersion.objects.filter(kind=ModelVersion.Kind.TAGGER, status=ModelVersion.Status.READY)
    active = taggers.filter(is_active=True).first()
    if active is not None and active.folder.is_dir():
        say(f"  reusing the active tagger {active.name} (dev F1 {active.dev_f1})")
        return
    ready = [
        row for row in taggers.order_by("-created_at") if row.hyperparameters.get("default") and row.folder.is_dir()
    ]
    if ready:
        activate(ready[0])
        say(f"  activated the existing default tagger {ready[0].name}")
        return
    budget = int(getattr(settings, "NER_DEFAULT_TRAIN_SECONDS", 420))
    if budget <= 0:
        say("  NER_DEFAULT_TRAIN_SECONDS=0: no default tagger built (the pipeline runs without the tagger)")
        return
    say(f"  training the default tagger on {' + '.join(DEFAULT_SPECS)} (budget {budget} s on this machine)...")
    sentences = load_specs(DEFAULT_SPECS)
    config = TrainConfig(labels=list(GENERAL_LABELS), max_seconds=budget, **DEFAULT_HYPERPARAMETERS)  # type: ignore[arg-type]
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if percent // 10 > last[0]:
            last[0] = percent // 10
            say(f"  {percent:3d}% {message}")

    row = train(
        sentences, None, config=config, progress=progress, specs={"train": list(DEFAULT_SPECS), "default": True}
    )
    activate(row)
    say(f"  {row.name} is active: held-out F1 {row.dev_f1} ({row.metrics.get('stopped')}, {row.folder})")

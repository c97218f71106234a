from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from nlpapp.bootstrap import run_steps


class Command(BaseCommand):
    help = "Set up users, demo data and default models (idempotent; `make run` calls it on every start)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", nargs="*", help="Run only these steps (function names).")

    def handle(self, *args: Any, **options: Any) -> None:
        run_steps(self.stdout.write, options.get("only"))
        self.stdout.write(self.style.SUCCESS("Set-up complete."))

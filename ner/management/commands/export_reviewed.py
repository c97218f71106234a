"""``python manage.py export_reviewed --format conll|jsonl --out PATH``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ner.review.export import FORMATS, ExportError, export_reviewed


class Command(BaseCommand):
    help = "Export reviewed documents (accepted, corrected and added entities) as CoNLL or JSONL for train_ner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="jsonl", help="output format (default jsonl)")
        parser.add_argument("--out", required=True, help="file to write (its folder is created)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = export_reviewed(options["out"], fmt=options["format"])
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"wrote {result.documents} documents with {result.entities} entities to {result.path} ({result.format})"
            )
        )

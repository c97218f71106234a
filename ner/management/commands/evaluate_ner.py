"""Score an extraction pipeline on a CoNLL or JSONL file (see docs/commands.md, "evaluate_ner")."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

PIPELINE_CHOICES = ["tagger", "rules", "spacy", "merged"]


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Evaluate a pipeline on a tagged file: strict IOB2 and conlleval micro/macro P/R/F1, per-type scores, "
        "confusion between types, throughput.  Stores an EvaluationRun per pipeline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data",
            required=True,
            help="a .conll/.txt or .jsonl file, or a corpus spec (wnut16, synthetic-heldout:N[:SEED], SCHEME:PATH)",
        )
        parser.add_argument("--format", choices=["conll", "jsonl"], help="file format (default: from the suffix)")
        parser.add_argument("--pipeline", choices=PIPELINE_CHOICES, default="merged")
        parser.add_argument("--model-version", help="tagger ModelVersion name or id (default: the active one)")
        parser.add_argument(
            "--labels", type=_names, help="comma-separated labels to score (default: those in the data)"
        )
        parser.add_argument("--json", dest="json_out", help="write the JSON report here")
        parser.add_argument(
            "--compare", type=_names, help="comma-separated pipelines to run on the same data (replaces --pipeline)"
        )
        parser.add_argument("--scheme", help="map the data's types to ours (spacy, conll, uner, wnut16, wnut17, ...)")
        parser.add_argument("--limit", type=int, help="score only the first N sentences")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--no-save", action="store_true", help="do not store EvaluationRun rows")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        from tqdm import tqdm

        from ner.corpora.conll import CorpusError, ReadStats
        from ner.corpora.specs import load_examples
        from ner.evaluation.report import format_comparison, format_report
        from ner.evaluation.runs import save_evaluation_run
        from ner.evaluation.scoring import EvaluationError, evaluate_pipeline, gold_labels
        from ner.labels import ALL_LABELS, SCHEMES

        pipelines = options["compare"] or [options["pipeline"]]
        unknown = [p for p in pipelines if p not in PIPELINE_CHOICES]
        if unknown:
            raise CommandError(f"unknown pipeline(s) {', '.join(unknown)}; use {', '.join(PIPELINE_CHOICES)}")
        scheme = options["scheme"]
        if scheme and scheme not in SCHEMES:
            raise CommandError(f"unknown --scheme {scheme!r}; known: {', '.join(SCHEMES)}")
        if options["batch_size"] < 1 or (options["limit"] is not None and options["limit"] < 1):
            raise CommandError("--batch-size and --limit must be at least 1")
        labels = options["labels"]
        if labels:
            bad = [label for label in labels if label not in ALL_LABELS]
            if bad:
                raise CommandError(f"unknown label(s) {', '.join(bad)}; ours are {', '.join(ALL_LABELS)}")

        version = options["model_version"]
        if version and version.isascii() and version.isdigit() and len(version) <= 18:
            from ner.models import ModelVersion

            # A bare number is a ModelVersion id unless a version has that name.
            if not ModelVersion.objects.filter(name=version).exists():
                row = ModelVersion.objects.filter(pk=int(version)).first()
                if row is None:
                    raise CommandError(f"no model version named or numbered {version}")
                version = row.name

        data = options["data"]
        stats = ReadStats()
        try:
            sentences = load_examples(data, fmt=options["format"], scheme=scheme, stats=stats)
        except (CorpusError, KeyError) as exc:
            raise CommandError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from exc
        if options["limit"]:
            sentences = sentences[: options["limit"]]
        self._say_read(data, sentences, stats)
        foreign = [label for label in gold_labels(sentences) if label not in ALL_LABELS]
        if foreign and not labels:
            self.stderr.write(
                f"warning: the data's types {', '.join(foreign)} are not ours and no pipeline predicts them; "
                "pass --scheme (e.g. --scheme wnut17) to map them"
            )

        reports: list[dict[str, Any]] = []
        for pipeline in pipelines:
            started = time.perf_counter()
            with tqdm(total=len(sentences), desc=pipeline, unit="sent", disable=options["no_progress"]) as bar:

                def progress(done: int, total: int, bar: Any = bar) -> None:
                    bar.update(done - bar.n)

                try:
                    report = evaluate_pipeline(
                        sentences,
                        pipeline=pipeline,
                        labels=labels,
                        tagger_version=version,
                        batch_size=options["batch_size"],
                        progress=progress,
                    )
                except ImportError as exc:
                    raise CommandError(f"cannot run the {pipeline} pipeline: {exc}") from exc
                except EvaluationError as exc:
                    raise CommandError(str(exc)) from exc
            report["data"].update(
                {"path": data, "format": options["format"], "scheme": scheme, "read": stats.as_dict()}
            )
            reports.append(report)
            self.stdout.write("")
            self.stdout.write(format_report(report))
            if not options["no_save"]:
                run = save_evaluation_run(report, data_path=data, duration_s=time.perf_counter() - started)
                self.stdout.write(f"stored EvaluationRun #{run.pk}")

        if len(reports) > 1:
            self.stdout.write("")
            self.stdout.write(format_comparison(reports))
        if options["json_out"]:
            out = Path(options["json_out"])
            payload: dict[str, Any] = reports[0] if len(reports) == 1 else {"schema": 1, "runs": reports}
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {out}")

    def _say_read(self, data: str, sentences: list[Any], stats: Any) -> None:
        if sentences and not hasattr(sentences[0], "tokens"):
            parts = [f"read {len(sentences)} texts with {sum(len(e.spans) for e in sentences)} entities from {data}"]
        else:
            parts = [f"read {len(sentences)} sentences, {sum(len(s.tokens) for s in sentences)} tokens from {data}"]
        if stats.repaired:
            parts.append(f"{stats.repaired} stray I- tags repaired to B-")
        if stats.dropped:
            parts.append(f"{stats.dropped} entities of unmapped types read as O")
        parts.extend(f"{key.replace('_', ' ')} {value}" for key, value in sorted(stats.notes.items()))
        self.stdout.write("; ".join(parts))

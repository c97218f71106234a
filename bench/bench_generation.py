"""Reply model benchmark: speed (time to first token, tokens/s) and grounding on a small evaluation set.

    .venv/bin/python bench/bench_generation.py speed        # fp32/bf16 x 1/2 torch threads -> generation_speed.json
    .venv/bin/python bench/bench_generation.py grounding    # grounding_eval.jsonl -> generation_grounding.json

The model is the converted SmolLM2-135M-Instruct folder (``--model-dir``; made from the
packaged GGUF when missing).  Grounding scores each reply for the identifiers it must
repeat (``ids``), the policy facts it should state (``facts``, found only in the
retrieved canned responses / articles), and identifiers it invented (the guard's
check, run on the raw reply); ``grounded`` = all ids present and none invented.
Conditions: no retrieval, retrieval (top 3 of the demo canned responses + articles
by MiniLM similarity), and retrieval without the fact-based reply opener.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_MODEL_DIR = ROOT / "var" / "models" / "smollm2-135m-instruct"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-generation-")  # a throwaway database for the guard

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from chat.demo import ARTICLES, CANNED  # noqa: E402
from chat.generation import (  # noqa: E402
    Turn,
    _TextCallbackStreamer,
    build_prompt,
    convert_gguf,
    reply_opener,
    stream_reply,
    tidy_reply,
)
from chat.guard import check_grounding, find_identifiers  # noqa: E402
from chat.retrieval import Source, rank  # noqa: E402

EVAL_SET = ROOT / "bench" / "data" / "grounding_eval.jsonl"
RESULTS = ROOT / "bench" / "results"


def load(model_dir: Path, dtype: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (model_dir / "config.json").exists():
        print(f"converting the packaged GGUF into {model_dir} ...", flush=True)
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=getattr(torch, dtype)).eval()
    return model, tokenizer


def machine() -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "note": "2-core machine shared with other engineers' jobs while this ran (see loadavg)",
    }


def eval_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]


def demo_sources() -> list[tuple[Source, list[float]]]:
    from chat.embeddings import embed

    items = [Source("canned", i, t, text, 0.0) for i, (t, _s, text) in enumerate(CANNED)]
    items += [Source("article", 100 + i, t, body, 0.0) for i, (t, body) in enumerate(ARTICLES)]
    vectors = embed([f"{s.title}\n{s.text}" for s in items])
    return list(zip(items, vectors, strict=True))


def conversation_facts(messages: list[str]) -> list[tuple[str, str]]:
    return [(s.label, s.text) for spans in find_identifiers(messages) for s in spans]


def _stamper(stamps: list[float]) -> Callable[[str], None]:
    def record(_piece: str) -> None:
        stamps.append(time.perf_counter())

    return record


def speed(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    items = eval_items()[: args.prompts]
    catalog = demo_sources()
    from chat.embeddings import embed

    results: list[dict[str, Any]] = []
    for dtype in args.dtypes:
        model, tokenizer = load(args.model_dir, dtype)
        for threads in args.threads:
            torch.set_num_threads(threads)
            runs = []
            for n, item in enumerate([items[0], *items]):  # the first is a warm-up
                query = " ".join(item["messages"])
                sources = rank(embed([query])[0], catalog, 3)
                entities = conversation_facts(item["messages"])
                prompt = build_prompt(
                    tokenizer,
                    [Turn("customer", m) for m in item["messages"]],
                    entities=entities,
                    sources=sources,
                    opener=reply_opener(item["customer"], entities),
                    budget=700,
                )
                ids = torch.tensor([prompt.input_ids])
                stamps: list[float] = []
                streamer = _TextCallbackStreamer(tokenizer, _stamper(stamps))
                start = time.perf_counter()
                with torch.inference_mode():
                    out = model.generate(
                        input_ids=ids,
                        attention_mask=torch.ones_like(ids),
                        max_new_tokens=args.tokens,
                        min_new_tokens=args.tokens,
                        do_sample=False,
                        repetition_penalty=1.2,
                        pad_token_id=tokenizer.eos_token_id,
                        streamer=streamer,
                    )
                end = time.perf_counter()
                new = out.shape[1] - ids.shape[1]
                if n == 0:
                    continue
                runs.append(
                    {
                        "prompt_tokens": len(prompt.input_ids),
                        "new_tokens": int(new),
                        "ttft_s": round(stamps[0] - start, 3),
                        "tokens_per_s": round((new - 1) / (end - stamps[0]), 2),
                        "total_s": round(end - start, 3),
                    }
                )
            row = {
                "backend": "transformers",
                "dtype": dtype,
                "threads": threads,
                "runs": runs,
                "mean_ttft_s": round(sum(r["ttft_s"] for r in runs) / len(runs), 3),
                "mean_tokens_per_s": round(sum(r["tokens_per_s"] for r in runs) / len(runs), 2),
                "mean_prompt_tokens": round(sum(r["prompt_tokens"] for r in runs) / len(runs), 1),
            }
            print(json.dumps({k: v for k, v in row.items() if k != "runs"}), flush=True)
            results.append(row)
    return {"model": str(args.model_dir.name), "new_tokens": args.tokens, "configs": results}


def grounding(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads[0])
    model, tokenizer = load(args.model_dir, args.dtypes[0])
    catalog = demo_sources()
    from chat.embeddings import embed

    conditions = {
        "no_retrieval": {"retrieval": False, "opener": True},
        "retrieval": {"retrieval": True, "opener": True},
        "retrieval_no_opener": {"retrieval": True, "opener": False},
    }
    report: dict[str, Any] = {}
    for name, cond in conditions.items():
        rows = []
        for item in eval_items():
            turns = [Turn("customer", m) for m in item["messages"]]
            entities = conversation_facts(item["messages"])
            sources = rank(embed([" ".join(item["messages"])])[0], catalog, 3) if cond["retrieval"] else []
            opener = reply_opener(item["customer"], entities) if cond["opener"] else ""
            prompt = build_prompt(tokenizer, turns, entities=entities, sources=sources, opener=opener, budget=700)
            start = time.perf_counter()
            text, n_tokens, _ = stream_reply(
                model, tokenizer, prompt.input_ids, on_text=lambda _p: None, max_new_tokens=args.tokens, seed=args.seed
            )
            latency = time.perf_counter() - start
            raw = tidy_reply(f"{opener} {text}".strip())
            context = item["messages"] + [f"{s.title} {s.text}" for s in sources]
            guarded = check_grounding(raw, context)
            source_text = " ".join(f"{s.title} {s.text}" for s in sources).lower()
            ids_ok = all(i in raw for i in item["ids"])
            facts_ok = all(f.lower() in raw.lower() for f in item["facts"])
            invented = bool(guarded.flagged)
            rows.append(
                {
                    "id": item["id"],
                    "reply": raw,
                    "guarded": guarded.text,
                    "flagged": [f"{f['label']}:{f['text']}" for f in guarded.flagged],
                    "sources": [s.title for s in sources],
                    "ids_ok": ids_ok,
                    "facts_ok": facts_ok,
                    "fact_in_sources": all(f.lower() in source_text for f in item["facts"]),
                    "invented": invented,
                    "latency_s": round(latency, 2),
                    "tokens": n_tokens,
                }
            )
        n = len(rows)
        report[name] = {
            "n": n,
            "right_ids": round(sum(r["ids_ok"] for r in rows) / n, 3),
            "policy_fact_stated": round(sum(r["facts_ok"] for r in rows) / n, 3),
            "policy_fact_in_retrieved_sources": round(sum(r["fact_in_sources"] for r in rows) / n, 3),
            "invented_identifier_raw": round(sum(r["invented"] for r in rows) / n, 3),
            "grounded_raw": round(sum(r["ids_ok"] and not r["invented"] for r in rows) / n, 3),
            # After the guard no invented identifier reaches the agent; the ids the model dropped stay dropped.
            "grounded_after_guard": round(
                sum(
                    all(i in r["guarded"] for i in item_ids)
                    for r, item_ids in zip(rows, [it["ids"] for it in eval_items()], strict=True)
                )
                / n,
                3,
            ),
            "mean_latency_s": round(sum(r["latency_s"] for r in rows) / n, 2),
            "replies": rows,
        }
        print(name, json.dumps({k: v for k, v in report[name].items() if k != "replies"}), flush=True)
    return {"model": args.model_dir.name, "dtype": args.dtypes[0], "threads": args.threads[0], "conditions": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["speed", "grounding"])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--dtypes", nargs="+", default=None, help="speed: float32 bfloat16; grounding: float32")
    parser.add_argument("--threads", type=int, nargs="+", default=None, help="speed: 1 2; grounding: 1")
    parser.add_argument("--tokens", type=int, default=None, help="new tokens (speed 48, grounding 64)")
    parser.add_argument("--prompts", type=int, default=3, help="speed: prompts per configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    speed_run = args.what == "speed"
    args.dtypes = args.dtypes or (["float32", "bfloat16"] if speed_run else ["float32"])
    args.threads = args.threads or ([1, 2] if speed_run else [1])
    args.tokens = args.tokens or (48 if speed_run else 64)
    call_command("migrate", verbosity=0)
    info = machine()
    started = time.time()
    result = speed(args) if speed_run else grounding(args)
    info["loadavg_end"] = os.getloadavg()
    out = args.out or RESULTS / f"generation_{args.what}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": " ".join(["bench/bench_generation.py", *sys.argv[1:]]), "machine": info, **result}
    payload["wall_s"] = round(time.time() - started, 1)
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

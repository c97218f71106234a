"""Benchmark document extraction through real Celery workers and a real Redis, in one run.

For each pipeline (``rules``: patterns + rules + gazetteer; ``spacy``: the same plus spaCy's
small model) and each worker set-up (1 or 2 prefork processes, batching off with
``NER_BATCH_SIZE=1`` or on with 16), it starts a fresh ``celery worker``, warms it up,
submits a burst of short customer messages through ``ner.extraction.documents.submit_document`` and
waits until every document is done, then sends a few more one by one at a steady rate
below capacity (as live chat does).  Figures: tasks/s (documents per second from the
first submit of the burst to its last result) and end-to-end latency
(``processed_at - created_at``: from the document being stored to its entities being
stored), p50 and p99, for the burst (mostly time waiting in the queue) and paced.

    DJANGO_DEBUG=1 .venv/bin/python bench/bench_celery.py [--docs 300] [--paced 60] [--rate 5]

It uses its own PostgreSQL database (``--database``, created and migrated when missing,
emptied before each run) and a Redis database it flushes.  Writes
``bench/results/celery.json`` and prints the table of docs/benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = {
    "rules": ["patterns", "rules", "gazetteer"],
    "spacy": ["patterns", "rules", "gazetteer", "spacy"],
}
SETUPS = [(1, 1), (1, 16), (2, 1), (2, 16)]  # (worker processes, NER_BATCH_SIZE)

FIRST = ["Anna", "Bob", "Chen", "Dario", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jonas"]
LAST = ["Smith", "Garcia", "Müller", "Okafor", "Tanaka", "Rossi", "Novak", "Khan"]
PRODUCTS = ["AirBook 13", "Pixel Buds", "Galaxy Tab S9", "ThinkPad X1", "Kindle Paperwhite"]
TEMPLATES = [
    "Hi, I'm {first} {last}. My order {order} hasn't arrived, please email me at {email}.",
    "The {product} I bought on {date} stopped working. Call me on {phone}.",
    "Please refund {money} to my card, order {order}. Thanks, {first}",
    "Can you change the delivery address for {order}? I moved to Berlin. {first} {last}",
    "Where is my {product}? Tracking says delivered on {date} but nothing came.",
]


def messages(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append(
            rng.choice(TEMPLATES).format(
                first=first,
                last=last,
                order=f"ORD-{rng.randint(100000, 999999)}",
                email=f"{first.lower()}.{rng.randint(1, 99)}@example.com",
                product=rng.choice(PRODUCTS),
                date=f"{rng.randint(1, 28)} March 2026",
                phone=f"+1 415 555 {rng.randint(1000, 9999)}",
                money=f"${rng.randint(5, 500)}.{rng.randint(0, 99):02d}",
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def start_worker(env: dict[str, str], processes: int, log: Path) -> subprocess.Popen[bytes]:
    celery = str(Path(sys.executable).with_name("celery"))
    command = [celery, "-A", "nlpapp", "worker", "-Q", "ner", "-P", "prefork", "-c", str(processes)]
    command += ["-n", f"bench-{os.getpid()}@localhost", "-l", "warning", "--without-gossip", "--without-mingle"]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_done(ids: list[int], timeout: float) -> None:
    from ner.models import Document

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Document.objects.filter(pk__in=ids, status__in=["queued", "processing"]).exists():
            return
        time.sleep(0.02)
    raise TimeoutError(f"documents not finished after {timeout} s")


def latencies_ms(ids: list[int]) -> list[float]:
    from ner.models import Document

    rows = Document.objects.filter(pk__in=ids, status="done").values_list("created_at", "processed_at")
    return [(done - created).total_seconds() * 1000 for created, done in rows if done]


def run_one(
    pipeline: str, processes: int, batch: int, texts: list[str], env: dict[str, str], paced: int, rate: float
) -> dict[str, Any]:
    from ner.extraction import documents
    from ner.models import Document, Entity, InferenceLog

    Entity.objects.all().delete()
    Document.objects.all().delete()
    InferenceLog.objects.all().delete()
    options = {"recognizers": PIPELINES[pipeline]}
    log = ROOT / "var" / f"bench-celery-worker-{pipeline}-{processes}-{batch}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = start_worker({**env, "NER_BATCH_SIZE": str(batch)}, processes, log)
    try:
        # Warm-up: every worker process loads its models before the clock starts.
        warm = [documents.submit_document(t, options=options).pk for t in texts[: 8 * processes]]
        wait_done(warm, 180)
        Document.objects.filter(pk__in=warm).delete()
        InferenceLog.objects.all().delete()
        started = time.perf_counter()
        ids = [documents.submit_document(t, options=options).pk for t in texts]
        submitted = time.perf_counter() - started
        wait_done(ids, 600)
        elapsed = time.perf_counter() - started
        # Paced: messages arriving one by one below capacity, as in live chat.
        paced_ids = []
        for i, text in enumerate(texts[:paced]):
            time.sleep(max(0.0, started + elapsed + i / rate - time.perf_counter()))
            paced_ids.append(documents.submit_document(text, options=options).pk)
        wait_done(paced_ids, 300)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    failed = Document.objects.filter(pk__in=ids + paced_ids).exclude(status="done").count()
    latencies = latencies_ms(ids)
    paced_latencies = latencies_ms(paced_ids)
    calls = InferenceLog.objects.count()
    return {
        "pipeline": pipeline,
        "worker_processes": processes,
        "batch_size": batch,
        "documents": len(ids),
        "failed": failed,
        "entities": Entity.objects.filter(document_id__in=ids).count(),
        "submit_s": round(submitted, 3),
        "elapsed_s": round(elapsed, 3),
        "tasks_per_s": round(len(ids) / elapsed, 1),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(percentile(latencies, 99), 1),
        "paced_documents": len(paced_ids),
        "paced_rate_per_s": rate,
        "paced_latency_ms_p50": round(statistics.median(paced_latencies), 1),
        "paced_latency_ms_p99": round(percentile(paced_latencies, 99), 1),
        "inference_logs": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=300, help="documents per run (default 300)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--paced", type=int, default=60, help="documents sent one by one after the burst")
    parser.add_argument("--rate", type=float, default=5.0, help="paced documents per second (default 5)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="a Redis database this may flush")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_celery")
    parser.add_argument("--pipelines", default="rules,spacy")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "celery.json"))
    args = parser.parse_args()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nlpapp.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.redis,
        "CELERY_RESULT_BACKEND": "cache+memory://",
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "warning",
    }
    os.environ.update(env)
    ensure_database(args.database)
    sys.path.insert(0, str(ROOT))
    import django
    import redis

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(args.redis).flushdb()

    texts = messages(args.docs, args.seed)
    results = []
    for pipeline in args.pipelines.split(","):
        for processes, batch in SETUPS:
            result = run_one(pipeline, processes, batch, texts, env, args.paced, args.rate)
            print(json.dumps(result), flush=True)
            results.append(result)
    redis.Redis.from_url(args.redis).flushdb()

    report = {
        "command": "DJANGO_DEBUG=1 .venv/bin/python bench/bench_celery.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "note": (
            "burst: messages submitted as fast as one process can; paced: one by one at the given rate; "
            "other helpers' work (training, tests) shared the 2 CPUs during the run"
        ),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(
        "\n| pipeline | worker processes | batch size | burst: tasks/s | burst: latency p50 / p99 ms "
        f"| paced {args.rate:g}/s: latency p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['pipeline']} | {r['worker_processes']} | {r['batch_size']} | {r['tasks_per_s']} "
            f"| {r['latency_ms_p50']:.0f} / {r['latency_ms_p99']:.0f} "
            f"| {r['paced_latency_ms_p50']:.0f} / {r['paced_latency_ms_p99']:.0f} |"
        )


if __name__ == "__main__":
    main()

"""API latency and throughput under load: POST /api/v1/extract (rules only, full pipeline) and a documents list.

Serves the app with gunicorn against a real PostgreSQL database (created if missing),
then drives it from this process with keep-alive HTTP connections on 127.0.0.1:

    .venv/bin/python bench/bench_api.py --requests 400 --concurrency 4 --workers 2

Writes bench/results/api.json (p50/p90/p99 latency in ms, requests/s, status counts per
scenario).  The load generator shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TEXT = (
    "Hi, this is Maria Lopez from Acme Logistics in Denver. My order ORD-2024-118842 arrived damaged on "
    "March 3, 2025. Please refund $149.99 to the card ending 4111 1111 1111 1111 or call me at "
    "+1 303 555 0147; you can also email maria.lopez@example.com. Thanks!"
)

SEED = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from ner.models import Document, Entity
from ner.roles import sync_role_groups
sync_role_groups()
user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
token, _ = Token.objects.get_or_create(user=user)
missing = %(docs)d - Document.objects.count()
if missing > 0:
    docs = Document.objects.bulk_create(
        [Document(text=%(text)r, status="done", source="bench") for _ in range(missing)], batch_size=500
    )
    Entity.objects.bulk_create(
        [Entity(document=d, start=s, end=e, label=l, text=%(text)r[s:e], source="bench")
         for d in docs for s, e, l in ((13, 24, "PER"), (30, 45, "ORG"), (49, 55, "LOC"))],
        batch_size=2000,
    )
print(token.key)
"""


def bench_env(db_name: str, data_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",  # plain HTTP on 127.0.0.1: no redirect to https
        DATA_DIR=data_dir,
        API_THROTTLE_USER="100000000/min",
        HEALTH_REQUIRED="database",
        LOG_LEVEL="warning",
        CELERY_BROKER_URL="",
    )
    return env


def prepare(db_name: str, env: dict[str, str], n_docs: int) -> str:
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], capture_output=True, text=True, check=False
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"createdb failed: {created.stderr.strip()}")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SEED % {"docs": n_docs, "text": TEXT}],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    gunicorn = str(Path(PYTHON).with_name("gunicorn"))
    cmd = [gunicorn, "nlpapp.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    cmd += ["--log-level", "warning", "--timeout", "120"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def run_scenario(
    port: int, token: str, method: str, path: str, body: dict[str, Any] | None, requests: int, concurrency: int
) -> dict[str, Any]:
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            started = time.perf_counter()
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    return {
        "method": method,
        "path": path,
        "requests": len(ordered),
        "concurrency": concurrency,
        "statuses": statuses,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "requests_per_s": round(len(ordered) / wall, 1),
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=4, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--documents", type=int, default=2000, help="documents in the database for the list")
    parser.add_argument("--db", default="nlpapp_bench")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "api.json"))
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="nlpapp-bench-")
    env = bench_env(args.db, data_dir)
    token = prepare(args.db, env, args.documents)
    scenarios: dict[str, tuple[str, str, dict[str, Any] | None]] = {
        "extract_rules": ("POST", "/api/v1/extract", {"text": TEXT, "options": {"pipeline": "rules"}}),
        "extract_full": ("POST", "/api/v1/extract", {"text": TEXT}),
        "documents_list": ("GET", "/api/v1/documents?page_size=50", None),
    }
    server = start_server(env, args.port, args.workers)
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    try:
        for name, (method, path, body) in scenarios.items():
            # Warm-up: every worker loads its models (spaCy for the full pipeline) before timing.
            run_scenario(args.port, token, method, path, body, 8 * args.workers, args.concurrency)
            results[name] = run_scenario(args.port, token, method, path, body, args.requests, args.concurrency)
            r = results[name]
            print(f"{name:15} p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms  {r['requests_per_s']:7.1f} req/s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {
        "command": "python bench/bench_api.py " + " ".join(sys.argv[1:]),
        "server": f"gunicorn, {args.workers} sync workers, PostgreSQL database {args.db}, DJANGO_DEBUG=0",
        "client": "threads with keep-alive http.client connections in the same machine",
        "documents_in_db": args.documents,
        "text_chars": len(TEXT),
        "cpu_count": os.cpu_count(),
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "note": "full pipeline = NER_RECOGNIZERS default (patterns, rules, gazetteer, spaCy; tagger only if a "
        "version is active, none in the bench database); client and server share the CPU",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Load test of the production server: open suggestion streams must not starve pages, health checks or the API.

Starts, on 127.0.0.1 only, the production stack: gunicorn with uvicorn workers
(``docker/gunicorn.conf.py``, ``nlpapp.asgi``) against PostgreSQL and Redis, plus one Celery
CPU worker, with ``DJANGO_DEBUG=0`` (and ``DJANGO_HTTPS=0``: plain HTTP on loopback).  Then:

1. **streams**: opens ``--streams`` (20) suggestion event streams and keeps them open (the
   suggestions are seeded as ``streaming`` and never finish, so each stream waits its full
   ``API_STREAM_MAX_S``), and meanwhile times ``GET /healthz`` and page loads (the customer
   page, the login page, ``GET /api/v1/conversations``) one after another;
2. **extract**: ``POST /api/v1/extract`` (rules pipeline) open-loop at ``--rate`` (100) requests/s
   for ``--seconds`` (20), every request sent at its scheduled time on its own connection.

    .venv/bin/python bench/bench_server.py [--streams 20] [--rate 100] [--seconds 20] \\
        [--db bench_server] [--redis-url redis://127.0.0.1:6379/14] [--web-workers 2] \\
        [--client-threads 64] [--warmup 20]

Writes bench/results/server.json.  Targets (issue 17): ``/healthz`` under 100 ms and pages under
300 ms with 20 streams open; extract p99 under 50 ms at 100 requests/s with no errors.  The load
generator shares the machine's cores with the server: run it on a quiet machine.
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
TEXT = "Hi, my order ORD-2024-118842 arrived damaged; call me at +1 303 555 0147 or mail maria.lopez@example.com"

SEED = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from chat.models import Conversation, Message, ReplySuggestion
from ner.roles import sync_role_groups
sync_role_groups()
user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
token, _ = Token.objects.get_or_create(user=user)
conv, _ = Conversation.objects.get_or_create(customer_token="bench-customer", defaults={"customer_name": "Bench"})
if not conv.messages.exists():
    Message.objects.create(conversation=conv, direction="in", author="Bench", text=%(text)r)
ids = [ReplySuggestion.objects.create(conversation=conv, status="streaming").pk for _ in range(%(streams)d)]
print(token.key, ",".join(map(str, ids)))
"""


def bench_env(db_name: str, redis_url: str, data_dir: str, stream_s: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}",
        CELERY_BROKER_URL=redis_url,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",
        DATA_DIR=data_dir,
        STATIC_ROOT=str(Path(data_dir) / "static"),
        API_THROTTLE_USER="100000000/min",
        API_STREAM_MAX_S=str(stream_s),
        HEALTH_REQUIRED="database",
        NER_RECOGNIZERS="patterns,rules,gazetteer",
        LOG_LEVEL="warning",
    )
    return env


def prepare(db_name: str, env: dict[str, str], streams: int) -> tuple[str, list[int]]:
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], capture_output=True, text=True, check=False
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"createdb failed: {created.stderr.strip()}")
    for args in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SEED % {"text": TEXT, "streams": streams}],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token, ids = out.stdout.strip().splitlines()[-1].split()
    return token, [int(i) for i in ids.split(",")]


def start(env: dict[str, str], port: int, web_workers: int) -> list[subprocess.Popen[bytes]]:
    bin_dir = Path(PYTHON).parent
    web_env = {**env, "WEB_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": str(web_workers)}
    web = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-c", "docker/gunicorn.conf.py", "nlpapp.asgi:application"], cwd=ROOT, env=web_env
    )
    celery = [str(bin_dir / "celery"), "-A", "nlpapp", "worker", "-Q", "default,ner,gen", "-P", "prefork"]
    worker = subprocess.Popen([*celery, "--concurrency", "1", "-l", "warning", "-n", "bench-cpu@%h"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 180  # each worker warms its recognizers first (post_worker_init)
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return [web, worker]
        except OSError:
            pass
        time.sleep(0.5)
    for proc in (web, worker):
        proc.terminate()
    raise SystemExit("the server did not answer /healthz within 180 s")


def summary(latencies_ms: list[float], statuses: dict[str, int]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2) if ordered else float("nan")

    return {
        "n": len(ordered),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": round(ordered[-1], 2) if ordered else None,
        "mean_ms": round(statistics.fmean(ordered), 2) if ordered else None,
        "statuses": statuses,
    }


def timed_get(port: int, path: str, headers: dict[str, str]) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return elapsed, response.status


def open_streams(port: int, token: str, ids: list[int], opened: list[int]) -> list[threading.Thread]:
    def hold(sid: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("GET", f"/api/v1/suggestions/{sid}/stream", headers={"Authorization": f"Token {token}"})
        response = conn.getresponse()
        opened.append(response.status)
        try:
            while response.read(64):  # until the stream ends, or the server is stopped
                pass
        except (OSError, http.client.HTTPException):
            pass

    threads = [threading.Thread(target=hold, args=(sid,), daemon=True) for sid in ids]
    for t in threads:
        t.start()
    return threads


def streams_scenario(port: int, token: str, ids: list[int], probes: int) -> dict[str, Any]:
    opened: list[int] = []
    open_streams(port, token, ids, opened)
    deadline = time.monotonic() + 30
    while len(opened) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    auth = {"Authorization": f"Token {token}", "Accept": "application/json"}
    targets = {
        "healthz": ("/healthz", {}),
        "customer_page": ("/c/bench-customer/", {}),
        "login_page": ("/accounts/login/", {}),
        "api_conversations": ("/api/v1/conversations", auth),
    }
    results: dict[str, Any] = {"streams_open": len(opened), "stream_statuses": sorted(set(opened))}
    for name, (path, headers) in targets.items():
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        for _ in range(probes):
            elapsed, status = timed_get(port, path, headers)
            latencies.append(elapsed)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        results[name] = summary(latencies, statuses)
    return results


def extract_scenario(
    port: int, token: str, rate: float, seconds: float, client_threads: int, warmup: int
) -> dict[str, Any]:
    body = json.dumps({"text": TEXT, "options": {"pipeline": "rules"}}).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    total = int(rate * seconds)

    def send(i: int) -> None:
        time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        scheduled = t0 + i / rate
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/api/v1/extract", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = str(response.status)
            conn.close()
        except OSError as exc:
            status = type(exc).__name__
        elapsed = (time.perf_counter() - scheduled) * 1000  # from the scheduled send: queueing counts
        with lock:
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1

    for _ in range(warmup):  # untimed: the figures are the steady state, not each worker's first call
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/api/v1/extract", body=body, headers=headers)
        conn.getresponse().read()
        conn.close()
    t0 = time.perf_counter() + 0.5

    def sender(first: int) -> None:
        # Request i is sent by thread i % client_threads at its scheduled time; latency is counted from
        # that time, so a thread that falls behind adds its delay to the figures (no coordinated omission).
        for i in range(first, total, client_threads):
            send(i)

    # A bounded pool of sender threads, not one thread per request (2000 threads on a 2-core
    # machine cost the server the CPU it is measured on).
    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(min(client_threads, total))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    result = summary(latencies, statuses)
    result["target_rate_per_s"] = rate
    result["achieved_rate_per_s"] = round(len(latencies) / max(seconds, 1e-9), 1)
    return result


def _uvicorn_extras() -> str:
    import importlib.util

    found = [name for name in ("uvloop", "httptools") if importlib.util.find_spec(name) is not None]
    return ", ".join(found) or "asyncio and h11 (uvloop and httptools missing: pip install -e .)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--probes", type=int, default=100, help="requests per page while the streams are open")
    parser.add_argument("--rate", type=float, default=100.0, help="extract requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the extract scenario")
    parser.add_argument("--db", default="bench_server")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes (one per core)")
    parser.add_argument("--client-threads", type=int, default=64, help="load generator threads for extract")
    parser.add_argument("--warmup", type=int, default=20, help="untimed extract requests before the timed ones")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "server.json"))
    args = parser.parse_args()
    if args.streams * args.probes * args.rate <= 0:
        raise SystemExit("--streams, --probes and --rate must be positive")

    with tempfile.TemporaryDirectory(prefix="bench-server-") as data_dir:
        stream_s = 600
        env = bench_env(args.db, args.redis_url, data_dir, stream_s)
        token, ids = prepare(args.db, env, args.streams)
        procs = start(env, args.port, args.web_workers)
        try:
            results = {
                "with_open_streams": streams_scenario(args.port, token, ids, args.probes),
                "extract_rules": extract_scenario(
                    args.port, token, args.rate, args.seconds, args.client_threads, args.warmup
                ),
            }
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:  # gunicorn waits for the open streams otherwise
                    proc.kill()
                    proc.wait(timeout=10)
    report = {
        "server": f"gunicorn + {args.web_workers} uvicorn workers (ASGI), PostgreSQL, Redis, 1 Celery CPU worker",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
        "event_loop_and_parser": _uvicorn_extras(),
        "args": vars(args),
        **results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

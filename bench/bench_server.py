"""Load test of the production server: open suggestion streams must not starve pages, health checks or the API.

Starts, on 127.0.0.1 only, the production stack: gunicorn with uvicorn workers
(``docker/gunicorn.conf.py``, ``nlpapp.asgi``) against PostgreSQL and Redis, plus one Celery
CPU worker, with ``DJANGO_DEBUG=0`` (and ``DJANGO_HTTPS=0``: plain HTTP on loopback) and the
production throttles.  Then:

1. **streams**: opens ``--streams`` (20) suggestion event streams and keeps them open (the
   suggestions are seeded as ``streaming`` and never finish, so each stream waits its full
   ``API_STREAM_MAX_S``), and meanwhile times ``GET /healthz`` and page loads (the customer
   page, the login page, ``GET /api/v1/conversations``) one after another;
2. **extract**: with the streams still open, ``POST /api/v1/extract`` (rules pipeline) at ``--rate``
   (100) requests/s for ``--seconds`` (20), from ``--tokens`` (10) agent tokens in turn, so each
   stays under the production user throttle (``API_THROTTLE_USER``, 1200/min).  The load
   generator is by default an open-loop asyncio client in this process: request i is due at
   ``i / rate`` and sent then over one of at most ``--connections`` keep-alive connections, and
   its latency counts from its due time (a queue anywhere shows in the figures).  With
   ``--client locust`` it is locust instead (``bench/locustfile_extract.py``: ``--locust-users``
   FastHttpUsers at constant throughput, headless, ``--run-time`` bounded; the executable from
   ``--locust``, ``$LOCUST_BIN`` or ``PATH``).  The CPU each part used meanwhile (web workers,
   Celery worker, load generator, PostgreSQL, Redis, the machine) is recorded.

    .venv/bin/python bench/bench_server.py [--streams 20] [--rate 100] [--seconds 20] \\
        [--db bench_server] [--redis-url redis://127.0.0.1:6379/14] [--web-workers 2] \\
        [--client asyncio|locust] [--connections 64] [--tokens 10] [--warmup 20]

Writes bench/results/server.json.  Targets (issue 17): ``/healthz`` under 100 ms and pages under
300 ms with 20 streams open; extract p99 under 50 ms at 100 requests/s with no errors.  The load
generator shares the machine's cores with the server: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import http.client
import json
import os
import platform
import secrets
import shutil
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
from django.contrib.auth.models import Group
from ner.roles import AGENT, sync_role_groups
sync_role_groups()
user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
token, _ = Token.objects.get_or_create(user=user)
agents = Group.objects.get(name=AGENT)
keys = []
for i in range(%(tokens)d):  # the extract clients: agents, each under the production throttle rate
    api_user, _ = get_user_model().objects.get_or_create(username=f"bench-api-{i}")
    api_user.groups.add(agents)
    keys.append(Token.objects.get_or_create(user=api_user)[0].key)
conv, _ = Conversation.objects.get_or_create(customer_token="bench-customer", defaults={"customer_name": "Bench"})
if not conv.messages.exists():
    Message.objects.create(conversation=conv, direction="in", author="Bench", text=%(text)r)
ids = [ReplySuggestion.objects.create(conversation=conv, status="streaming").pk for _ in range(%(streams)d)]
print(token.key, ",".join(map(str, ids)), ",".join(keys))
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
        API_STREAM_MAX_S=str(stream_s),
        HEALTH_REQUIRED="database",
        NER_RECOGNIZERS="patterns,rules,gazetteer",
        LOG_LEVEL="warning",
    )
    return env


def prepare(db_name: str, env: dict[str, str], streams: int, tokens: int) -> tuple[str, list[int], list[str]]:
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], capture_output=True, text=True, check=False
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"createdb failed: {created.stderr.strip()}")
    for args in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SEED % {"text": TEXT, "streams": streams, "tokens": tokens}],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token, ids, keys = out.stdout.strip().splitlines()[-1].split()
    return token, [int(i) for i in ids.split(",")], keys.split(",")


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


class _Pool:
    """Keep-alive HTTP/1.1 connections to the server, handed out oldest-idle first (spreads over the workers)."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.idle: collections.deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = collections.deque()
        self.slots = asyncio.Semaphore(size)
        self.opened = 0

    async def request(self, raw: bytes, timeout: float) -> str:
        """Sends one request, returns its status (or the error's name); waits for a free slot first."""
        async with self.slots:
            if self.idle:
                reader, writer = self.idle.popleft()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.opened += 1
            try:
                writer.write(raw)
                status, keep = await asyncio.wait_for(_read_response(reader), timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                writer.close()
                return type(exc).__name__
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status

    def close(self) -> None:
        while self.idle:
            self.idle.popleft()[1].close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[str, bool]:
    """Reads one response (Content-Length or chunked body); returns its status and whether the connection stays open."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = head[0].split(" ", 2)[1]
    fields = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip().lower()
    if fields.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(fields.get("content-length", "0")))
    return status, fields.get("connection") != "close"


def extract_scenario(
    port: int, tokens: list[str], rate: float, seconds: float, connections: int, warmup: int
) -> dict[str, Any]:
    """Open loop from one asyncio loop over keep-alive connections: the load generator costs little CPU.

    Request i is due at ``t0 + i / rate`` and its latency counts from then, whether it waited for a
    free connection (at most ``connections`` at once) or in the server: no coordinated omission.
    Request i carries ``tokens[i % len(tokens)]``.
    """
    body = json.dumps({"text": TEXT, "options": {"pipeline": "rules"}}).encode()
    raws = [
        (
            f"POST /api/v1/extract HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for token in tokens
    ]
    total = int(rate * seconds)

    async def run() -> tuple[list[float], dict[str, int], int, float]:
        loop = asyncio.get_running_loop()
        pool = _Pool(port, connections)
        # Untimed warm-up, 8 at a time: the figures are the steady state, and the first connections
        # are spread over the workers before the timed part reuses them.
        for first in range(0, warmup, 8):
            batch = range(first, min(first + 8, warmup))
            await asyncio.gather(*(pool.request(raws[i % len(raws)], 60) for i in batch))
        latencies: list[float] = []
        statuses: dict[str, int] = {}

        async def one(due: float, raw: bytes) -> None:
            status = await pool.request(raw, 30)
            latencies.append((loop.time() - due) * 1000)  # from the due time: queueing counts
            statuses[status] = statuses.get(status, 0) + 1

        t0 = loop.time() + 0.2
        tasks = []
        for i in range(total):
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, raws[i % len(raws)])))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - t0
        pool.close()
        return latencies, statuses, pool.opened, elapsed

    latencies, statuses, opened, elapsed = asyncio.run(run())
    result = summary(latencies, statuses)
    result["target_rate_per_s"] = rate
    result["achieved_rate_per_s"] = round(len(latencies) / max(elapsed, 1e-9), 1)
    result["connections_opened"] = opened
    result["client"] = f"asyncio open loop, at most {connections} keep-alive connections, {len(tokens)} tokens"
    return result


def locust_scenario(
    port: int, tokens: list[str], rate: float, seconds: float, users: int, warmup: int, locust_bin: str
) -> dict[str, Any]:
    """The same load from locust (``bench/locustfile_extract.py``): ``users`` FastHttpUsers at ``rate / users`` each.

    Locust paces each user closed-loop (constant throughput: a user waits for its answer), so a slow
    server lowers ``achieved_rate_per_s`` instead of adding its queue to the latencies; its
    percentiles count from each send and are rounded (to 1 ms below 100 ms).
    """
    body = json.dumps({"text": TEXT, "options": {"pipeline": "rules"}}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(warmup):  # untimed, as in the built-in client
        headers = {"Authorization": f"Token {tokens[i % len(tokens)]}", "Content-Type": "application/json"}
        conn.request("POST", "/api/v1/extract", body=body, headers=headers)
        conn.getresponse().read()
    conn.close()
    env = {
        **os.environ,
        **{"BENCH_TOKENS": ",".join(tokens), "BENCH_TEXT": TEXT, "BENCH_RATE": str(rate), "BENCH_USERS": str(users)},
    }
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as tmp:
        prefix = Path(tmp) / "extract"
        command = [
            locust_bin,
            *("-f", str(ROOT / "bench" / "locustfile_extract.py"), "--headless", "--only-summary"),
            *("--host", f"http://127.0.0.1:{port}", "--users", str(users), "--spawn-rate", str(users)),
            *("--run-time", f"{max(1, round(seconds))}s", "--stop-timeout", "10", "--csv", str(prefix)),
            *("--exit-code-on-error", "0", "--loglevel", "WARNING"),
        ]
        subprocess.run(command, cwd=tmp, env=env, check=True, timeout=seconds + 120, stdout=subprocess.DEVNULL)
        with open(f"{prefix}_stats.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if r["Name"] == "/api/v1/extract")
        with open(f"{prefix}_failures.csv", newline="") as fh:
            failures = {r["Error"]: int(r["Occurrences"]) for r in csv.DictReader(fh)}
    n, failed = int(row["Request Count"]), int(row["Failure Count"])
    return {
        "n": n,
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
        "max_ms": float(row["Max Response Time"]),
        "mean_ms": round(float(row["Average Response Time"]), 2),
        "statuses": {"ok": n - failed, **failures},
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(float(row["Requests/s"]), 1),
        "client": f"locust ({users} FastHttpUsers, constant throughput, {len(tokens)} tokens)",
    }


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far) for every process (Linux /proc; empty elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        table[int(stat.parent.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick)
    return table


def cpu_snapshot(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process tree (``roots``), this process (the load generator, without
    its running children), PostgreSQL, Redis and the whole machine."""
    table = _proc_table()
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)

    def tree(pid: int) -> float:
        return table.get(pid, (0, "", 0.0))[2] + sum(tree(child) for child in children.get(pid, []))

    out = {name: tree(pid) for name, pid in roots.items()}
    reaped = os.times()  # children that have exited: locust, under --client locust
    out["load_generator"] = table.get(os.getpid(), (0, "", 0.0))[2] + reaped.children_user + reaped.children_system
    for name, prefix in (("postgres", "postgres"), ("redis", "redis-server")):
        out[name] = sum(cpu for _, comm, cpu in table.values() if comm.startswith(prefix))
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
        out["machine_busy"] = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return out


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
    parser.add_argument(
        "--client",
        choices=("asyncio", "locust"),
        default="asyncio",
        help="extract load generator: the built-in open-loop asyncio client, or locust (see --locust)",
    )
    parser.add_argument(
        "--connections",
        "--client-threads",
        type=int,
        default=64,
        help="asyncio client: most keep-alive connections open at once (requests beyond wait, and the wait counts)",
    )
    parser.add_argument(
        "--locust",
        default=os.environ.get("LOCUST_BIN") or shutil.which("locust") or "locust",
        help="locust executable for --client locust (default: $LOCUST_BIN, else locust on PATH)",
    )
    parser.add_argument("--locust-users", type=int, default=10, help="locust users, each at rate/users per second")
    parser.add_argument(
        "--tokens",
        type=int,
        default=10,
        help="API users sending the extract requests in turn; each stays under the production throttle "
        "(API_THROTTLE_USER, 1200/min: 100/s needs at least 6)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed extract requests before the timed ones")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "server.json"))
    args = parser.parse_args()
    if args.streams * args.probes * args.rate * args.connections * args.locust_users * args.tokens <= 0:
        raise SystemExit("--streams, --probes, --rate, --connections, --locust-users and --tokens must be positive")
    if args.client == "locust" and shutil.which(args.locust) is None:
        raise SystemExit(f"locust not found at {args.locust!r}: pass --locust PATH or set LOCUST_BIN")

    with tempfile.TemporaryDirectory(prefix="bench-server-") as data_dir:
        stream_s = 600
        env = bench_env(args.db, args.redis_url, data_dir, stream_s)
        token, ids, keys = prepare(args.db, env, args.streams, args.tokens)
        procs = start(env, args.port, args.web_workers)
        roots = {"web": procs[0].pid, "celery_worker": procs[1].pid}
        try:
            results: dict[str, Any] = {"with_open_streams": streams_scenario(args.port, token, ids, args.probes)}
            before = cpu_snapshot(roots)
            started = time.monotonic()
            if args.client == "locust":
                extract = locust_scenario(
                    args.port, keys, args.rate, args.seconds, args.locust_users, args.warmup, args.locust
                )
            else:
                extract = extract_scenario(args.port, keys, args.rate, args.seconds, args.connections, args.warmup)
            after = cpu_snapshot(roots)
            # CPU seconds each part used per second of the extract part (warm-up included; the streams
            # stay open meanwhile): where the machine's cores went.
            wall = time.monotonic() - started
            extract["cpu_cores_used"] = {k: round((after[k] - before[k]) / wall, 3) for k in after if k in before}
            results["extract_rules"] = extract
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

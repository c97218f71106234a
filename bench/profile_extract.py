"""Where the time of one ``POST /api/v1/extract`` goes, in process: no server, no load generator.

Sends ``--requests`` (300) extract requests (the load test's text, ``rules`` pipeline, a token
user) through the production settings and middleware (``DJANGO_DEBUG=0``) twice: through the
WSGI handler (Django's test ``Client``) and through the ASGI application (``nlpapp.asgi``, called
with an in-memory ASGI scope, as uvicorn would).  Reports the CPU time per request of this process
(``time.process_time``, all its threads; the database server's own time is not in it), the SQL
statements of one request, and the functions with the most cumulative time under cProfile (in the
ASGI case the event loop's and the request threads' merged).  ``--redis-url`` keeps the cache, and
so the throttle counters, in Redis as the production server does (else in process memory).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/profile_extract.py [--requests 300] [--rounds 1] [--top 25] \\
        [--redis-url redis://127.0.0.1:6379/0]

It makes and drops its own test database (``test_<name>``).  Writes bench/results/profile_extract.json
with the load average: CPU milliseconds on a shared machine are only roughly comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEXT = "Hi, my order ORD-2024-118842 arrived damaged; call me at +1 303 555 0147 or mail maria.lopez@example.com"
BODY = json.dumps({"text": TEXT, "options": {"pipeline": "rules"}}).encode()


def configure(redis_url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")
    if redis_url:  # the cache (throttle counters) in Redis, as on the production server
        os.environ["CACHE_URL"] = redis_url
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(48))
    # As docker/gunicorn.conf.py sets them for the web service.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("DB_POOL_SIZE", "10")
    os.environ.update(
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",
        API_THROTTLE_USER="100000000/min",
        NER_RECOGNIZERS="patterns,rules,gazetteer",
        LOG_LEVEL="warning",
    )
    import django

    django.setup()


def seed() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from ner.roles import AGENT, sync_role_groups

    sync_role_groups()
    user = get_user_model().objects.create_user("profile-agent")
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=AGENT))
    return str(Token.objects.create(user=user).key)


def wsgi_requests(token: str, n: int) -> None:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    for _ in range(n):
        response = client.post(
            "/api/v1/extract", BODY, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
        )
        assert response.status_code == 200, response.content[:300]


def asgi_requests(token: str, n: int) -> None:
    from nlpapp.asgi import application

    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Token {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"accept", b"application/json"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/extract",
        "raw_path": b"/api/v1/extract",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def one() -> int:
        sent = False
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await application(dict(scope), receive, send)
        return statuses[0]

    async def run() -> None:
        for _ in range(n):
            status = await one()
            assert status == 200, status

    asyncio.run(run())


SORT = os.environ.get("PROFILE_SORT", "cumulative")
STATEMENTS: list[str] = []
NEW_CONNECTIONS: list[int] = []


def _record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    STATEMENTS.append(sql)
    return execute(sql, params, many, context)


def count_sql() -> None:
    """Record every statement of every connection, whichever thread opened it (ASGI runs views in threads)."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    def attach(sender: Any, connection: Any, **kwargs: Any) -> None:
        NEW_CONNECTIONS.append(1)
        if _record not in connection.execute_wrappers:
            connection.execute_wrappers.append(_record)

    connection_created.connect(attach, weak=False)
    for conn in connections.all():
        conn.execute_wrappers.append(_record)


def _profile_request_threads() -> tuple[list[cProfile.Profile], Any]:
    """Profilers for the ASGI handler's request threads (cProfile sees only the thread it runs in).

    Returns the profilers (one per thread, filled as requests come) and a function that undoes the wrap.
    """
    from nlpapp.asgi import application

    profilers: list[cProfile.Profile] = []
    mine = threading.local()
    respond = application._respond

    def profiled(*args: Any) -> Any:
        profiler = getattr(mine, "profiler", None)
        if profiler is None:
            profiler = mine.profiler = cProfile.Profile()
            profilers.append(profiler)
        profiler.enable()
        try:
            return respond(*args)
        finally:
            profiler.disable()

    application._respond = profiled  # type: ignore[method-assign,assignment]

    def undo() -> None:
        application._respond = respond  # type: ignore[method-assign]

    return profilers, undo


def measure(name: str, fn: Any, token: str, n: int, top: int, rounds: int) -> dict[str, Any]:
    fn(token, 20)  # warm: imports, compiled patterns, the first connection
    STATEMENTS.clear()
    NEW_CONNECTIONS.clear()
    fn(token, 10)
    statements = STATEMENTS[: len(STATEMENTS) // 10]
    sql_per_request = len(STATEMENTS) / 10
    connections_per_request = len(NEW_CONNECTIONS) / 10
    cpu_rounds: list[float] = []
    wall_rounds: list[float] = []
    for _ in range(rounds):  # on a shared machine the least of several rounds is the steadiest figure
        cpu0, wall0 = time.process_time(), time.perf_counter()
        fn(token, n)
        cpu_rounds.append((time.process_time() - cpu0) * 1000 / n)
        wall_rounds.append((time.perf_counter() - wall0) * 1000 / n)
    cpu_ms, wall_ms = min(cpu_rounds), min(wall_rounds)
    from nlpapp.asgi import application

    wrap = fn is asgi_requests and hasattr(application, "_respond")
    threads, undo = _profile_request_threads() if wrap else ([], lambda: None)
    profiler = cProfile.Profile()
    profiler.enable()
    fn(token, n)
    profiler.disable()
    undo()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for extra in threads:  # the request threads' own time, merged with the event loop's
        stats.add(extra)
    stats.sort_stats(SORT).print_stats(top)
    return {
        "path": name,
        "cpu_ms_per_request": round(cpu_ms, 3),
        "wall_ms_per_request": round(wall_ms, 3),
        "cpu_ms_per_request_rounds": [round(x, 3) for x in cpu_rounds],
        "sql_per_request": sql_per_request,
        "connections_opened_per_request": connections_per_request,
        "sql": statements,
        "profile_top_cumulative": out.getvalue().splitlines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds of --requests; the least is reported")
    parser.add_argument(
        "--redis-url", default="", help="keep the cache (throttle counters) in this Redis, as production does"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "profile_extract.json"))
    args = parser.parse_args()
    configure(args.redis_url)
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    old = setup_databases(verbosity=0, interactive=False)
    test_db = settings.DATABASES["default"]["NAME"]
    try:
        count_sql()
        token = seed()
        results = [
            measure("wsgi (test Client)", wsgi_requests, token, args.requests, args.top, args.rounds),
            measure("asgi (nlpapp.asgi)", asgi_requests, token, args.requests, args.top, args.rounds),
        ]
    finally:
        from django.db import connections

        from ner.monitoring import flush_inference_logs

        flush_inference_logs()  # before the database goes (else the exit flush waits for it)
        from nlpapp.asgi import application

        if hasattr(application, "close_connections"):
            application.close_connections()  # the request threads' own
        connections.close_all()
        for conn in connections.all():
            if getattr(conn, "pool", None) is not None:
                conn.close_pool()  # type: ignore[attr-defined]
        try:
            teardown_databases(old, verbosity=0)
        except Exception as exc:  # connections still open in a thread: drop it by hand
            print(f"could not drop the test database {test_db}: {exc}", file=sys.stderr)
    report = {
        "what": "POST /api/v1/extract (rules pipeline), in process, production settings, DEBUG off",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
        "requests": args.requests,
        "settings": {k: os.environ.get(k, "") for k in ("DB_POOL_SIZE", "DB_CONN_MAX_AGE", "CACHE_URL", "WEB_THREADS")},
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    for r in results:
        print(
            f"{r['path']}: {r['cpu_ms_per_request']} ms CPU/request (rounds {r['cpu_ms_per_request_rounds']}), "
            f"{r['sql_per_request']} SQL/request"
        )
        for sql in r["sql"]:
            print("   ", sql[:160])
        print("\n".join(r["profile_top_cumulative"][:60]))
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()

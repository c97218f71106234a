"""The load generator of bench/bench_server.py: open loop, keep-alive connections, tokens in turn.

Run against a small HTTP/1.1 server in this process (no Django): the figures of the load test
are only as good as the client that takes them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_server", ROOT / "bench" / "bench_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Server:
    """Answers every request 200 (chunked every third one); counts connections and tokens."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.connections = 0
        self.tokens: Counter[str] = Counter()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                fields = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if ":" in h)}
                await reader.readexactly(int(fields.get("content-length", "0")))
                self.tokens[fields.get("authorization", "")] += 1
                await asyncio.sleep(self.delay_s)
                served += 1
                if served % 3 == 0:
                    writer.write(CHUNKED)
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.stop()


def test_the_client_sends_at_the_rate_over_few_connections(server: _Server) -> None:
    result = _bench().extract_scenario(server.port, ["a", "b"], rate=200, seconds=0.5, connections=8, warmup=4)
    assert result["n"] == 100 and result["statuses"] == {"200": 100}
    assert result["connections_opened"] <= 8 and server.connections == result["connections_opened"]
    assert server.tokens == {"Token a": 52, "Token b": 52}  # warm-up included, the tokens in turn
    assert 100 <= result["achieved_rate_per_s"] <= 210  # late wake-ups on a busy machine lower it


def test_waiting_for_a_connection_counts_in_the_latency() -> None:
    slow = _Server(delay_s=0.05)
    try:
        # One connection, a request every 10 ms, each answered in 50 ms: the queue grows, and shows.
        result = _bench().extract_scenario(slow.port, ["a"], rate=100, seconds=0.3, connections=1, warmup=0)
    finally:
        slow.stop()
    assert result["n"] == 30 and result["p99_ms"] > 1000


def test_cpu_snapshot_names_its_parts() -> None:
    bench: Any = _bench()
    parts = bench.cpu_snapshot({"me": 1})
    assert {"me", "load_generator", "postgres", "redis"} <= set(parts)
    assert parts["load_generator"] > 0

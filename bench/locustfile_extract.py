"""Locust users for the extract part of bench/bench_server.py (``--client locust``).

Each user posts the bench's text to ``POST /api/v1/extract`` (rules pipeline) at a constant
throughput of ``BENCH_RATE / users`` requests a second, over a keep-alive connection
(``FastHttpUser``).  The bench script passes the token, the text and the rate in the environment
and runs locust headless, bounded by ``--run-time``, against 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os

from locust import FastHttpUser, constant_throughput, task

_USERS = max(1, int(os.environ.get("BENCH_USERS", "1")))
_RATE = float(os.environ.get("BENCH_RATE", "100"))
_BODY = json.dumps({"text": os.environ.get("BENCH_TEXT", ""), "options": {"pipeline": "rules"}})
_HEADERS = {
    "Authorization": f"Token {os.environ.get('BENCH_TOKEN', '')}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


class ExtractUser(FastHttpUser):
    wait_time = constant_throughput(_RATE / _USERS)

    @task
    def extract(self) -> None:
        self.client.post("/api/v1/extract", data=_BODY, headers=_HEADERS)

"""Locust users for the extract part of bench/bench_server.py (``--client locust``).

Each user posts the bench's text to ``POST /api/v1/extract`` (rules pipeline) at a constant
throughput of ``BENCH_RATE / users`` requests a second, over a keep-alive connection
(``FastHttpUser``).  The bench script passes the tokens (``BENCH_TOKENS``, shared by the users
in turn), the text and the rate in the environment and runs locust headless, bounded by
``--run-time``, against 127.0.0.1 only.
"""

from __future__ import annotations

import itertools
import json
import os
import random

import gevent
from locust import FastHttpUser, constant_throughput, task

_USERS = max(1, int(os.environ.get("BENCH_USERS", "1")))
_RATE = float(os.environ.get("BENCH_RATE", "100"))
_BODY = json.dumps({"text": os.environ.get("BENCH_TEXT", ""), "options": {"pipeline": "rules"}})
_TOKENS = os.environ.get("BENCH_TOKENS", "").split(",")
_NUMBERS = itertools.count()


class ExtractUser(FastHttpUser):
    wait_time = constant_throughput(_RATE / _USERS)

    def on_start(self) -> None:
        token = _TOKENS[next(_NUMBERS) % len(_TOKENS)]  # the users share the bench's tokens in turn
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        gevent.sleep(random.uniform(0, _USERS / _RATE))  # spread the users' first requests over one period

    @task
    def extract(self) -> None:
        self.client.post("/api/v1/extract", data=_BODY, headers=self.headers)

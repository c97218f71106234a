"""Fault injection for the worker reliability tests, installed only by tests.

A text carrying ``[fault:sleep=1.5]`` makes the pipeline step of its batch sleep;
``[fault:transient]`` raises a database ``OperationalError`` (retried like a lost
connection), ``[fault:permanent]`` a ``ValueError`` (the document fails at once), and
``[fault:crash]`` kills the worker process (as an OOM kill or a segfault would).

Reply suggestions honour ``[fault:sleep=N]`` in the conversation's last message: the
suggestion job sleeps once its row is claimed (``streaming``), standing in for a slow model.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence

MARKER = re.compile(r"\[fault:(?:sleep=(?P<sleep>\d+(?:\.\d+)?)|(?P<fail>transient|permanent|crash))\]")


def inject(texts: Sequence[str]) -> None:
    found = [m for text in texts for m in MARKER.finditer(text)]
    sleep = max((float(m["sleep"]) for m in found if m["sleep"]), default=0.0)
    if sleep:
        time.sleep(sleep)
    failures = {m["fail"] for m in found if m["fail"]}
    if "crash" in failures:
        os._exit(13)
    if "transient" in failures:
        from django.db import OperationalError

        raise OperationalError("simulated lost connection")
    if "permanent" in failures:
        raise ValueError("simulated bad input")


def slow_suggestion(_suggestion_id: int, turns: Sequence[object]) -> None:
    last = str(getattr(turns[-1], "text", "")) if turns else ""
    inject([last])


def install() -> None:
    from chat import generation
    from ner.extraction import documents

    if inject not in documents.before_pipeline:
        documents.before_pipeline.append(inject)
    if slow_suggestion not in generation.before_generation:
        generation.before_generation.append(slow_suggestion)

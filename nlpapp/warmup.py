"""Warm a web worker before it serves requests (called by docker/gunicorn.conf.py's ``post_worker_init``)."""

from __future__ import annotations

import logging
import os
import time

logger = logging.getLogger(__name__)

WARM_TEXT = "Warm-up: Jane Doe (jane@example.com, +1 415 555 0100) asked about order ORD-12345 from Acme Corp."


def warm_web_worker() -> float:
    """Run the default recognizers once in this process; returns the seconds it took (0 on failure).

    A failure is logged and left to the first request: warming must never keep a worker from starting.
    """
    from django.db import connections

    started = time.perf_counter()
    try:
        from ner.extraction.pipeline import extract

        extract([WARM_TEXT])
    except Exception:
        logger.exception("web worker warm-up failed; the first request will build the recognizers")
        return 0.0
    finally:
        connections.close_all()  # the rules and terms were read in this thread: give the connection back
    seconds = time.perf_counter() - started
    logger.info("web worker %d warmed in %.1f s", os.getpid(), seconds)
    return seconds

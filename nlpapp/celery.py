"""The Celery application.  With no ``CELERY_BROKER_URL`` tasks run eagerly in process."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nlpapp.settings")

app = Celery("nlpapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def warm_models() -> None:
    """Load the extraction and reply models once in this process (``NER_WARM_MODELS=1``), so the first task is not slow.

    Models are cached per process and per model version by their recognizers;
    a failure here is logged and left for the first task to report.
    """
    if os.environ.get("NER_WARM_MODELS", "") != "1":
        return
    started = time.perf_counter()
    try:
        from ner.extraction.pipeline import extract

        extract(["Warm-up: Jane Doe ordered a laptop from Acme Corp in Berlin."])
    except Exception:
        logger.exception("model warm-up failed; the first task will load the models")
        return
    try:  # the reply side: retrieval encoder, and the reply model when suggestions use it
        from chat.generation import warm_up

        loaded = warm_up()
    except Exception:
        logger.exception("reply model warm-up failed; the first suggestion will load it")
        loaded = []
    logger.info("models warmed in %.1f s (pid %d): extraction, %s", time.perf_counter() - started, os.getpid(), loaded)


@worker_process_init.connect
def _warm_prefork_child(**_: Any) -> None:
    # Each prefork child loads its own copy after the fork (torch and CUDA state must not cross a fork).
    warm_models()


@worker_ready.connect
def _warm_solo_worker(sender: Any = None, **_: Any) -> None:
    # The solo and threads pools run tasks in the main process, which sends no worker_process_init.
    pool = getattr(getattr(sender, "pool_cls", None), "__module__", "")
    if pool.endswith(("solo", "threads")):
        warm_models()

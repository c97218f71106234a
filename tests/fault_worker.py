"""The Celery app for test workers that honour fault markers: ``celery -A tests.fault_worker worker``."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init, worker_process_init

from nlpapp.celery import app

__all__ = ["app"]


@worker_init.connect
@worker_process_init.connect
def _install_faults(**kwargs: Any) -> None:
    import django

    django.setup()
    from tests import faults

    faults.install()

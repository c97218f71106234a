"""The one way to start background work, and the one place that reads a task's state.

Tasks are named, never imported: callers say ``send("ner.tasks.train_model", pk)``, and
the task module is looked up in Celery's registry (imported on first use).  That keeps
domain modules free of imports of the task adapters that call them back, which is what
made the old import cycles (services -> tasks -> services, registry -> tasks -> trainer
-> registry).

Two kinds of work:
- short, idempotent work (extraction): :func:`send`.  With a broker it is a Celery
  message; with no broker (``CELERY_TASK_ALWAYS_EAGER``) Celery runs it in process at once.
- long jobs that own a database row (training, evaluation, reply generation):
  :func:`launch`.  With a broker it is a Celery message; with no broker the task body runs
  in a daemon thread of this process, so the request that started it returns at once and
  the page can poll the row.  When the message cannot be sent, the row is marked failed
  with the reason instead of waiting forever.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

THREAD_PREFIX = "thread:"


class JobNotSent(RuntimeError):
    """The broker refused or could not be reached; the message says why."""


def _task(name: str) -> Any:
    """The registered Celery task called ``name`` (``module.function``), importing its module on first use."""
    from celery import current_app

    if name not in current_app.tasks:
        importlib.import_module(name.rsplit(".", 1)[0])
    return current_app.tasks[name]


def send(name: str, *args: Any, task_id: str | None = None) -> str:
    """Send task ``name`` with ``args``; in eager mode Celery runs it here before returning.

    Raises :class:`JobNotSent` when the message could not be sent (or, eagerly, the task raised).
    """
    task = _task(name)
    try:
        result = task.apply_async(args, task_id=task_id)
    except Exception as exc:  # the broker, or in eager mode the task itself: either way the caller's row waits
        raise JobNotSent(f"not sent: {type(exc).__name__}: {exc}") from exc
    return str(result.id or task_id or "")


@dataclass(frozen=True, slots=True)
class Launched:
    task_id: str
    in_thread: bool


def launch(
    name: str,
    pk: int,
    *,
    on_task_id: Callable[[str], Any] | None = None,
    on_not_sent: Callable[[str], Any] | None = None,
    in_thread: bool | None = None,
) -> Launched | None:
    """Start the long job ``name`` for row ``pk``: a Celery message, or a daemon thread without a broker.

    ``on_task_id`` records the task id on the row (``thread:<ident>`` for a thread);
    ``on_not_sent`` records why the message could not be sent (then ``None`` is returned).
    ``in_thread`` overrides the choice (default: when tasks run eagerly).
    """
    if settings.CELERY_TASK_ALWAYS_EAGER if in_thread is None else in_thread:
        return _launch_thread(name, pk, on_task_id)
    try:
        task_id = send(name, pk)
    except JobNotSent as exc:
        logger.warning("job %s(%s) %s", name, pk, exc)
        if on_not_sent is not None:
            on_not_sent(str(exc))
        return None
    if on_task_id is not None:
        on_task_id(task_id)
    return Launched(task_id, False)


def _launch_thread(name: str, pk: int, on_task_id: Callable[[str], Any] | None) -> Launched:
    task = _task(name)

    def target() -> None:
        close_old_connections()
        try:
            if on_task_id is not None:
                on_task_id(f"{THREAD_PREFIX}{threading.get_ident()}")
            task.run(pk)  # the task body writes its own failures on the row
        except Exception:
            logger.exception("job %s(%s) failed in its thread", name, pk)
        finally:
            connection.close()

    thread = threading.Thread(target=target, name=f"{name.rsplit('.', 1)[-1]}-{pk}", daemon=True)
    thread.start()
    return Launched(f"{THREAD_PREFIX}{thread.ident}", True)


# --- reading a task's state -----------------------------------------------------------------


def task_state(task_id: str) -> dict[str, Any] | None:
    """The state of a task, from the row that owns it, else from Celery; ``None`` when unknown.

    Keys: ``kind`` (``document``, ``model_version``, ``evaluation``, ``celery``), ``state``,
    ``done``, ``progress``, ``error``, ``objects`` (primary keys of the owning rows).
    """
    from ner.models import Document, EvaluationRun, ModelVersion

    docs = list(Document.objects.filter(task_id=task_id).order_by("pk").values("pk", "status", "error"))
    if docs:
        statuses = {d["status"] for d in docs}
        unfinished = statuses & {Document.Status.QUEUED, Document.Status.PROCESSING}
        if Document.Status.PROCESSING in statuses:
            state = "processing"
        elif unfinished:
            state = "queued"
        else:
            state = "failed" if Document.Status.FAILED in statuses else "done"
        finished = sum(1 for d in docs if d["status"] in {Document.Status.DONE, Document.Status.FAILED})
        return {
            "kind": "document",
            "state": state,
            "done": not unfinished,
            "progress": finished / len(docs),
            "error": next((d["error"] for d in docs if d["error"]), ""),
            "objects": [d["pk"] for d in docs],
        }
    version = ModelVersion.objects.filter(task_id=task_id).first()
    if version is not None:
        return {
            "kind": "model_version",
            "state": version.status,
            "done": version.status != ModelVersion.Status.TRAINING,
            "progress": version.progress,
            "error": version.error,
            "objects": [version.pk],
        }
    run = EvaluationRun.objects.filter(task_id=task_id).first()
    if run is not None:
        return {
            "kind": "evaluation",
            "state": run.status,
            "done": run.status in {EvaluationRun.Status.DONE, EvaluationRun.Status.FAILED},
            "progress": None,
            "error": run.error,
            "objects": [run.pk],
        }
    if settings.CELERY_TASK_ALWAYS_EAGER:  # no result backend to ask: tasks ran in process
        return None
    from celery.result import AsyncResult

    result: AsyncResult[Any] = AsyncResult(task_id)
    celery_state = str(result.state)
    if celery_state == "PENDING":  # Celery's answer for ids it has never seen as well as for waiting ones
        return None
    return {
        "kind": "celery",
        "state": celery_state.lower(),
        "done": celery_state in {"SUCCESS", "FAILURE", "REVOKED"},
        "progress": None,
        "error": str(result.result) if celery_state == "FAILURE" else "",
        "objects": [],
    }


def fail_lost_jobs() -> int:
    """Fail training and evaluation rows whose Celery task failed outside the job (worker lost, hard time limit).

    The job writes its own failures; when its process dies instead, only the
    result backend knows.  Rows without a task id, or run in a thread, are skipped.
    """
    from celery.result import AsyncResult

    from ner.models import EvaluationRun, ModelVersion

    rows: list[tuple[Any, Any]] = [
        (ModelVersion, ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING)),
        (EvaluationRun, EvaluationRun.objects.filter(status__in=["queued", "running"])),
    ]
    failed = 0
    for model, queryset in rows:
        for pk, task_id in queryset.exclude(task_id="").values_list("pk", "task_id"):
            if task_id.startswith(THREAD_PREFIX):
                continue
            result: AsyncResult[Any] = AsyncResult(task_id)
            if result.state not in ("FAILURE", "REVOKED"):
                continue
            reason = f"the task ended without finishing the job ({result.state}: {result.result!r})"[:1000]
            failed += model.objects.filter(pk=pk, status__in=["training", "queued", "running"]).update(
                status="failed", error=reason
            )
    if failed:
        logger.warning("sweep: %d training/evaluation job(s) lost with their worker marked failed", failed)
    return failed

"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness), as JSON.

``/healthz`` only says that this process answers requests: it touches neither the
database nor the broker, so it stays fast when they are slow and a container is not
restarted because Redis is.  ``/readyz`` checks the database, the broker, the
workers and the models; a part listed in ``HEALTH_REQUIRED`` that is down makes the
answer 503, so a load balancer takes the instance out.  Its result is kept in the
cache for ``HEALTH_CACHE_S`` seconds: a probe every second costs one worker ping
per interval, not one per probe.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

Check = dict[str, Any]


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "detail": "no CELERY_BROKER_URL: tasks run in process"}
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "mode": "broker", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "mode": "broker"}


def check_workers() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "workers": 0}
    from nlpapp.celery import app

    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception as exc:
        return {"ok": False, "workers": 0, "error": f"{type(exc).__name__}: {exc}"[:300]}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "workers": len(names), "names": names}


def check_models() -> Check:
    from ner.models import ModelVersion

    result: Check = {"spacy": importlib.util.find_spec(settings.SPACY_MODEL) is not None}
    for kind in ModelVersion.Kind:
        active = ModelVersion.objects.filter(kind=kind, is_active=True).first()
        result[kind.value] = (
            {"version": active.name, "present": active.folder.exists()}
            if active
            else {"version": None, "present": False}
        )
    tagger_ok = result["tagger"]["present"] or "tagger" not in settings.NER_RECOGNIZERS
    result["ok"] = bool(result["spacy"] and tagger_ok)
    return result


READY_CACHE_KEY = "nlpapp.health.readiness"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves requests. Nothing else is checked."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every required part is up (checked at most once per ``HEALTH_CACHE_S``)."""
    body = cache.get(READY_CACHE_KEY) if settings.HEALTH_CACHE_S else None
    if body is None:
        body = readiness()
        if settings.HEALTH_CACHE_S:
            cache.set(READY_CACHE_KEY, body, settings.HEALTH_CACHE_S)
        body = {**body, "cached": False}
    else:
        body = {**body, "cached": True}
    return JsonResponse(body, status=503 if body["down"] else 200)


def readiness() -> dict[str, Any]:
    started = time.perf_counter()
    checks: dict[str, Check] = {"database": check_database()}
    checks["broker"] = check_broker()
    checks["worker"] = check_workers() if checks["broker"]["ok"] else {"ok": False, "error": "broker down"}
    checks["models"] = check_models() if checks["database"]["ok"] else {"ok": False, "error": "database down"}
    down = [name for name in settings.HEALTH_REQUIRED if not checks[name]["ok"]]
    body = {
        "status": "ok" if not down else "down",
        "down": down,
        "required": list(settings.HEALTH_REQUIRED),
        "checks": checks,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        "checked_at": time.time(),
    }
    return body

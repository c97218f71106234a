"""The production configuration: `check --deploy` clean, whitenoise static files, a CSP the pages satisfy, ASGI."""

from __future__ import annotations

import asyncio
import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "templates", ROOT / "chat" / "templates", ROOT / "ner" / "templates"]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "CACHE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="nlpapp.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="nlpapp.example.com",
        NUM_PROXIES="1",
        DATA_DIR=str(tmp_path / "data"),
        STATIC_ROOT=str(tmp_path / "static"),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_check_deploy_prints_no_warnings_with_production_settings(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_defaults_follow_debug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in production_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    conf = runpy.run_path(str(ROOT / "nlpapp" / "settings.py"))
    assert conf["SECURE_SSL_REDIRECT"] and conf["SESSION_COOKIE_SECURE"] and conf["CSRF_COOKIE_SECURE"]
    assert conf["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert conf["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.setenv("DJANGO_HTTPS", "0")  # plain HTTP, e.g. compose on localhost
    conf = runpy.run_path(str(ROOT / "nlpapp" / "settings.py"))
    assert not conf["SECURE_SSL_REDIRECT"] and not conf["SESSION_COOKIE_SECURE"] and conf["SECURE_HSTS_SECONDS"] == 0


@pytest.mark.slow
def test_collectstatic_and_whitenoise_serve_hashed_cached_files(tmp_path: Path, settings: Any) -> None:
    result = manage(production_env(tmp_path), "collectstatic", "--noinput")
    assert result.returncode == 0, result.stderr
    static = tmp_path / "static"
    hashed = [p.name for p in (static / "chat").glob("agent.*.js")]
    assert hashed and (static / "staticfiles.json").exists()
    assert list((static / "chat").glob("agent.*.js.gz"))
    settings.STATIC_ROOT = static
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.DEBUG = False
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    response = Client().get(f"/static/chat/{hashed[0]}")
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]


# --- content security policy ---------------------------------------------------------------------


def test_pages_send_a_strict_script_policy(client: Client) -> None:
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
SCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


@pytest.mark.parametrize(
    "template",
    sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_templates_have_no_inline_script(template: Path) -> None:
    """`script-src 'self'` blocks inline scripts, event-handler attributes and javascript: URLs."""
    html = template.read_text()
    assert not INLINE_SCRIPT.search(html)
    assert not HANDLER_ATTRIBUTE.search(html)
    assert not SCRIPT_URL.search(html)


# --- the server ----------------------------------------------------------------------------------


def test_gunicorn_runs_uvicorn_workers_on_the_asgi_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DB_CONN_MAX_AGE", raising=False)  # restored afterwards: the file sets it
    conf = runpy.run_path(str(ROOT / "docker" / "gunicorn.conf.py"))
    assert conf["worker_class"] == "uvicorn_worker.UvicornWorker"
    assert os.environ["DB_CONN_MAX_AGE"] == "0"  # no persistent connections under ASGI
    assert conf["forwarded_allow_ips"] == ""  # NUM_PROXIES decides the client address, not the server
    compose = (ROOT / "docker" / "compose.yaml").read_text()
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    for text in (compose, dockerfile):
        assert "docker/gunicorn.conf.py" in text and "nlpapp.asgi:application" in text
        assert "nlpapp.wsgi" not in text


@pytest.mark.django_db(transaction=True)
def test_the_asgi_application_serves_requests() -> None:
    from tests.api_support import asgi_get

    status, body = asyncio.run(asgi_get("/healthz"))
    assert status == 200 and b'"ok"' in body


@pytest.mark.parametrize("address,local", [("127.0.0.1", True), ("::1", True), ("192.0.2.10", False)])
def test_debug_pages_stay_on_loopback(settings: Any, address: str, local: bool) -> None:
    """`make run` keeps the development server with debug on: only this machine may reach it."""
    settings.DEBUG = True
    response = Client(REMOTE_ADDR=address).get("/no-such-page/")  # with debug on, 404 lists the URL patterns
    assert response.status_code == (404 if local else 403)
    settings.DEBUG = False
    assert Client(REMOTE_ADDR=address).get("/healthz").status_code == 200

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any) -> Iterator[None]:
    """pytest-django's test database, and before it is dropped, the connections of the ASGI handler's threads.

    ``nlpapp.asgi`` serves requests from a fixed pool of threads that keep their connections between
    requests (``CONN_MAX_AGE``); PostgreSQL refuses to drop a database with a session still open.
    """
    yield
    asgi = sys.modules.get("nlpapp.asgi")
    if asgi is not None:
        asgi.application.close_connections()


@pytest.fixture
def redis_url() -> str:
    from django.conf import settings

    from tests.services import require_redis

    require_redis(settings.TEST_REDIS_URL)
    return str(settings.TEST_REDIS_URL)


# Debian's Chromium, headless, with the background services that would try the network switched off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless Chromium driven by Playwright; skips (fails under CI=true) when chromium is absent."""
    from tests.services import require_executable

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the tests' ORM calls run beside Playwright's loop
    executable = require_executable("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()

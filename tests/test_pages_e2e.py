"""The pages as each role sees them, in real headless Chromium (Playwright) against a live server.

API docs with the network cut off, the customer page at phone width, and every page at 390 and
1280 px without horizontal scrolling.  Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _offline(context: Any) -> list[str]:
    """Abort every request that leaves this machine; returns the list of blocked URLs."""
    blocked: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", handle)
    return blocked


def _close_db() -> None:
    from django.db import connections

    connections.close_all()


def _login_context(browser: Any, live_server: Any, user: Any, width: int, height: int = 900) -> Any:
    """A browser context already logged in as ``user`` (the session cookie of a test client)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": width, "height": height})
    host = urlparse(live_server.url).hostname
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "domain": host, "path": "/"}])
    return context


def _user(username: str, role: str | None, *, superuser: bool = False) -> Any:
    from django.contrib.auth.models import Group, User

    from ner.roles import sync_role_groups

    sync_role_groups()
    if superuser:
        return User.objects.create_superuser(username, password="e2e-pass-123")
    user = User.objects.create_user(username, password="e2e-pass-123")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def test_api_docs_render_with_the_network_cut_off(live_server: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked = _offline(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert page.locator(".swagger-ui .opblock-summary-path[data-path='/api/v1/extract']").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "api-docs-offline.png"))

    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("[data-section-id^='operation/']", state="attached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "api-redoc-offline.png"))

    assert not errors, errors
    assert not blocked, blocked
    context.close()
    _close_db()


NO_HORIZONTAL_SCROLL = "() => document.scrollingElement.scrollWidth <= window.innerWidth"


def test_customer_page_at_phone_width_shows_only_the_chat_card(live_server: Any, browser: Any) -> None:
    from chat.models import Conversation, Message

    ARTIFACTS.mkdir(exist_ok=True)
    conv = Conversation.objects.create(
        customer_name="Jane Roe", subject="Charged twice", customer_token="tok-e2e-phone"
    )
    Message.objects.create(
        conversation=conv, direction="in", author="Jane Roe", text="Hi, I was charged twice for order ORD-581234"
    )
    Message.objects.create(conversation=conv, direction="out", author="agent", text="Sorry about that, checking now.")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/c/{conv.customer_token}/")
    for text in ("A second message", "x" * 300):  # the second one has no break opportunity at all
        page.fill("#customer-text", text)
        page.click("#customer-form button[type=submit]")
        page.wait_for_selector(f"#customer-messages .msg:nth-child({conv.messages.count()})")

    assert page.locator("main > *").count() == 1, page.inner_html("main")[:500]
    assert page.locator("main > section.customer.card").count() == 1
    assert "from customer" not in page.inner_text("body")
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    page.screenshot(path=str(ARTIFACTS / "customer-390.png"), full_page=True)
    context.close()
    _close_db()

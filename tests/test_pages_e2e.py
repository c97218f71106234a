"""The pages as each role sees them, in real headless Chromium (Playwright) against a live server.

API docs with the network cut off, the customer page at phone width, and every page at 390, 1280
and 1920 px without horizontal scrolling.  Screenshots go to ``test-artifacts/``.
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


# A run of characters with no break opportunity, as pasted hashes, URLs and paths are.
LONG = "https://example.com/track/" + "A1b2C3d4" * 18
LONG_PATH = "/srv/nlpapp/data/eval/" + "customer-service-heldout-" * 6 + "dev.conll"


def _seed_every_page() -> dict[str, Any]:
    """Objects behind every page, each carrying long unbroken strings where users can type them."""
    from chat.models import Conversation, Message
    from ner.models import (
        Document,
        Entity,
        EvaluationRun,
        InferenceLog,
        ModelActivation,
        ModelVersion,
        ReviewAnnotation,
    )

    users = {
        "agent": _user("layout-agent", "agent"),
        "reviewer": _user("layout-reviewer", "reviewer"),
        "reviewer2": _user("layout-reviewer2", "reviewer"),
        "admin": _user("layout-admin", None, superuser=True),
    }
    conv = Conversation.objects.create(
        customer_name="Jane " + "Roe" * 30, subject="Tracking " + LONG, customer_token="tok-e2e-layout"
    )
    text = f"My parcel {LONG} never came, order ORD-123456, card 4111 1111 1111 1111"
    doc = Document.objects.create(text=text, source="chat", status=Document.Status.DONE)
    Message.objects.create(conversation=conv, direction="in", author="Jane", text=text, document=doc)
    Message.objects.create(conversation=conv, direction="out", author="agent", text="Checking " + LONG)
    at = text.index(LONG)
    Entity.objects.create(document=doc, start=at, end=at + len(LONG), label="URL", text=LONG, score=0.9, source="x")
    # Longer than a part of the review page (NER_REVIEW_WINDOW_CHARS): shown in parts.
    sentence = f"Anna Smith asked about {LONG} and order ORD-123456 again. "
    long_doc = Document.objects.create(text=sentence * 120, status=Document.Status.DONE)
    Entity.objects.bulk_create(
        Entity(document=long_doc, start=i * len(sentence), end=i * len(sentence) + 10, label="PER", text="Anna Smith")
        for i in range(120)
    )
    other = Document.objects.create(text="Refund to " + LONG, status=Document.Status.DONE)
    Entity.objects.create(document=other, start=10, end=10 + len(LONG), label="URL", text=LONG, score=0.5, source="x")
    for reviewer, spans in ((users["reviewer"], [[10, 20, "URL"]]), (users["reviewer2"], [[10, 30, "ORG"]])):
        ReviewAnnotation.objects.create(document=other, reviewer=reviewer, spans=spans)

    old = ModelVersion.objects.create(
        name="tagger-" + "v" * 50, path=LONG_PATH, status="ready", metrics={"f1": 0.5}, base_model=LONG_PATH
    )
    new = ModelVersion.objects.create(
        name="tagger-v2",
        path=LONG_PATH,
        status="ready",
        is_active=True,
        metrics={"f1": 0.6},
        hyperparameters={"train": [LONG_PATH, LONG_PATH], "dev": LONG_PATH},
        notes=LONG,
    )
    ModelActivation.objects.create(model_version=new, previous=old, reason="F1 " + LONG)
    per_type = {f"LABEL_{'X' * 30}": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3}}
    metrics = {"strict": {"per_type": per_type, "micro": {"f1": 0.5}}, "conlleval": {"per_type": per_type}}
    for version in (old, new):
        EvaluationRun.objects.create(
            model_version=version, pipeline="tagger", data_path=LONG_PATH, micro_f1=0.5, metrics=metrics
        )
    for i in range(30):
        InferenceLog.objects.create(kind="extract", model_version=new, latency_ms=10 + i, ok=i % 7 != 0, error=LONG)
    return {"users": users, "conversation": conv, "document": doc, "long_document": long_doc}


NAV_CUT_OFF = """() => [...document.querySelectorAll('.mainnav a')].some((a) => {
  const right = a.getBoundingClientRect().right;
  return right > window.innerWidth || right > a.parentElement.getBoundingClientRect().right + 1;
})"""

PAGES_BY_ROLE = [
    ("inbox", "agent", "/"),
    ("conversation", "agent", "/conversations/{conversation}/"),
    ("customer", None, "/c/tok-e2e-layout/"),
    ("customer-start", None, "/c/new/"),
    ("login", None, "/accounts/login/"),
    ("api-docs", None, "/api/docs/"),
    ("api-redoc", None, "/api/redoc/"),
    ("review-queue", "reviewer", "/review/?status=all"),
    ("review-document", "reviewer", "/review/documents/{document}/"),
    ("review-document-part", "reviewer", "/review/documents/{long_document}/?part=2"),
    ("agreement", "reviewer", "/review/agreement/"),
    ("registry", "admin", "/models/"),
    ("evaluations", "admin", "/evaluations/"),
    ("monitoring", "reviewer", "/monitoring/"),
]


def test_every_page_fits_390_1280_and_1920_px_without_horizontal_scrolling(live_server: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    seeded = _seed_every_page()
    ids = {name: seeded[name].pk for name in ("conversation", "document", "long_document")}
    too_wide: list[str] = []
    failed: list[str] = []  # every request a page makes must succeed (the favicon included)
    for width in (390, 1280, 1920):
        contexts = {role: _login_context(browser, live_server, user, width) for role, user in seeded["users"].items()}
        contexts[None] = browser.new_context(viewport={"width": width, "height": 900})
        for name, role, url in PAGES_BY_ROLE:
            page = contexts[role].new_page()
            page.on(
                "response",
                lambda r, name=name: failed.append(f"{name}: {r.status} {r.url}") if r.status >= 400 else None,
            )
            response = page.goto(live_server.url + url.format(**ids))
            assert response is not None and response.status == 200, (name, width)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(ARTIFACTS / f"layout-{name}-{width}.png"), full_page=True)
            if page.evaluate(NAV_CUT_OFF):
                too_wide.append(f"{name} at {width} px: a top-bar link is cut off")
            if not page.evaluate(NO_HORIZONTAL_SCROLL):
                scroll = page.evaluate("document.scrollingElement.scrollWidth")
                too_wide.append(f"{name} at {width} px: {scroll} px wide")
            page.close()
        refused = contexts["agent"].new_page()  # the 403 page is a page of the site too
        response = refused.goto(f"{live_server.url}/evaluations/")
        assert response is not None and response.status == 403
        assert refused.locator("#forbidden a[href='/']").count() == 1
        refused.screenshot(path=str(ARTIFACTS / f"layout-403-{width}.png"), full_page=True)
        if not refused.evaluate(NO_HORIZONTAL_SCROLL):
            too_wide.append(f"403 at {width} px")
        for context in contexts.values():
            context.close()
    assert not too_wide, too_wide
    assert not failed, failed
    _close_db()


def test_agent_reveals_a_masked_card_and_sees_what_redaction_removes(live_server: Any, browser: Any) -> None:
    from chat.models import Conversation, Message

    ARTIFACTS.mkdir(exist_ok=True)
    card = "4111 1111 1111 1111"
    conv = Conversation.objects.create(customer_name="Jane Roe", subject="Refund", customer_token="tok-e2e-mask")
    Message.objects.create(conversation=conv, direction="in", author="Jane", text=f"Refund to card {card} please")
    context = _login_context(browser, live_server, _user("mask-agent", "agent"), 1280)
    page = context.new_page()

    page.goto(f"{live_server.url}/")
    assert card not in page.inner_text("[data-testid=inbox]")
    assert "•••• •••• •••• 1111" in page.inner_text("[data-testid=inbox]")

    page.goto(f"{live_server.url}/conversations/{conv.pk}/")
    assert card not in page.inner_text("#messages")
    page.click("button.pii-reveal")
    page.wait_for_function("(card) => document.getElementById('messages').innerText.includes(card)", arg=card)

    page.check("#redact")
    page.fill("#composer-text", f"We refunded {card}; write to jane@example.com")
    page.wait_for_selector("#redact-preview:not([hidden])")
    removed = page.inner_text("#redact-preview")
    assert card in removed and "[card removed]" in removed and "[email removed]" in removed
    page.screenshot(path=str(ARTIFACTS / "composer-redaction-preview.png"))
    page.uncheck("#redact")
    page.wait_for_selector("#redact-preview", state="hidden")
    context.close()
    _close_db()


def test_inbox_shows_a_new_conversation_without_reloading(live_server: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = _login_context(browser, live_server, _user("live-agent", "agent"), 1280)
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    assert page.title().startswith("Inbox")
    assert page.locator("#inbox-list .conv").count() == 0

    customer = browser.new_context(viewport={"width": 390, "height": 844})
    start = customer.new_page()
    start.goto(f"{live_server.url}/c/new/")
    start.fill("input[name=name]", "Walk-in Wendy")
    start.fill("textarea[name=text]", "Hello, is anyone there?")
    start.click("button[type=submit]")
    start.wait_for_url("**/c/*/")

    page.wait_for_selector("#inbox-list .conv:has-text('Walk-in Wendy')", timeout=15_000)
    page.wait_for_function("() => document.title.startsWith('(1) Inbox')")
    assert "1 new conversation: Walk-in Wendy" in page.inner_text("#inbox-notice")
    page.screenshot(path=str(ARTIFACTS / "inbox-live-update.png"))
    customer.close()
    context.close()
    _close_db()

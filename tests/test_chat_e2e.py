"""The agent's whole flow in real headless Chromium (Playwright) against a live server.

An agent logs in, opens a conversation, sees an emoji-containing customer message
with its entities highlighted at the right characters, receives a suggestion streamed
by a tiny random model, edits and sends it; the customer's page shows the reply.
Screenshots go to ``test-artifacts/`` (1280 px and 390 px wide).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CUSTOMER_TEXT = "Hi 👋🏽 my order ORD-123456 is late 😞 please write to jane@example.com"

# Counts the server-sent "text" events the page receives, to prove the reply arrived in pieces.
COUNT_EVENTS = """
window.__textEvents = [];
const Original = window.EventSource;
window.EventSource = function (url) {
  const source = new Original(url);
  source.addEventListener("text", (ev) => window.__textEvents.push(JSON.parse(ev.data).text));
  return source;
};
"""


@pytest.fixture
def tiny_model_settings(settings: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any) -> None:
    from chat import generation
    from tests.tiny_reply_model import build_tiny_reply_model

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the tests' ORM calls run beside Playwright's loop
    settings.CHAT_REPLY_MODEL_DIR = str(build_tiny_reply_model(tmp_path_factory.mktemp("tiny-e2e")))
    settings.CHAT_RETRIEVAL_TOP_K = 0
    # The model writes the reply token by token: what these tests watch stream and stop
    # (a composed reply arrives whole; tests/test_compose_replies.py).
    settings.CHAT_REPLY_MODE = "model"
    settings.CHAT_GEN_BACKEND = "transformers"
    settings.CHAT_GEN_MAX_NEW_TOKENS = 48
    settings.CHAT_GEN_DTYPE = "float32"
    original = generation.stream_reply

    def slowed(*args: Any, on_text: Any, **kwargs: Any) -> Any:
        # The tiny model is too fast to watch: pace it like a real model (~25 tokens/s).
        def paced(piece: str) -> None:
            time.sleep(0.04)
            on_text(piece)

        return original(*args, on_text=paced, **kwargs)

    monkeypatch.setattr(generation, "stream_reply", slowed)


def _close_db() -> None:
    """Close this test's own connection: under Playwright's event loop Django keeps it per context,
    where the test database's teardown would not see it (and could not drop the database)."""
    from django.db import connections

    connections.close_all()


def _seed() -> tuple[Any, str]:
    from django.contrib.auth.models import Group, User

    from chat.models import Conversation, Message
    from ner.models import Document, Entity
    from ner.roles import AGENT, sync_role_groups

    sync_role_groups()
    agent = User.objects.create_user("agent-e2e", password="e2e-pass-123")
    agent.groups.add(Group.objects.get(name=AGENT))
    conv = Conversation.objects.create(customer_name="Jane Roe", subject="Late parcel", customer_token="tok-e2e-jane")
    doc = Document.objects.create(text=CUSTOMER_TEXT, source="chat", status=Document.Status.DONE)
    Message.objects.create(conversation=conv, direction="in", author="Jane Roe", text=CUSTOMER_TEXT, document=doc)
    for needle, label, source in (("ORD-123456", "ORDER_ID", "rule:order-id"), ("jane@example.com", "EMAIL", "x")):
        start = CUSTOMER_TEXT.index(needle)  # a code-point offset, as the pipeline stores it
        Entity.objects.create(
            document=doc, start=start, end=start + len(needle), label=label, text=needle, score=0.97, source=source
        )
    return conv, agent.username


def _open_conversation(browser: Any, live_server: Any, conversation_id: int, username: str) -> tuple[Any, Any]:
    """A 1280 px browser context logged in as ``username``, on the conversation's page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{live_server.url}/accounts/login/?next=/conversations/{conversation_id}/")
    page.fill("#id_username", username)
    page.fill("#id_password", "e2e-pass-123")
    page.click("button[type=submit]")
    return context, page


def test_agent_flow_in_chromium(live_server: Any, browser: Any, tiny_model_settings: None) -> None:
    from chat.models import Message, ReplySuggestion

    conv, username = _seed()
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(COUNT_EVENTS)
    page = context.new_page()
    page.set_default_timeout(30_000)

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", "e2e-pass-123")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=inbox]")
    page.click("text=Jane Roe")
    page.wait_for_selector("#messages mark.ent")

    # Highlights sit on exactly the entity characters despite the emoji before them.
    assert page.inner_text("mark.ent-ORDER_ID").startswith("ORD-123456")
    assert page.eval_on_selector("mark.ent-ORDER_ID", "m => m.firstChild.textContent") == "ORD-123456"
    assert page.eval_on_selector("mark.ent-EMAIL", "m => m.firstChild.textContent") == "jane@example.com"
    assert "ORDER_ID · score 0.97" in page.get_attribute("mark.ent-ORDER_ID", "title")
    page.screenshot(path=str(ARTIFACTS / "chat-conversation-1280.png"), full_page=True)

    # Alt+S asks for a suggestion; it streams into the composer.
    page.focus("#composer-text")
    page.keyboard.press("Alt+s")
    page.wait_for_selector("#conversation[data-suggestion-state=done]", timeout=60_000)
    events = page.evaluate("window.__textEvents")
    assert len(events) >= 2, events
    assert len(events[-1]) >= len(events[0])
    suggestion = ReplySuggestion.objects.get(conversation=conv)
    assert suggestion.status == "done" and suggestion.text
    # The agent sees how long the suggestion took: its first words and the whole of it.
    status = page.inner_text("#suggestion-status")
    assert re.search(r"ready in \d+\.\d s, first words after \d+ ms", status), status
    # (a textarea stores line breaks as \n)
    assert page.input_value("#composer-text") == suggestion.text.replace("\r\n", "\n").replace("\r", "\n")
    page.screenshot(path=str(ARTIFACTS / "chat-suggestion-1280.png"), full_page=True)

    # The agent edits the suggestion and sends it with Ctrl+Enter.
    page.fill("#composer-text", "Sorry about ORD-123456, Jane, it ships today.")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    page.wait_for_selector("article.msg-out")
    suggestion.refresh_from_db()
    assert suggestion.outcome == "edited"
    assert suggestion.final_text == "Sorry about ORD-123456, Jane, it ships today."
    assert Message.objects.filter(conversation=conv, direction="out").count() == 1

    # The customer sees it on their page.
    customer = context.new_page()
    customer.goto(f"{live_server.url}/c/{conv.customer_token}/")
    assert "Sorry about ORD-123456, Jane, it ships today." in customer.inner_text("#customer-messages")
    customer.screenshot(path=str(ARTIFACTS / "chat-customer-1280.png"), full_page=True)

    # 390 px wide (a phone): no horizontal scrolling, composer reachable.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=context.storage_state())
    mobile = phone.new_page()
    mobile.goto(f"{live_server.url}/conversations/{conv.pk}/")
    mobile.wait_for_selector("#messages mark.ent")
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert mobile.is_visible("#btn-send")
    mobile.screenshot(path=str(ARTIFACTS / "chat-conversation-390.png"), full_page=True)
    mobile.goto(f"{live_server.url}/")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    mobile.screenshot(path=str(ARTIFACTS / "chat-inbox-390.png"), full_page=True)
    phone.close()
    context.close()
    _close_db()


def test_stop_button_cancels_generation(
    live_server: Any, browser: Any, tiny_model_settings: None, settings: Any
) -> None:
    from playwright.sync_api import expect

    from chat.models import ReplySuggestion

    settings.CHAT_GEN_MAX_NEW_TOKENS = 400  # long enough that only the stop button ends it early
    conv, username = _seed()
    context, page = _open_conversation(browser, live_server, conv.pk, username)
    page.wait_for_selector("#btn-suggest")
    page.click("#btn-suggest")
    page.wait_for_selector("#btn-stop", state="visible")
    # A locator assertion, not wait_for_function: the page's CSP (script-src 'self') forbids eval.
    expect(page.locator("#composer-text")).not_to_have_value("", timeout=30_000)
    page.keyboard.press("Escape")
    page.wait_for_selector("#conversation[data-suggestion-state=cancelled]", timeout=30_000)
    suggestion = ReplySuggestion.objects.get(conversation=conv)
    deadline = time.time() + 10
    while suggestion.latency_ms is None and time.time() < deadline:  # the generator thread winds down
        time.sleep(0.1)
        suggestion.refresh_from_db()
    assert suggestion.status == "cancelled"
    assert suggestion.latency_ms is not None and suggestion.latency_ms < 400 * 40  # well before 400 paced tokens
    context.close()
    _close_db()


def test_a_suggestion_that_says_it_is_done_asks_the_agent_to_check(
    live_server: Any, browser: Any, tiny_model_settings: None, monkeypatch: Any
) -> None:
    from playwright.sync_api import expect

    from chat import generation

    def says_done(*_args: Any, on_text: Any, **_kwargs: Any) -> tuple[str, int, bool]:
        reply = "Sorry about ORD-123456, Jane. I've issued your refund."
        on_text(reply)
        return reply, 12, False

    monkeypatch.setattr(generation, "stream_reply", says_done)
    conv, username = _seed()
    context, page = _open_conversation(browser, live_server, conv.pk, username)
    page.click("#btn-suggest")
    page.wait_for_selector("#conversation[data-suggestion-state=done]", timeout=60_000)
    claim = page.locator("#suggestion-flags li.claim")
    expect(claim).to_have_count(1)
    expect(claim).to_have_text('Check before sending: "I\'ve issued your refund." says it is already done.')
    context.close()
    _close_db()

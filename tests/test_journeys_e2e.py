"""Two journeys end to end in headless Chromium (Playwright), beside the agent's
(``test_chat_e2e.py``) and the reviewer's (``test_review_e2e.py``):

- a customer starts a chat on a phone, an agent sees it arrive and answers, the customer sees
  the answer and writes again, and the agent sees that message appear, highlighted, without
  reloading;
- an admin finds a dispute between two blind reviewers, resolves it by choosing one annotation,
  finds the agreement figure unchanged, and sees a slow p95 flagged on the monitoring page.

Screenshots go to ``test-artifacts/journey-*.png``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_pages_e2e import ARTIFACTS, NO_HORIZONTAL_SCROLL, _close_db, _login_context, _user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_customer_journey_with_an_agent_answering(live_server: Any, browser: Any, settings: Any) -> None:
    from chat.models import Conversation, Message

    ARTIFACTS.mkdir(exist_ok=True)
    settings.NER_RECOGNIZERS = ["patterns", "rules"]  # highlights without loading a model
    agent_context = _login_context(browser, live_server, _user("journey-agent", "agent"), 1280)
    agent = agent_context.new_page()
    agent.goto(f"{live_server.url}/")
    errors: list[str] = []
    agent.on("pageerror", lambda exc: errors.append(f"agent: {exc}"))

    # The customer, on a phone, starts a chat.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    customer = phone.new_page()
    customer.on("pageerror", lambda exc: errors.append(f"customer: {exc}"))
    customer.goto(f"{live_server.url}/c/new/")
    assert customer.evaluate(NO_HORIZONTAL_SCROLL)
    customer.fill("input[name=name]", "Priya Patel")
    customer.fill("input[name=subject]", "Where is my order?")
    customer.fill("textarea[name=text]", "Hello, order ORD-581234 has not arrived. Mail me at priya@example.com")
    customer.screenshot(path=str(ARTIFACTS / "journey-customer-start-390.png"), full_page=True)
    customer.click("button[type=submit]")
    customer.wait_for_url("**/c/*/")
    conv = Conversation.objects.get(customer_name="Priya Patel")
    assert customer.locator("#customer-messages .msg-mine").count() == 1

    # The agent sees it arrive, opens it: the e-mail address is highlighted.
    agent.wait_for_selector("#inbox-list .conv:has-text('Priya Patel')", timeout=15_000)
    agent.goto(f"{live_server.url}/conversations/{conv.pk}/")
    agent.wait_for_selector("#messages mark.ent[data-label='EMAIL']")
    agent.fill("#composer-text", "Hello Priya, ORD-581234 left our warehouse today.")
    with agent.expect_navigation():
        agent.keyboard.press("Control+Enter")
    agent.wait_for_selector("article.msg-out")

    # The customer sees the answer without reloading, and writes again with Ctrl+Enter.
    customer.wait_for_selector("#customer-messages .msg-agent", timeout=15_000)
    assert "left our warehouse today" in customer.inner_text("#customer-messages")
    customer.fill("#customer-text", "Thank you! You can also call me on +44 20 7946 0958")
    customer.focus("#customer-text")
    customer.keyboard.press("Control+Enter")
    customer.wait_for_selector("#customer-messages .msg-mine >> nth=1")
    assert customer.evaluate(NO_HORIZONTAL_SCROLL)
    assert customer.locator("main > *").count() == 1  # only the chat card on the customer's page
    customer.screenshot(path=str(ARTIFACTS / "journey-customer-answered-390.png"), full_page=True)

    # The agent's open conversation shows the new message, highlighted, without a reload.
    agent.wait_for_selector("#messages mark.ent[data-label='PHONE']", timeout=15_000)
    assert Message.objects.filter(conversation=conv).count() == 3
    agent.screenshot(path=str(ARTIFACTS / "journey-agent-sees-reply-1280.png"), full_page=True)
    assert not errors, errors
    phone.close()
    agent_context.close()
    _close_db()


def test_admin_journey_resolves_a_dispute_and_reads_monitoring(live_server: Any, browser: Any, settings: Any) -> None:
    from ner.models import Document, Entity, InferenceLog, ReviewAnnotation
    from ner.review import actions, blind

    ARTIFACTS.mkdir(exist_ok=True)
    text = "Anna Smith ordered a Pixel 8 from Acme Corp in Berlin"
    doc = Document.objects.create(text=text, status=Document.Status.DONE)
    for word, label in (("Anna Smith", "PER"), ("Acme Corp", "ORG"), ("Berlin", "ORG")):
        start = text.index(word)
        Entity.objects.create(document=doc, start=start, end=start + len(word), label=label, text=word, score=0.5)
    ann, bob = _user("journey-ann", "reviewer"), _user("journey-bob", "reviewer")
    blind.complete(doc, ann)  # keeps all three
    blind.act(doc, bob, "relabel", {"entities": [doc.entities.get(text="Berlin").pk], "label": "LOC"})
    blind.complete(doc, bob)  # Berlin as LOC
    settings.MONITOR_P95_MS = {"extract": 1000, "generate": 10000}
    for i in range(20):
        InferenceLog.objects.create(kind="extract", latency_ms=12_000 if i % 2 else 50, ok=True)

    context = _login_context(browser, live_server, _user("journey-admin", None, superuser=True), 1280)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/review/agreement/")
    before = page.inner_text("#agreement-f1")
    assert before == "0.667"  # two of three spans shared
    assert "needs an admin" in page.inner_text("main")

    page.goto(f"{live_server.url}/review/?status=disputed")
    page.click(f"a[href^='/review/documents/{doc.pk}/']")
    page.wait_for_selector("#annotations")
    assert page.locator(".agreement-f1").inner_text() == "0.667"
    page.screenshot(path=str(ARTIFACTS / "journey-admin-dispute-1280.png"), full_page=True)
    bob_row = page.locator("#annotations tr", has_text="journey-bob")
    bob_row.locator("button[data-action=resolve]").click()
    page.wait_for_selector("#resolution")
    assert ReviewAnnotation.objects.get(document=doc, is_resolution=True).chosen
    assert (text.index("Berlin"), text.index("Berlin") + 6, "LOC") in actions.final_spans(doc)

    page.goto(f"{live_server.url}/review/agreement/")
    assert page.inner_text("#agreement-f1") == before  # resolving keeps the reviewers' figure
    assert "resolved" in page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "journey-admin-agreement-1280.png"), full_page=True)

    page.goto(f"{live_server.url}/monitoring/")
    flag = page.locator("strong.flag").first
    assert flag.inner_text().startswith("⚠ over 1000")
    page.screenshot(path=str(ARTIFACTS / "journey-admin-monitoring-1280.png"), full_page=True)
    assert not errors, errors
    context.close()
    _close_db()

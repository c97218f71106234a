"""The inbox and the conversation view are paginated (issue 17): the inbox reads one page of
conversations with each one's last message and unread count in one query, never every message
of 100 conversations; a thread shows its latest page and loads older pages on demand, and the
live updates keep what was loaded."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat.models import Conversation, Message
from tests.api_support import make_user


def _conversations(n: int, messages: int = 4, prefix: str = "c") -> list[Conversation]:
    out = []
    for i in range(n):
        conv = Conversation.objects.create(customer_name=f"{prefix}-customer-{i}", customer_token=f"tok-{prefix}-{i}")
        Message.objects.bulk_create(
            Message(conversation=conv, direction="in", author="x", text=f"{prefix}{i} message {j}")
            for j in range(messages)
        )
        out.append(conv)
    return out


def _thread(n: int) -> Conversation:
    conv = Conversation.objects.create(customer_name="Long Thread", customer_token="tok-long-thread")
    Message.objects.bulk_create(
        Message(conversation=conv, direction="in" if j % 2 == 0 else "out", author="x", text=f"thread message {j}.")
        for j in range(n)
    )
    return conv


@pytest.fixture
def agent_client(db: Any) -> Client:
    client = Client()
    client.force_login(make_user("pager-agent", "agent"))
    return client


def _inbox_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/", {"status": "all"}).status_code == 200
    assert not any('FROM "chat_message" WHERE "chat_message"."conversation_id" IN' in q["sql"] for q in queries)
    return len(queries)


def test_inbox_query_count_does_not_grow_with_conversations_or_messages(agent_client: Client, settings: Any) -> None:
    settings.CHAT_INBOX_PAGE_SIZE = 50
    _conversations(3, prefix="few")
    few = _inbox_queries(agent_client)
    _conversations(60, messages=12, prefix="many")
    assert _inbox_queries(agent_client) == few


def test_inbox_pages_show_the_last_message_and_unread_counts(agent_client: Client, settings: Any) -> None:
    settings.CHAT_INBOX_PAGE_SIZE = 10
    convs = _conversations(25)
    response = agent_client.get("/", {"status": "all"})
    html = response.content.decode()
    shown = [c for c, _last, _subject in response.context["conversations"]]
    assert [c.pk for c in shown] == [c.pk for c in reversed(convs[-10:])]  # newest first, one page
    assert "c24 message 3" in html and "c24 message 2" not in html  # the last message only
    assert 'title="4 unread customer messages"' in html
    assert "page 1 of 3" in html and "page=2" in html
    third = agent_client.get("/", {"status": "all", "page": "3"})
    assert [c.pk for c, *_ in third.context["conversations"]] == [c.pk for c in reversed(convs[:5])]
    assert agent_client.get("/", {"page": "²"}).status_code == 400
    assert agent_client.get("/inbox/updates", {"page": "٣"}).status_code == 400


def test_thread_shows_the_latest_page_and_loads_older_ones(agent_client: Client, settings: Any) -> None:
    settings.CHAT_THREAD_PAGE_SIZE = 30
    conv = _thread(75)
    ids = list(conv.messages.values_list("pk", flat=True))
    response = agent_client.get(f"/conversations/{conv.pk}/")
    html = response.content.decode()
    assert "thread message 74." in html and "thread message 45." in html and "thread message 44." not in html
    assert f'data-before="{ids[45]}"' in html and f'data-start="{ids[45]}"' in html

    older = agent_client.get(f"/conversations/{conv.pk}/messages", {"before": ids[45]}).json()
    assert "thread message 15." in older["html"] and "thread message 44." in older["html"]
    assert "thread message 45." not in older["html"] and "thread message 14." not in older["html"]
    assert older["first"] == ids[15] and older["has_older"]
    oldest = agent_client.get(f"/conversations/{conv.pk}/messages", {"before": ids[15]}).json()
    assert "thread message 0." in oldest["html"] and not oldest["has_older"]
    assert 'class="older"' not in oldest["html"]

    # The live update keeps what the page loaded: everything from the oldest message shown on.
    Message.objects.create(conversation=conv, direction="in", author="x", text="a brand new message.")
    live = agent_client.get(f"/conversations/{conv.pk}/messages", {"version": "", "start": str(ids[15])}).json()
    assert live["changed"] and live["first"] == ids[15]
    assert "thread message 15." in live["html"] and "a brand new message." in live["html"]
    assert "thread message 14." not in live["html"] and f'data-before="{ids[15]}"' in live["html"]
    # Without ``start``: the latest page.
    latest = agent_client.get(f"/conversations/{conv.pk}/messages", {"version": ""}).json()
    assert "thread message 46." in latest["html"] and "thread message 45." not in latest["html"]

    for bad in ("²", "٣", "-1", "abc"):
        assert agent_client.get(f"/conversations/{conv.pk}/messages", {"before": bad}).status_code == 400
        assert agent_client.get(f"/conversations/{conv.pk}/messages", {"start": bad}).status_code == 400
        assert agent_client.get(f"/conversations/{conv.pk}/", {"before": bad}).status_code == 400
    # Without JavaScript the link opens the older page.
    page = agent_client.get(f"/conversations/{conv.pk}/", {"before": ids[45]}).content.decode()
    assert "thread message 44." in page and "thread message 45." not in page


def test_thread_query_count_does_not_grow_with_the_thread(agent_client: Client, settings: Any) -> None:
    settings.CHAT_THREAD_PAGE_SIZE = 20
    counts = []
    for n, token in ((25, "short"), (400, "long")):
        conv = Conversation.objects.create(customer_name=token, customer_token=f"tok-{token}")
        Message.objects.bulk_create(
            Message(conversation=conv, direction="in", author="x", text=f"{token} {j}") for j in range(n)
        )
        with CaptureQueriesContext(connection) as queries:
            html = agent_client.get(f"/conversations/{conv.pk}/").content.decode()
        assert html.count('class="msg msg-') == 20
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_older_messages_load_in_the_browser_and_survive_live_updates(
    live_server: Any, browser: Any, settings: Any
) -> None:
    from tests.test_pages_e2e import _close_db, _login_context

    settings.CHAT_THREAD_PAGE_SIZE = 10
    conv = _thread(25)
    context = _login_context(browser, live_server, make_user("pager-e2e", "agent"), 1280)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/conversations/{conv.pk}/")
    assert page.locator("#messages article.msg").count() == 10
    page.click("#messages a.older")
    page.wait_for_function("() => document.querySelectorAll('#messages article.msg').length === 20")
    page.click("#messages a.older")
    page.wait_for_function("() => document.querySelectorAll('#messages article.msg').length === 25")
    assert page.locator("#messages a.older").count() == 0
    assert "thread message 0." in page.inner_text("#messages")
    Message.objects.create(conversation=conv, direction="in", author="x", text="arrived while reading.")
    page.wait_for_selector("#messages article.msg:has-text('arrived while reading.')", timeout=15_000)
    assert page.locator("#messages article.msg").count() == 26  # the older pages stayed
    assert errors == []
    context.close()
    _close_db()

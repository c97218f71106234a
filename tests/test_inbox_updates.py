"""The inbox updates itself: an endpoint answers "unchanged" for the current cursor, or the list
rendered again with the conversations new since the cursor and the unread count for the tab title."""

from __future__ import annotations

import pytest
from django.test import Client

from chat.models import Conversation, Message
from tests.api_support import make_user

pytestmark = pytest.mark.django_db


def _conversation(name: str, text: str) -> Conversation:
    conv = Conversation.objects.create(customer_name=name, subject=text[:20], customer_token=f"tok-{name}")
    Message.objects.create(conversation=conv, direction="in", author=name, text=text)
    return conv


def test_updates_since_a_cursor() -> None:
    client = Client()
    client.force_login(make_user("inbox-agent", "agent"))
    _conversation("Ann", "first question")
    page = client.get("/")
    assert "<title>(1) Inbox" in page.content.decode()
    cursor = page.context["cursor"]

    assert client.get("/inbox/updates", {"cursor": cursor}).json() == {"cursor": cursor, "changed": False}

    bob = _conversation("Bob", "my card 4111 1111 1111 1111 was charged twice")
    data = client.get("/inbox/updates", {"cursor": cursor}).json()
    assert data["changed"] and data["cursor"] != cursor
    assert data["new"] == [{"id": bob.pk, "customer_name": "Bob"}]
    assert data["unread"] == 2
    assert "Bob" in data["html"] and "Ann" in data["html"]
    assert "4111 1111 1111 1111" not in data["html"]  # masked as on the page

    # A new message in a known conversation changes the list, but is not a new conversation.
    Message.objects.create(conversation=bob, direction="in", author="Bob", text="hello?")
    later = client.get("/inbox/updates", {"cursor": data["cursor"]}).json()
    assert later["changed"] and later["new"] == [] and later["unread"] == 3


def test_updates_keep_the_page_filters() -> None:
    client = Client()
    client.force_login(make_user("inbox-agent2", "agent"))
    _conversation("Ann", "refund please")
    _conversation("Bob", "where is my parcel")
    data = client.get("/inbox/updates", {"cursor": "", "q": "parcel"}).json()
    assert "Bob" in data["html"] and "Ann" not in data["html"]


def test_updates_need_the_inbox_permission() -> None:
    client = Client()
    client.force_login(make_user("nobody-inbox", None))
    assert client.get("/inbox/updates").status_code == 403

"""Limits on the public side: throttled customer posts, capped messages, customer links that expire and rotate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from chat.models import Conversation, Message
from ner.roles import AGENT, sync_role_groups
from tests.api_support import API, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast(settings: Any) -> None:
    settings.NER_RECOGNIZERS = ["patterns"]
    cache.clear()


@pytest.fixture
def conv() -> Conversation:
    return Conversation.objects.create(customer_name="Jane", subject="Late", customer_token="tok-jane")


def _agent(client: Client) -> User:
    sync_role_groups()
    user = User.objects.create_user("alice")
    user.groups.add(Group.objects.get(name=AGENT))
    client.force_login(user)
    return user


# --- throttles ----------------------------------------------------------------------------------------


def test_new_conversations_are_throttled_per_address(client: Client, settings: Any) -> None:
    settings.CHAT_CUSTOMER_THROTTLE_START = "3/hour"
    statuses = [
        client.post("/c/new/", {"name": "Jane", "text": f"hi {i}"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    refused = client.post("/c/new/", {"name": "Jane", "text": "again"})
    assert int(refused["Retry-After"]) > 0
    assert b"try again in" in refused.content
    assert Conversation.objects.count() == 3


def test_customer_messages_are_throttled_per_address(client: Client, conv: Conversation, settings: Any) -> None:
    settings.CHAT_CUSTOMER_THROTTLE_POST = "2/min"
    statuses = [client.post("/c/tok-jane/", {"text": f"message {i}"}).status_code for i in range(4)]
    assert statuses == [302, 302, 429, 429]
    assert conv.messages.count() == 2
    other = Client(REMOTE_ADDR="198.51.100.9")  # another customer is not affected
    assert other.post("/c/tok-jane/", {"text": "from elsewhere"}).status_code == 302
    assert client.get("/c/tok-jane/").status_code == 200  # reading is not limited


# --- caps ---------------------------------------------------------------------------------------------


def test_message_length_cap_is_a_setting(client: Client, conv: Conversation, settings: Any) -> None:
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    response = client.post("/c/tok-jane/", {"text": "x" * 11})
    assert response.status_code == 400
    assert b"limited to 10 characters" in response.content
    assert client.post("/c/tok-jane/", {"text": "x" * 10}).status_code == 302


def test_messages_per_conversation_are_capped_everywhere(client: Client, conv: Conversation, settings: Any) -> None:
    settings.CHAT_MAX_MESSAGES_PER_CONVERSATION = 2
    assert client.post("/c/tok-jane/", {"text": "one"}).status_code == 302
    assert client.post("/c/tok-jane/", {"text": "two"}).status_code == 302
    full = client.post("/c/tok-jane/", {"text": "three"})
    assert full.status_code == 400 and b"limit of 2 messages" in full.content
    agent = _agent(Client())
    api = token_client(agent)
    response = api.post(f"{API}/conversations/{conv.pk}/messages", {"text": "reply"}, format="json")
    assert response.status_code == 400 and "limit of 2 messages" in response.json()["error"]["message"]
    assert conv.messages.count() == 2


# --- links --------------------------------------------------------------------------------------------


def test_customer_links_expire(client: Client, conv: Conversation, settings: Any) -> None:
    settings.CHAT_CUSTOMER_LINK_TTL_DAYS = 30
    Conversation.objects.filter(pk=conv.pk).update(customer_token_created_at=timezone.now() - timedelta(days=31))
    page = client.get("/c/tok-jane/")
    assert page.status_code == 410 and b"expired" in page.content
    assert client.post("/c/tok-jane/", {"text": "hello?"}).status_code == 410
    assert client.get("/c/tok-jane/messages").status_code == 410
    assert not Message.objects.exists()
    settings.CHAT_CUSTOMER_LINK_TTL_DAYS = 0  # never expire
    assert client.get("/c/tok-jane/").status_code == 200


def test_agents_rotate_the_customer_link(client: Client, conv: Conversation, settings: Any) -> None:
    settings.CHAT_CUSTOMER_LINK_TTL_DAYS = 30
    Conversation.objects.filter(pk=conv.pk).update(customer_token_created_at=timezone.now() - timedelta(days=31))
    agent_client = Client()
    _agent(agent_client)
    response = agent_client.post(f"/conversations/{conv.pk}/rotate-link", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    new_url = response.json()["customer_url"]
    conv.refresh_from_db()
    assert new_url == f"/c/{conv.customer_token}/" and conv.customer_token != "tok-jane"
    assert client.get("/c/tok-jane/").status_code == 404
    assert client.get(new_url).status_code == 200  # fresh: the expiry starts again
    page = agent_client.get(f"/conversations/{conv.pk}/")
    assert new_url.encode() in page.content and b"expires" in page.content


def test_rotating_needs_an_agent(client: Client, conv: Conversation) -> None:
    assert client.post(f"/conversations/{conv.pk}/rotate-link").status_code == 302  # to the login page
    client.force_login(User.objects.create_user("nobody"))
    assert client.post(f"/conversations/{conv.pk}/rotate-link").status_code == 403
    conv.refresh_from_db()
    assert conv.customer_token == "tok-jane"

"""The top bar offers exactly the pages a role can open, and a refused page is a styled 403 that
says what the role can do and links there."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from nlpapp.navigation import PAGES
from tests.api_support import make_user

pytestmark = pytest.mark.django_db

NAV_LINK = re.compile(r'<a href="([^"]+)" data-page="')


def _client_for(role: str | None, *, superuser: bool = False) -> Client:
    user = make_user(f"user-{role}-{superuser}", role)
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("role", "superuser", "expected"),
    [
        ("agent", False, ["/"]),
        ("reviewer", False, ["/", "/review/", "/models/", "/evaluations/", "/monitoring/"]),
        ("admin", False, ["/", "/review/", "/models/", "/evaluations/", "/monitoring/"]),
        (None, True, [page.url for page in PAGES]),
        (None, False, []),
    ],
)
def test_top_bar_lists_exactly_the_pages_that_open(role: str | None, superuser: bool, expected: list[str]) -> None:
    client = _client_for(role, superuser=superuser)
    opens = [page.url for page in PAGES if client.get(page.url).status_code == 200]
    assert opens == expected
    html = client.get("/accounts/login/").content.decode()  # a page every logged-in user can render
    assert NAV_LINK.findall(html) == expected


def test_agent_refused_a_reviewer_page_gets_a_styled_403_pointing_to_the_inbox() -> None:
    client = _client_for("agent")
    response = client.get("/evaluations/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="topbar"' in html and "chat/app.css" in html  # the site's layout, not Django's bare page
    assert "This page needs the reviewer or admin role." in html
    assert "The <strong>agent</strong> role answers conversations in the inbox" in html
    assert '<li><a href="/">Inbox</a>' in html
    assert "/evaluations/" not in NAV_LINK.findall(html)


def test_user_without_a_role_is_told_to_ask_an_admin() -> None:
    response = _client_for(None).get("/")
    assert response.status_code == 403
    assert "has no role yet" in response.content.decode()


def test_reviewer_refused_an_admin_action_sees_the_403_page(settings: Any) -> None:
    response = _client_for("reviewer").post("/models/rollback")
    assert response.status_code == 403
    assert "This page needs the admin role." in response.content.decode()
    assert '<li><a href="/review/">Review</a>' in response.content.decode()


def test_pages_link_a_favicon_the_app_ships() -> None:
    from django.contrib.staticfiles import finders

    html = _client_for("agent").get("/").content.decode()
    href = re.search(r'<link rel="icon" href="/static/([^"]+)"', html)
    assert href is not None and finders.find(href.group(1)) is not None

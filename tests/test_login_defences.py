"""Password guessing is limited on every login path, and X-Forwarded-For cannot be used to escape it."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from nlpapp.auth import client_ip

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"
PASSWORD = "right-horse-battery-staple"
SETTINGS = Path(__file__).resolve().parent.parent / "nlpapp" / "settings.py"


@pytest.fixture(autouse=True)
def fresh(settings: Any) -> None:
    cache.clear()
    settings.AXES_FAILURE_LIMIT = 5


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("boss", password=PASSWORD)


# --- the client's address ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_proxies,forwarded,expected",
    [
        (0, "6.6.6.6", "10.0.0.1"),
        (1, "6.6.6.6", "6.6.6.6"),
        (1, "1.1.1.1, 6.6.6.6", "6.6.6.6"),
        (2, "1.1.1.1, 6.6.6.6, 172.16.0.9", "6.6.6.6"),
        (3, "6.6.6.6", "6.6.6.6"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_num_proxies_entries(
    settings: Any, num_proxies: int, forwarded: str, expected: str
) -> None:
    settings.NUM_PROXIES = num_proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- throttles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_proxies", [0, 1])
def test_changing_x_forwarded_for_does_not_escape_the_token_throttle(settings: Any, num_proxies: int) -> None:
    settings.AXES_ENABLED = False  # the throttle alone
    settings.NUM_PROXIES = num_proxies
    settings.API_THROTTLE_RATES = {"user": "1000/min", "anon": "5/min"}
    client = APIClient()
    statuses = []
    for i in range(8):
        # The client writes whatever it likes on the left; the proxy appends the address it saw.
        forwarded = f"203.0.113.{i}, 198.51.100.7" if num_proxies else f"203.0.113.{i}"
        response = client.post(
            TOKEN_URL, {"username": "boss", "password": f"guess-{i}"}, format="json", HTTP_X_FORWARDED_FOR=forwarded
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [400] * 5
    assert statuses[5:] == [429] * 3


def test_settings_share_the_throttle_cache_through_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CACHE_URL", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    local = runpy.run_path(str(SETTINGS))
    assert local["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert local["REST_FRAMEWORK"]["NUM_PROXIES"] == 0
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://redis:6379/0")
    shared = runpy.run_path(str(SETTINGS))
    assert shared["CACHES"]["default"]["BACKEND"].endswith("RedisCache")
    assert shared["CACHES"]["default"]["LOCATION"] == "redis://redis:6379/0"
    monkeypatch.setenv("CACHE_URL", "memcached://x")
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        runpy.run_path(str(SETTINGS))


@pytest.mark.integration
def test_throttle_counters_live_in_redis_when_configured(settings: Any, redis_url: str) -> None:
    import redis

    settings.CACHES = {
        "default": {
            "BACKEND": "nlpapp.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "t17",
        }
    }
    settings.AXES_ENABLED = False
    settings.API_THROTTLE_RATES = {"user": "1000/min", "anon": "3/min"}
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    try:
        for _ in range(3):
            APIClient().post(TOKEN_URL, {"username": "x", "password": "y"}, format="json")
        # A second client, as another web process would be: same counter, so refused.
        assert APIClient().post(TOKEN_URL, {"username": "x", "password": "y"}, format="json").status_code == 429
        assert any(b"throttle_anon" in key for key in r.keys("*"))
    finally:
        r.flushdb()


# --- lockout ------------------------------------------------------------------------------------------


def _fail(client: Client, url: str, n: int) -> list[int]:
    return [client.post(url, {"username": "boss", "password": f"wrong-{i}"}).status_code for i in range(n)]


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_login_pages_lock_out_after_failures(staff: User, url: str) -> None:
    client = Client()
    # The form again, with an error; the failure that reaches the limit is already refused.
    assert _fail(client, url, 5) == [200] * 4 + [429]
    response = client.post(url, {"username": "boss", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_locked_out_address_cannot_try_other_usernames(staff: User) -> None:
    client = Client()
    for i in range(5):
        client.post("/accounts/login/", {"username": f"user{i}", "password": "nope"})
    assert client.post("/accounts/login/", {"username": "boss", "password": PASSWORD}).status_code == 429


def test_login_works_below_the_limit_and_resets_the_count(staff: User) -> None:
    client = Client()
    _fail(client, "/accounts/login/", 4)
    assert client.post("/accounts/login/", {"username": "boss", "password": PASSWORD}).status_code == 302
    client.logout()
    _fail(client, "/accounts/login/", 4)
    assert client.post("/accounts/login/", {"username": "boss", "password": PASSWORD}).status_code == 302


def test_token_endpoint_locks_out_after_failures(settings: Any, staff: User) -> None:
    settings.API_THROTTLE_RATES = {"user": "1000/min", "anon": "1000/min"}  # the lockout alone
    client = APIClient()
    statuses = [
        client.post(TOKEN_URL, {"username": "boss", "password": f"wrong-{i}"}, format="json").status_code
        for i in range(5)
    ]
    assert statuses == [400] * 4 + [429]
    response = client.post(TOKEN_URL, {"username": "boss", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert "token" not in response.json()
    assert response.json()["error"]["code"] == "locked_out"


def test_lockout_follows_the_client_address_not_the_header(settings: Any, staff: User) -> None:
    client = Client()
    for i in range(5):
        client.post(
            "/accounts/login/", {"username": "boss", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"
        )
    response = client.post(
        "/accounts/login/", {"username": "boss", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="192.0.2.200"
    )
    assert response.status_code == 429


def test_guessing_one_username_from_many_addresses_locks_that_username(staff: User) -> None:
    for i in range(5):
        Client(REMOTE_ADDR=f"198.51.100.{i}").post("/accounts/login/", {"username": "boss", "password": "wrong"})
    response = Client(REMOTE_ADDR="192.0.2.200").post("/accounts/login/", {"username": "boss", "password": PASSWORD})
    assert response.status_code == 429

"""The throttles' Redis path (``nlpapp.throttling``): DRF's sliding window, atomically, in one round trip.

Needs Redis (``TEST_REDIS_URL``; skipped locally without it, failing under ``CI=true``).  The
per-process memory cache path is DRF's own code, covered by the throttle tests elsewhere
(tests/test_login_defences.py, tests/test_customer_limits.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.test import APIClient

from nlpapp.cache import RedisCache
from nlpapp.ratelimit import AddressThrottle, retry_after

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def redis_cache(settings: Any, redis_url: str) -> Iterator[RedisCache]:
    import redis

    settings.CACHES = {"default": {"BACKEND": "nlpapp.cache.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": "t17w"}}
    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    raw = redis.Redis.from_url(redis_url)
    raw.delete(*(raw.keys("t17w:*") or ["none"]))
    yield backend
    raw.delete(*(raw.keys("t17w:*") or ["none"]))


def _request(address: str = "203.0.113.7") -> Any:
    return RequestFactory().get("/c/new/", REMOTE_ADDR=address)


def test_a_full_window_refuses_and_says_how_long_to_wait(redis_cache: RedisCache) -> None:
    assert [retry_after(_request(), "t", "3/min") for _ in range(3)] == [None, None, None]
    wait = retry_after(_request(), "t", "3/min")
    assert wait is not None and 1 <= wait <= 60
    assert retry_after(_request("203.0.113.8"), "t", "3/min") is None  # another address has its own window


def test_one_round_trip_per_request(redis_cache: RedisCache, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = redis_cache.eval_script

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("eval")
        return real(*args, **kwargs)

    monkeypatch.setattr(redis_cache, "eval_script", counted)
    monkeypatch.setattr(redis_cache, "get", lambda *a, **k: pytest.fail("the history is not read back"))
    monkeypatch.setattr(redis_cache, "set", lambda *a, **k: pytest.fail("the history is not written back"))
    for _ in range(4):
        AddressThrottle("t", "10/min").allow_request(_request(), None)
    assert calls == ["eval"] * 4


def test_simultaneous_requests_are_all_counted(redis_cache: RedisCache) -> None:
    """DRF's read-then-write could let two requests at the same moment both pass on the last free place."""
    allowed: list[bool] = []
    start = threading.Barrier(24)

    def one() -> None:
        start.wait(10)
        allowed.append(AddressThrottle("burst", "10/min").allow_request(_request(), None))

    threads = [threading.Thread(target=one) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(allowed) == [False] * 14 + [True] * 10


def test_the_window_slides(redis_cache: RedisCache, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(AddressThrottle, "timer", lambda self: clock[0])
    throttle = AddressThrottle("slide", "2/min")
    assert throttle.allow_request(_request(), None)
    clock[0] += 30
    assert throttle.allow_request(_request(), None)
    clock[0] += 1
    assert not throttle.allow_request(_request(), None)
    assert throttle.wait() == pytest.approx(60 - 31)  # until the first leaves the window
    clock[0] = 1000.0 + 60.5  # the first has left; the second is still in
    assert throttle.allow_request(_request(), None)
    assert not throttle.allow_request(_request(), None)


def test_a_value_left_under_drfs_key_is_no_obstacle(redis_cache: RedisCache) -> None:
    throttle = AddressThrottle("old", "5/min")
    key = throttle.get_cache_key(_request(), None)
    redis_cache.set(key, [1.0, 2.0], 60)  # what DRF's own code stores: a pickled list
    assert throttle.allow_request(_request(), None)


def test_the_api_throttle_counts_in_redis(redis_cache: RedisCache, settings: Any) -> None:
    settings.AXES_ENABLED = False
    settings.API_THROTTLE_RATES = {"user": "1000/min", "anon": "2/min"}
    statuses = [
        APIClient().post("/api/v1/auth/token", {"username": "x", "password": "y"}, format="json").status_code
        for _ in range(3)
    ]
    assert statuses[:2] != [429, 429] and statuses[2] == 429

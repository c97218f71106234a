from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def redis_url() -> str:
    from django.conf import settings

    from tests.services import require_redis

    require_redis(settings.TEST_REDIS_URL)
    return str(settings.TEST_REDIS_URL)

"""Rate limits for the plain Django views (the customer pages), with DRF's throttle underneath.

The same counters as the REST API's: kept in the Django cache (shared through Redis
when configured, counted there atomically: ``nlpapp.throttling``), keyed by the client
address ``nlpapp.auth.client_ip`` gives.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from nlpapp.auth import client_ip
from nlpapp.throttling import AtomicRedisThrottleMixin


class AddressThrottle(AtomicRedisThrottleMixin, SimpleRateThrottle):
    """``rate`` (``"20/min"``) requests per client address within ``scope``."""

    def __init__(self, scope: str, rate: str) -> None:
        self.scope = scope
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


def retry_after(request: Any, scope: str, rate: str) -> int | None:
    """Count this request; ``None`` when it is allowed, else the seconds until the next one is."""
    throttle = AddressThrottle(scope, rate)
    if throttle.allow_request(request, None):  # no DRF view here
        return None
    return max(1, math.ceil(throttle.wait() or 1))

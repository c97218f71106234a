"""DRF's sliding-window throttle, in one atomic Redis round trip when the cache is Redis.

DRF's ``SimpleRateThrottle`` reads the whole request history of a client from the cache (a
pickled list of timestamps, up to the rate's count), trims it, and writes it back: two round
trips per request, and two requests of one client at the same moment can both read the old list
and one of them is then not counted.  :class:`AtomicRedisThrottleMixin` keeps the same history as
a Redis sorted set and runs the same steps (drop what is older than the window, refuse when the
window is full, else record this request) in one Lua script: the same rule, one round trip, no
lost counts.  With another cache (the per-process memory cache of tests and single-process
runs) DRF's own code runs unchanged.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.cache import caches

from nlpapp.cache import RedisCache

# KEYS[1]: the sorted set (member: a unique id per request, score: its time).
# ARGV: now, window in seconds, the most requests in a window, this request's member.
# Returns {1} when the request is allowed (and recorded), else {0, requests in the window, oldest time}.
SLIDING_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, count, oldest[2]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('EXPIRE', key, math.ceil(window))
return {1}
"""


class AtomicRedisThrottleMixin:
    """For ``SimpleRateThrottle`` subclasses: one atomic round trip per request when the cache is Redis."""

    # From SimpleRateThrottle.
    rate: Any
    num_requests: Any
    duration: Any
    key: Any
    history: Any
    now: Any
    timer: Any
    get_cache_key: Any

    def allow_request(self, request: Any, view: Any) -> bool:
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # Not DRF's key: that one holds a pickled list, which a process still running DRF's code may write.
        result = backend.eval_script(
            SLIDING_WINDOW,
            keys=[backend.make_key(f"{self.key}:window")],
            args=[repr(self.now), self.duration, self.num_requests, f"{self.now!r}:{secrets.token_hex(6)}"],
        )
        if int(result[0]) == 1:
            self.history = []
            return True
        count, oldest = int(result[1]), float(result[2])
        # What SimpleRateThrottle.wait() reads: the number of requests in the window and the oldest last.
        self.history = [self.now] * (count - 1) + [oldest]
        return False

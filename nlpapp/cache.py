"""Django's Redis cache backend, keeping one ``redis.Redis`` client per connection pool.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every cache call; with redis-py 8
each one fills a table of about 170 response callbacks first, which cost more CPU than the round
trip itself (the API's throttle makes two cache calls per request).  A ``redis.Redis`` is safe to
share between threads (each command takes a connection from the pool), so one per pool is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    """``RedisCacheClient`` whose ``get_client`` returns the same client for the same pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with :class:`ReusedClientRedisCacheClient`, and Lua scripts."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._scripts: dict[str, Any] = {}

    def eval_script(self, lua: str, keys: list[str], args: list[Any]) -> Any:
        """Runs a Lua script on the write server (by its SHA, loading it the first time); ``keys`` as given."""
        client = self._cache.get_client(write=True)  # type: ignore[attr-defined]
        script = self._scripts.get(lua)
        if script is None:
            script = self._scripts[lua] = client.register_script(lua)
        return script(keys=keys, args=args, client=client)

"""Django's Redis cache, keeping one client per connection pool instead of one per call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    """redis-py builds its response callbacks in every `Redis()`: ~0.1 ms per cache call.

    `redis.Redis` is thread-safe, so one client per pool serves every call.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        if index not in self._clients:
            self._clients[index] = super().get_client(key, write=write)
        return self._clients[index]


_local_steps = threading.Lock()


def cache_step_atomic(lua: str, *, keys: list[str], args: list[Any], locally: Callable[[], int]) -> int:
    """Run one read-modify-write step on the default cache atomically, across every worker.

    On Redis `lua` runs as one script (one round trip) on `keys` (cache keys, made raw
    here) with `args`; on a cache that lives in this process (the local-memory default)
    `locally` does the same with Django's cache API under one process lock. Both answer the
    same integer.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        raw_keys = [backend.make_and_validate_key(key) for key in keys]
        return int(backend.script(lua)(keys=raw_keys, args=args))
    with _local_steps:
        return locally()


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._scripts: dict[str, Any] = {}

    def script(self, source: str) -> Any:
        """A Lua script on the write server, run by its SHA (one round trip; loaded on first use).

        Its keys are raw Redis keys (`make_and_validate_key`), and it sees integers as Django's
        Redis serializer stores them, unpickled; other values are pickled.
        """
        if source not in self._scripts:
            self._scripts[source] = self._cache.get_client(write=True).register_script(source)
        return self._scripts[source]

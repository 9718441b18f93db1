"""The Redis cache backend keeps one client per connection pool."""

from __future__ import annotations

from config.cache import RedisCache
from config.settings import base


def test_one_redis_client_serves_every_call() -> None:
    cache = RedisCache("redis://127.0.0.1:6379/9", {})

    first = cache._cache.get_client("a")
    assert cache._cache.get_client("b") is first
    assert cache._cache.get_client("c", write=True) is first  # one server: one pool for both


def test_redis_urls_get_the_keeping_backend() -> None:
    assert base.CACHE_BACKENDS["django.core.cache.backends.redis.RedisCache"] == "config.cache.RedisCache"

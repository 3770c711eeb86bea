"""Caches on each backend, with a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cache_helpers import MovableClock

from verenigingen.cache import VersionedCache
from verenigingen.cache.memory import MemoryBackend


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def redis_prefix() -> str:
    """Keys of this test only, so tests never see each other's entries or counters."""
    return f"test:cache:{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_cache(redis_url: str, redis_prefix: str, clock: MovableClock) -> Iterator[VersionedCache]:
    from verenigingen.cache.redis_backend import RedisBackend

    cache = VersionedCache(RedisBackend(redis_url, prefix=redis_prefix), clock=clock)
    yield cache
    cache.clear()


@pytest.fixture
def memory_cache(clock: MovableClock) -> VersionedCache:
    return VersionedCache(MemoryBackend(max_entries=100), clock=clock)


@pytest.fixture(params=["memory", "redis"])
def any_cache(request: pytest.FixtureRequest) -> VersionedCache:
    """The same behaviour on the in-process LRU and on Redis."""
    cache: VersionedCache = request.getfixturevalue(f"{request.param}_cache")
    return cache

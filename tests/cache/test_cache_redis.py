"""Redis as the shared cache of several processes: a payment committed in one process is never
followed by a stale read in another, and the statistics are the sum of every process."""

from __future__ import annotations

import multiprocessing
import random
import time
from decimal import Decimal

import pytest
import redis
from cache_helpers import make_ledger, pay
from cache_processes import committed_key, done_key, read_history, reader, ready_key
from sqlalchemy import Engine

from verenigingen.cache import VersionedCache, cache_from_settings
from verenigingen.cache.redis_backend import RedisBackend
from verenigingen.config import Settings
from verenigingen.db.session import make_session_factory, read_only, unit_of_work

PAYMENTS = 30


def _no_stale_read_across_processes(engine: Engine, redis_url: str, prefix: str) -> None:
    ledger = make_ledger(engine, "100.00")
    cache = VersionedCache(RedisBackend(redis_url, prefix=prefix))
    client = redis.Redis.from_url(redis_url)
    client.set(committed_key(prefix), "100.00")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    url = engine.url.render_as_string(hide_password=False)
    process = context.Process(target=reader, args=(url, redis_url, prefix, ledger, results))
    process.start()
    factory = make_session_factory(engine)
    writer_reads = 0
    try:
        deadline = time.monotonic() + 60
        while not client.exists(ready_key(prefix)):  # the reader is up and has warmed the entry
            assert process.is_alive()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        expected = Decimal("100.00")
        shuffle = random.Random(5)
        for number in range(PAYMENTS):
            with unit_of_work(factory) as session:
                pay(session, ledger, "1.00")
            expected -= Decimal("1.00")
            client.set(committed_key(prefix), str(expected))  # announced after the commit
            if number % 3 == 0:  # mostly the reader refills, racing the next payment
                with read_only(factory) as session:
                    assert read_history(cache, session, ledger) == expected
                writer_reads += 1
            time.sleep(shuffle.uniform(0.0, 0.01))
        time.sleep(0.3)  # the reader's lookups after the last payment
    finally:
        client.set(done_key(prefix), "1")
        outcome = results.get(timeout=60)
        process.join(30)
    assert "error" not in outcome, outcome
    assert outcome["stale"] == []
    assert outcome["reads"] >= 50
    stats = cache.stats()["history"]
    # One set of counters for both processes.
    assert stats.lookups == outcome["reads"] + writer_reads
    assert stats.invalidated >= 1
    assert stats.hits >= outcome["reads"] // 2


def test_no_stale_read_across_processes_sqlite(
    fresh_sqlite: Engine, redis_url: str, redis_prefix: str
) -> None:
    _no_stale_read_across_processes(fresh_sqlite, redis_url, redis_prefix)


def test_no_stale_read_across_processes_server(
    committed_server_engine: Engine, redis_url: str, redis_prefix: str
) -> None:
    _no_stale_read_across_processes(committed_server_engine, redis_url, redis_prefix)


def test_entries_carry_a_px_ttl_past_their_expiry(
    redis_cache: VersionedCache, fresh_sqlite: Engine
) -> None:
    with read_only(make_session_factory(fresh_sqlite)) as session:
        redis_cache.get_or_fill(session, "ttl", "k", ["t:1"], lambda: "v", ttl=60)
    backend = redis_cache.backend
    assert isinstance(backend, RedisBackend)
    remaining_ms = backend.client.pttl(f"{backend.prefix}:ttl:e:k")
    assert (60 + 600 - 5) * 1000 < remaining_ms <= (60 + 600) * 1000
    assert backend.client.exists(f"{backend.prefix}:ttl:f:k") == 0  # the fill lock is released


def test_clear_removes_only_its_own_prefix(
    redis_url: str, redis_prefix: str, fresh_sqlite: Engine
) -> None:
    mine = VersionedCache(RedisBackend(redis_url, prefix=redis_prefix))
    other = VersionedCache(RedisBackend(redis_url, prefix=f"{redis_prefix}-other"))
    with read_only(make_session_factory(fresh_sqlite)) as session:
        for cache in (mine, other):
            cache.get_or_fill(session, "n", "k", ["t:1"], lambda: 1, ttl=60)
    mine.clear()
    assert mine.stats() == {}
    assert mine.backend.read("n", "k") is None
    assert other.stats()["n"].cold == 1
    assert other.backend.read("n", "k") is not None
    other.clear()


def test_configuration_chooses_the_backend(redis_url: str) -> None:
    this = "2f0c5a57-0000-4000-8000-000000000001"  # an installation id
    assert cache_from_settings(Settings(redis_url=None), this).backend.name == "memory"
    redis_cache = cache_from_settings(Settings(redis_url=redis_url, jobs_namespace="vv"), this)
    assert redis_cache.backend.name == "redis"
    assert redis_cache.backend.prefix == f"vv:cache:{this}"  # type: ignore[attr-defined]
    forced = cache_from_settings(Settings(redis_url=redis_url, cache_backend="memory"), this)
    assert forced.backend.name == "memory"
    bounded = cache_from_settings(Settings(cache_max_entries=7), this)
    assert bounded.backend.max_entries == 7  # type: ignore[attr-defined]


def test_a_redis_outage_computes_from_the_database(
    fresh_sqlite: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    down = VersionedCache(RedisBackend("redis://127.0.0.1:1/0"))  # nothing listens on port 1
    ledger = make_ledger(fresh_sqlite)
    factory = make_session_factory(fresh_sqlite)
    with read_only(factory) as session:
        first = read_history(down, session, ledger)
    with unit_of_work(factory) as session:
        pay(session, ledger, "30.00")
    with read_only(factory) as session:
        second = read_history(down, session, ledger)
    assert (first, second) == (Decimal("100.00"), Decimal("70.00"))
    assert "Redis read failed" in caplog.text
    with pytest.raises(redis.ConnectionError):
        down.stats()  # the operator's command says that Redis is down

"""Lookups on both backends: hit, the three kinds of miss, eviction, statistics, exact values."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from cache_helpers import Ledger, MovableClock, make_ledger, outstanding, pay
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verenigingen.cache import (
    OUTSTANDING_TTL_SECONDS,
    SETTLED_TTL_SECONDS,
    NamespaceStats,
    VersionedCache,
    bump_tags,
    current_versions,
    money_ttl,
)
from verenigingen.cache.memory import MemoryBackend
from verenigingen.db.session import make_session_factory, read_only, unit_of_work
from verenigingen.errors import PermissionDenied
from verenigingen.perf.assertions import assert_queries


class Fills:
    """A fill function that counts its calls and returns the ledger's outstanding amount."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls = 0

    def __call__(self, session: Session) -> Any:
        def fill() -> dict[str, Any]:
            self.calls += 1
            return {"outstanding": outstanding(session, self.ledger), "fill": self.calls}

        return fill


def look(cache: VersionedCache, engine: Engine, ledger: Ledger, fills: Fills, **kw: Any) -> Any:
    """One lookup in a read-only transaction of its own, as a request would do it."""
    kw.setdefault("ttl", lambda value: money_ttl(value["outstanding"]))
    with read_only(make_session_factory(engine)) as session:
        return cache.get_or_fill(session, "history", ledger.key, ledger.tags, fills(session), **kw)


def test_cold_miss_then_hit(any_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    ledger = make_ledger(fresh_sqlite)
    fills = Fills(ledger)
    first = look(any_cache, fresh_sqlite, ledger, fills)
    second = look(any_cache, fresh_sqlite, ledger, fills)
    assert first == second == {"outstanding": Decimal("100.00"), "fill": 1}
    assert fills.calls == 1
    stats = any_cache.stats()["history"]
    assert (stats.hits, stats.cold, stats.invalidated, stats.expired) == (1, 1, 0, 0)
    assert stats.fill_count == 1


def test_committed_bump_invalidates(any_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    ledger = make_ledger(fresh_sqlite)
    fills = Fills(ledger)
    look(any_cache, fresh_sqlite, ledger, fills)
    with unit_of_work(make_session_factory(fresh_sqlite)) as session:
        pay(session, ledger, "40.00")
    after = look(any_cache, fresh_sqlite, ledger, fills)
    assert after == {"outstanding": Decimal("60.00"), "fill": 2}
    assert look(any_cache, fresh_sqlite, ledger, fills)["fill"] == 2
    stats = any_cache.stats()["history"]
    assert (stats.hits, stats.cold, stats.invalidated, stats.expired) == (1, 1, 1, 0)


def test_rolled_back_bump_keeps_the_entry(any_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    ledger = make_ledger(fresh_sqlite)
    fills = Fills(ledger)
    look(any_cache, fresh_sqlite, ledger, fills)
    factory = make_session_factory(fresh_sqlite)
    with factory() as session, session.begin():
        pay(session, ledger, "40.00")
        session.rollback()
    assert look(any_cache, fresh_sqlite, ledger, fills) == {
        "outstanding": Decimal("100.00"),
        "fill": 1,
    }


def test_expired_entry_is_a_miss(
    any_cache: VersionedCache, fresh_sqlite: Engine, clock: MovableClock
) -> None:
    ledger = make_ledger(fresh_sqlite)
    fills = Fills(ledger)
    look(any_cache, fresh_sqlite, ledger, fills, ttl=60)
    clock.advance(59)
    assert look(any_cache, fresh_sqlite, ledger, fills, ttl=60)["fill"] == 1
    clock.advance(2)
    assert look(any_cache, fresh_sqlite, ledger, fills, ttl=60)["fill"] == 2
    stats = any_cache.stats()["history"]
    assert (stats.hits, stats.cold, stats.invalidated, stats.expired) == (1, 1, 0, 1)


def test_money_ttl_policy(
    any_cache: VersionedCache, fresh_sqlite: Engine, clock: MovableClock
) -> None:
    assert money_ttl(Decimal("0.01")) == OUTSTANDING_TTL_SECONDS == 30 * 60
    assert money_ttl(Decimal("-5.00")) == OUTSTANDING_TTL_SECONDS  # a credit is open money too
    assert money_ttl(Decimal("0.00")) == SETTLED_TTL_SECONDS == 60 * 60
    open_ledger, settled_ledger = make_ledger(fresh_sqlite), make_ledger(fresh_sqlite)
    with unit_of_work(make_session_factory(fresh_sqlite)) as session:
        pay(session, settled_ledger, "100.00")
    open_fills, settled_fills = Fills(open_ledger), Fills(settled_ledger)
    look(any_cache, fresh_sqlite, open_ledger, open_fills)
    look(any_cache, fresh_sqlite, settled_ledger, settled_fills)
    clock.advance(30 * 60 + 1)  # past the outstanding TTL, within the settled one
    look(any_cache, fresh_sqlite, open_ledger, open_fills)
    look(any_cache, fresh_sqlite, settled_ledger, settled_fills)
    assert (open_fills.calls, settled_fills.calls) == (2, 1)
    clock.advance(30 * 60)  # 60 minutes and 1 second after the settled fill
    look(any_cache, fresh_sqlite, settled_ledger, settled_fills)
    assert settled_fills.calls == 2
    stats = any_cache.stats()["history"]
    assert (stats.hits, stats.cold, stats.expired) == (1, 2, 2)


def test_lru_evicts_the_least_recently_used(fresh_sqlite: Engine, clock: MovableClock) -> None:
    backend = MemoryBackend(max_entries=3)
    cache = VersionedCache(backend, clock=clock)
    calls: list[str] = []

    def lookup(key: str) -> str:
        with read_only(make_session_factory(fresh_sqlite)) as session:
            return cache.get_or_fill(
                session, "lru", key, [f"k:{key}"], lambda: calls.append(key) or key, ttl=60
            )

    for key in ("a", "b", "c"):
        lookup(key)
    lookup("a")  # a is now the most recent; b the least
    lookup("d")  # over the bound: b goes
    assert len(backend) == 3
    lookup("a")
    lookup("c")
    lookup("d")
    lookup("b")  # cold again
    assert calls == ["a", "b", "c", "d", "b"]
    stats = cache.stats()["lru"]
    assert (stats.hits, stats.cold) == (4, 5)


def test_statistics_are_exact(
    any_cache: VersionedCache, fresh_sqlite: Engine, clock: MovableClock
) -> None:
    ledger = make_ledger(fresh_sqlite)
    fills = Fills(ledger)
    for _ in range(4):  # 1 cold + 3 hits
        look(any_cache, fresh_sqlite, ledger, fills, ttl=100)
    with unit_of_work(make_session_factory(fresh_sqlite)) as session:
        pay(session, ledger, "10.00")
    for _ in range(3):  # 1 invalidated + 2 hits
        look(any_cache, fresh_sqlite, ledger, fills, ttl=100)
    clock.advance(101)
    for _ in range(3):  # 1 expired + 2 hits
        look(any_cache, fresh_sqlite, ledger, fills, ttl=100)
    stats = any_cache.stats()
    assert set(stats) == {"history"}
    history = stats["history"]
    assert history == NamespaceStats(
        hits=7, cold=1, invalidated=1, expired=1, fill_count=3, fill_us=history.fill_us
    )
    assert (history.lookups, history.misses) == (10, 3)
    assert history.hit_rate == pytest.approx(0.7)
    assert history.fill_us > 0
    assert history.fill_ms_mean == pytest.approx(history.fill_us / 1000 / 3)
    any_cache.clear()
    assert any_cache.stats() == {}


def test_money_and_dates_round_trip_exactly(
    any_cache: VersionedCache, fresh_sqlite: Engine
) -> None:
    value = {
        "outstanding": Decimal("0.10"),
        "large": Decimal("9999999999.99"),
        "scientific": Decimal("1E+2"),
        "negative": Decimal("-0.01"),
        "due": dt.date(2026, 2, 28),
        "paid_at": dt.datetime(2026, 3, 2, 14, 5, 6, 789),
        "lines": [{"amount": Decimal("12.50"), "text": "Contributie €"}, None, True, 3],
    }
    with read_only(make_session_factory(fresh_sqlite)) as session:
        any_cache.get_or_fill(session, "exact", "k", ["t:1"], lambda: value, ttl=60)
        cached = any_cache.get_or_fill(session, "exact", "k", ["t:1"], dict, ttl=60)
    assert cached == value
    assert any_cache.stats()["exact"].hits == 1
    assert [str(cached[name]) for name in ("outstanding", "large", "scientific", "negative")] == [
        "0.10",
        "9999999999.99",
        "1E+2",
        "-0.01",
    ]
    assert type(cached["due"]) is dt.date
    assert type(cached["paid_at"]) is dt.datetime
    assert type(cached["lines"][0]["amount"]) is Decimal


def test_a_float_or_object_is_refused(memory_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    with (
        read_only(make_session_factory(fresh_sqlite)) as session,
        pytest.raises(TypeError, match="not JSON"),
    ):
        memory_cache.get_or_fill(session, "exact", "k", ["t:1"], lambda: {"x": object()}, ttl=60)


@dataclass(frozen=True)
class Summary:
    member: str
    outstanding: Decimal


def test_encode_and_decode_hooks(any_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    def lookup() -> Summary:
        with read_only(make_session_factory(fresh_sqlite)) as session:
            return any_cache.get_or_fill(
                session,
                "summary",
                "m1",
                ["member:1"],
                lambda: Summary("m1", Decimal("25.00")),
                ttl=lambda summary: money_ttl(summary.outstanding),
                encode=lambda summary: {
                    "member": summary.member,
                    "outstanding": summary.outstanding,
                },
                decode=lambda data: Summary(**data),
            )

    assert lookup() == lookup() == Summary("m1", Decimal("25.00"))
    assert any_cache.stats()["summary"].hits == 1


def test_a_fill_in_a_writing_transaction_is_not_stored(
    any_cache: VersionedCache, fresh_sqlite: Engine
) -> None:
    # The payment is rolled back: had the fill inside its transaction been stored, the cache
    # would serve 60.00 under versions that are still current.
    ledger = make_ledger(fresh_sqlite)
    fills = Fills(ledger)
    factory = make_session_factory(fresh_sqlite)
    with factory() as session, session.begin():
        pay(session, ledger, "40.00")
        inside = any_cache.get_or_fill(
            session, "history", ledger.key, ledger.tags, fills(session), ttl=60
        )
        assert inside["outstanding"] == Decimal("60.00")
        session.rollback()
    assert look(any_cache, fresh_sqlite, ledger, fills)["outstanding"] == Decimal("100.00")
    assert (
        look(any_cache, fresh_sqlite, ledger, fills)["fill"] == 2
    )  # stored only after the rollback


def test_one_filler_per_key(any_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    ledger = make_ledger(fresh_sqlite)
    calls: list[int] = []
    start = threading.Barrier(8)
    results: list[Decimal] = []

    def slow_fill(session: Session) -> Any:
        def fill() -> dict[str, Any]:
            calls.append(1)
            time.sleep(0.2)  # long enough that every other thread finds the key being filled
            return {"outstanding": outstanding(session, ledger)}

        return fill

    def reader() -> None:
        with read_only(make_session_factory(fresh_sqlite)) as session:
            start.wait()
            value = any_cache.get_or_fill(
                session, "history", ledger.key, ledger.tags, slow_fill(session), ttl=60
            )
            results.append(value["outstanding"])

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [Decimal("100.00")] * 8
    assert len(calls) == 1
    stats = any_cache.stats()["history"]
    assert (stats.hits, stats.cold, stats.fill_count) == (7, 1, 1)


def test_a_filler_held_too_long_is_not_waited_for(
    any_cache: VersionedCache, fresh_sqlite: Engine
) -> None:
    any_cache.fill_wait_seconds = 0.05
    release = threading.Event()
    factory = make_session_factory(fresh_sqlite)

    def stuck() -> None:
        with read_only(factory) as session:
            any_cache.get_or_fill(
                session, "slow", "k", ["t:1"], lambda: release.wait(10) and "first", ttl=60
            )

    holder = threading.Thread(target=stuck)
    holder.start()
    time.sleep(0.1)  # the holder has the fill lock
    with read_only(factory) as session:
        started = time.perf_counter()
        alone = any_cache.get_or_fill(session, "slow", "k", ["t:1"], lambda: "alone", ttl=60)
        waited = time.perf_counter() - started
    release.set()
    holder.join(10)
    assert alone == "alone"
    assert 0.05 <= waited < 1.0
    with read_only(factory) as session:  # what the holder stored, not what the waiter computed
        assert (
            any_cache.get_or_fill(session, "slow", "k", ["t:1"], lambda: "third", ttl=60) == "first"
        )


def test_a_failed_fill_releases_the_key(any_cache: VersionedCache, fresh_sqlite: Engine) -> None:
    def broken() -> str:
        raise RuntimeError("database went away")

    with read_only(make_session_factory(fresh_sqlite)) as session:
        with pytest.raises(RuntimeError, match="went away"):
            any_cache.get_or_fill(session, "n", "k", ["t:1"], broken, ttl=60)
        assert any_cache.get_or_fill(session, "n", "k", ["t:1"], lambda: "ok", ttl=60) == "ok"
    stats = any_cache.stats()["n"]
    assert (stats.cold, stats.fill_count) == (2, 1)


def test_a_hit_is_one_statement(any_cache: VersionedCache, any_session: Session) -> None:
    tags = ["member:1", "customer:1", "invoice:7"]
    any_cache.get_or_fill(any_session, "history", "m1", tags, lambda: {"n": 1}, ttl=60)
    with assert_queries(1) as log:
        assert any_cache.get_or_fill(any_session, "history", "m1", tags, dict, ttl=60) == {"n": 1}
    assert "cache_tag" in log.queries[0].sql


def test_no_tags_no_statement(memory_cache: VersionedCache, any_session: Session) -> None:
    memory_cache.get_or_fill(any_session, "static", "k", [], lambda: 1, ttl=60)
    with assert_queries(0):
        assert memory_cache.get_or_fill(any_session, "static", "k", [], lambda: 2, ttl=60) == 1


def test_bad_namespace_is_refused(memory_cache: VersionedCache, session: Session) -> None:
    with pytest.raises(ValueError, match="namespace"):
        memory_cache.get_or_fill(session, "a:b", "k", ["t:1"], lambda: 1, ttl=60)


def test_bump_in_this_transaction_is_seen_by_its_own_lookup(
    memory_cache: VersionedCache, session: Session
) -> None:
    memory_cache.get_or_fill(session, "own", "k", ["t:1"], lambda: "old", ttl=60)
    bump_tags(session, ["t:1"])
    assert memory_cache.get_or_fill(session, "own", "k", ["t:1"], lambda: "new", ttl=60) == "new"


def test_memory_hits_decode_once_and_share_the_value(
    memory_cache: VersionedCache, fresh_sqlite: Engine
) -> None:
    decoded: list[Any] = []

    def decode(data: Any) -> Summary:
        decoded.append(data)
        return Summary(**data)

    def lookup() -> Summary:
        with read_only(make_session_factory(fresh_sqlite)) as session:
            return memory_cache.get_or_fill(
                session,
                "summary",
                "m1",
                ["member:1"],
                lambda: Summary("m1", Decimal("25.00")),
                ttl=60,
                encode=lambda summary: {
                    "member": summary.member,
                    "outstanding": summary.outstanding,
                },
                decode=decode,
            )

    lookup()
    first, second, third = lookup(), lookup(), lookup()
    assert first is second is third
    assert len(decoded) == 1


def test_versions_read_by_the_caller(memory_cache: VersionedCache, any_session: Session) -> None:
    # A caller that read the versions itself (tags.tag_version, beside its own row) sends no
    # version query; the entry is served only while the versions it passes are the stored ones.
    tags = ["member:5", "customer:9"]
    with assert_queries(0):
        memory_cache.get_or_fill(
            any_session, "own", "k", tags, lambda: 1, ttl=60, versions={tags[0]: 0, tags[1]: 3}
        )
        hit = memory_cache.get_or_fill(
            any_session, "own", "k", tags, lambda: 2, ttl=60, versions={tags[0]: 0, tags[1]: 3}
        )
        bumped = memory_cache.get_or_fill(
            any_session, "own", "k", tags, lambda: 3, ttl=60, versions={tags[0]: 0, tags[1]: 4}
        )
    assert (hit, bumped) == (1, 3)
    with pytest.raises(ValueError, match="are not those of the tags"):
        memory_cache.get_or_fill(
            any_session, "own", "k", tags, lambda: 4, ttl=60, versions={tags[0]: 0}
        )


def test_a_cold_fill_that_reads_its_versions_is_the_only_statement(
    any_cache: VersionedCache, any_session: Session
) -> None:
    versions_read: list[str] = []
    fills: list[str] = []

    def read_versions() -> dict[str, int]:
        versions_read.append("read")
        return current_versions(any_session, ["t:cold"])

    def fill() -> str:
        fills.append("fill")
        return f"fill {len(fills)}"

    def fill_cold() -> tuple[str, dict[str, int]]:
        fills.append("cold")
        return f"cold {len(fills)}", {"t:cold": 0}  # as a statement reading both would

    def lookup() -> str:
        return any_cache.get_or_fill_from(
            any_session,
            "raw",
            "k",
            read_versions=read_versions,
            fill=fill,
            fill_cold=fill_cold,
            ttl=60,
            encode=lambda text: f"<{text}>",
            decode=lambda stored: stored[1:-1],
            raw=True,
        )

    assert lookup() == "cold 1"  # nothing stored: the versions come with the value
    assert versions_read == []
    assert lookup() == "cold 1"  # stored as encode() gave it, judged by read_versions()
    assert versions_read == ["read"]
    bump_tags(any_session, ["t:cold"])
    assert lookup() == "fill 2"  # an entry whose versions changed is recomputed by fill()
    assert fills == ["cold", "fill"]
    stats = any_cache.stats()["raw"]
    assert (stats.cold, stats.hits, stats.invalidated) == (1, 1, 1)


def test_a_lookup_its_cold_fill_refuses_is_not_counted(
    memory_cache: VersionedCache, any_session: Session
) -> None:
    def refused() -> tuple[str, dict[str, int]]:
        raise PermissionDenied("not yours")

    with pytest.raises(PermissionDenied):
        memory_cache.get_or_fill_from(
            any_session,
            "refused",
            "k",
            read_versions=dict,
            fill=str,
            fill_cold=refused,
            ttl=60,
        )
    assert "refused" not in memory_cache.stats()

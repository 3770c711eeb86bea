"""The interleaving race of rule 5, with real committed transactions.

A reader's fill computes the history from a snapshot taken before a payment commits and stores
it after the commit. The cache keeps the versions it read before computing, so that entry is
never served once the payment's bump is visible. A deliberately wrong cache, kept here, labels
its fill with versions read after the data, and serves the old amount after the payment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from cache_helpers import Ledger, make_ledger, outstanding, pay
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from verenigingen.cache import VersionedCache, codec, current_versions, money_ttl
from verenigingen.cache.backend import StoredEntry
from verenigingen.db.session import make_session_factory, read_only, unit_of_work

T = TypeVar("T")


class VersionsAfterDataCache(VersionedCache):
    """DELIBERATELY WRONG: a fill is labelled with versions read after its value was computed.

    ``fresh_versions``: read them in a new transaction (as a cache that labels entries when it
    stores them would); otherwise in the reader's own session, which on READ COMMITTED engines
    (PostgreSQL, MariaDB here) sees the payment's commit too. On SQLite the reader's own
    transaction keeps its snapshot, so there only the fresh read goes wrong.
    """

    def __init__(self, cache: VersionedCache, engine: Engine, *, fresh_versions: bool) -> None:
        super().__init__(cache.backend, clock=cache.clock)
        self.engine = engine
        self.fresh_versions = fresh_versions

    def get_or_fill(  # type: ignore[override]
        self,
        session: Session,
        namespace: str,
        key: str,
        tags: Sequence[str],
        fill: Callable[[], T],
        *,
        ttl: Callable[[T], int] | int,
    ) -> T:
        versions = current_versions(session, tags)
        entry = self.backend.read(namespace, key)
        if entry is not None and entry.versions == versions and entry.expires_at > self.clock():
            value: T = codec.loads(entry.payload)
            return value
        value = fill()
        if self.fresh_versions:
            with read_only(make_session_factory(self.engine)) as fresh:
                versions = current_versions(fresh, tags)
        else:
            versions = current_versions(session, tags)
        seconds = ttl(value) if callable(ttl) else ttl
        stored = StoredEntry(versions, self.clock() + seconds, codec.dumps(value))
        self.backend.write(namespace, key, stored, seconds)
        return value


def history_ttl(value: dict[str, Any]) -> int:
    return money_ttl(value["outstanding"])


def race(engine: Engine, cache: VersionedCache) -> tuple[Ledger, Decimal, Decimal, bool]:
    """Fill from a snapshot, commit a payment of 40.00 mid-fill, store, then look up again.

    Returns the ledger, what the racing reader got, what the next reader is served, and whether
    the raced entry was stored under versions older than the payment's.
    """
    ledger = make_ledger(engine, "100.00")
    factory = make_session_factory(engine)
    snapshot_taken, committed = threading.Event(), threading.Event()
    raced: list[Decimal] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with read_only(factory) as session:

                def fill_across_the_commit() -> dict[str, Any]:
                    before = outstanding(session, ledger)  # the snapshot, before the payment
                    snapshot_taken.set()
                    assert committed.wait(10)
                    return {"outstanding": before}  # stored after the payment committed

                value = cache.get_or_fill(
                    session,
                    "history",
                    ledger.key,
                    ledger.tags,
                    fill_across_the_commit,
                    ttl=history_ttl,
                )
                raced.append(value["outstanding"])
        except BaseException as error:
            errors.append(error)
            snapshot_taken.set()

    thread = threading.Thread(target=reader)
    thread.start()
    assert snapshot_taken.wait(10)
    with unit_of_work(factory) as session:
        pay(session, ledger, "40.00")
    committed.set()
    thread.join(10)
    assert errors == []
    entry = cache.backend.read("history", ledger.key)
    assert entry is not None, "the raced fill was stored after the commit"
    with read_only(factory) as session:
        stored_before_payment = entry.versions != current_versions(session, ledger.tags)
    with read_only(factory) as session:
        served = cache.get_or_fill(
            session,
            "history",
            ledger.key,
            ledger.tags,
            lambda: {"outstanding": outstanding(session, ledger)},
            ttl=history_ttl,
        )
        assert outstanding(session, ledger) == Decimal("60.00")
    return ledger, raced[0], served["outstanding"], stored_before_payment


def _versions_read_first_never_serve_the_raced_fill(engine: Engine, cache: VersionedCache) -> None:
    ledger, raced, served, stored_before_payment = race(engine, cache)
    assert stored_before_payment
    assert raced == Decimal("100.00")  # the racing reader's own snapshot: consistent for it
    assert served == Decimal("60.00")
    stats = cache.stats()["history"]
    assert (stats.cold, stats.invalidated, stats.hits) == (1, 1, 0)
    entry = cache.backend.read("history", ledger.key)
    assert entry is not None
    with read_only(make_session_factory(engine)) as session:
        assert entry.versions == current_versions(session, ledger.tags)  # refilled after the bump


def _versions_read_after_data_serve_stale_money(
    engine: Engine, cache: VersionedCache, *, fresh_versions: bool
) -> None:
    wrong = VersionsAfterDataCache(cache, engine, fresh_versions=fresh_versions)
    _, raced, served, stored_before_payment = race(engine, wrong)
    assert not stored_before_payment  # old data under the new versions
    assert raced == Decimal("100.00")
    assert served == Decimal("100.00")  # stale: 40.00 was paid, the ledger says 60.00


def test_race_sqlite(fresh_sqlite: Engine, any_cache: VersionedCache) -> None:
    _versions_read_first_never_serve_the_raced_fill(fresh_sqlite, any_cache)


def test_race_server(committed_server_engine: Engine, any_cache: VersionedCache) -> None:
    _versions_read_first_never_serve_the_raced_fill(committed_server_engine, any_cache)


def test_wrong_order_serves_stale_sqlite(fresh_sqlite: Engine, any_cache: VersionedCache) -> None:
    _versions_read_after_data_serve_stale_money(fresh_sqlite, any_cache, fresh_versions=True)


def test_wrong_order_serves_stale_server(
    committed_server_engine: Engine, any_cache: VersionedCache
) -> None:
    # READ COMMITTED: the reader's own session already sees the payment's version after the fill.
    _versions_read_after_data_serve_stale_money(
        committed_server_engine, any_cache, fresh_versions=False
    )

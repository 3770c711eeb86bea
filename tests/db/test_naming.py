"""Naming series: gap-free numbers under the transaction's lock, and numbers taken at once.

``reserve_numbers`` (invoices) holds the series' row until the transaction ends, so a rolled-back
number is given again and a second transaction waits. ``take_numbers`` (payments) commits the
series at once on PostgreSQL and MariaDB: no transaction waits for another, and a rolled-back
number is never given again. SQLite has one writer at a time, so there both reserve in the
transaction.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen.db.naming import NamingSeries, reserve_numbers, take_numbers
from verenigingen.db.session import make_session_factory

THREADS = 12


def _prefix() -> str:
    return f"T-{uuid.uuid4().hex[:8]}-"


def _current(engine: Engine, prefix: str) -> int | None:
    with Session(engine) as session:
        return session.scalar(select(NamingSeries.current).where(NamingSeries.prefix == prefix))


def test_taken_numbers_are_committed_at_once_and_leave_a_gap_on_rollback(
    committed_server_engine: Engine,
) -> None:
    factory = make_session_factory(committed_server_engine)
    prefix = _prefix()
    with factory() as session:
        assert list(take_numbers(session, prefix, 3)) == [1, 2, 3]
        session.rollback()
    assert _current(committed_server_engine, prefix) == 3  # the rollback did not undo it
    with factory() as session, session.begin():
        assert list(take_numbers(session, prefix)) == [4]


def test_reserved_numbers_roll_back_with_their_transaction(
    committed_server_engine: Engine,
) -> None:
    factory = make_session_factory(committed_server_engine)
    prefix = _prefix()
    with factory() as session:
        assert list(reserve_numbers(session, prefix, 2)) == [1, 2]
        session.rollback()
    assert _current(committed_server_engine, prefix) is None
    with factory() as session, session.begin():
        assert list(reserve_numbers(session, prefix)) == [1]


def test_an_open_transaction_does_not_hold_taken_numbers(committed_server_engine: Engine) -> None:
    factory = make_session_factory(committed_server_engine)
    prefix = _prefix()
    taken: list[int] = []
    with factory() as holder, holder.begin():
        assert list(take_numbers(holder, prefix)) == [1]

        def take_beside() -> None:
            with factory() as session, session.begin():
                taken.extend(take_numbers(session, prefix))

        beside = threading.Thread(target=take_beside)
        beside.start()
        beside.join(timeout=10)  # with the row locked to the holder's end this would wait
        assert not beside.is_alive()
    assert taken == [2]


def test_racing_transactions_take_distinct_numbers(committed_server_engine: Engine) -> None:
    factory = make_session_factory(committed_server_engine)
    prefix = _prefix()  # created by the racers themselves
    barrier = threading.Barrier(THREADS)

    def take(_index: int) -> list[int]:
        barrier.wait()
        with factory() as session, session.begin():
            return list(take_numbers(session, prefix, 2))

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        numbers = [number for pair in pool.map(take, range(THREADS)) for number in pair]
    assert sorted(numbers) == list(range(1, 2 * THREADS + 1))
    assert _current(committed_server_engine, prefix) == 2 * THREADS


def test_on_sqlite_taken_numbers_belong_to_the_transaction(fresh_sqlite: Engine) -> None:
    factory = make_session_factory(fresh_sqlite)
    prefix = _prefix()
    with factory() as session:
        assert list(take_numbers(session, prefix, 2)) == [1, 2]
        session.rollback()
    assert _current(fresh_sqlite, prefix) is None

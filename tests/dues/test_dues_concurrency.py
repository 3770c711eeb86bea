"""Concurrent dues runs on PostgreSQL and MariaDB bill every period exactly once.

Each run commits, so these tests get a database of their own (not the shared rolled-back one).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, func, select

from member_factories import bulk_schedules, make_type
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.dues.models import DuesSchedule
from verenigingen.dues.service import generate_dues

TODAY = dt.date(2026, 11, 15)
SCHEDULES = 240


def run_concurrently(engine: Engine, threads: int, day: dt.date, user_id: int) -> list[int]:
    """``threads`` dues runs at once, each in its own committed transaction; invoices per run."""
    factory = make_session_factory(engine)
    start = threading.Barrier(threads)
    created: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with unit_of_work(factory) as session:
                user = session.get(User, user_id)
                assert user is not None
                start.wait(timeout=30)
                created.append(
                    generate_dues(session, user, today=day, batch_size=16).invoices_created
                )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    return created


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_runs_bill_each_period_once(committed_server_engine, threads):
    factory = make_session_factory(committed_server_engine)
    with unit_of_work(factory) as session:
        user = create_user(session, "run@example.org", Role.TREASURER)
        monthly = make_type(session)
        bulk_schedules(session, monthly, SCHEDULES, start=TODAY)
        user_id = user.id

    for day in (TODAY, TODAY + dt.timedelta(days=1)):
        created = run_concurrently(committed_server_engine, threads, day, user_id)
        assert sum(created) == SCHEDULES  # every due schedule billed by exactly one of the runs

    with unit_of_work(factory) as session:
        per_period = session.execute(
            select(Invoice.dues_schedule_id, Invoice.coverage_start, func.count()).group_by(
                Invoice.dues_schedule_id, Invoice.coverage_start
            )
        ).all()
        assert len(per_period) == 2 * SCHEDULES
        assert {row[2] for row in per_period} == {1}
        numbers = session.scalar(select(func.count(func.distinct(Invoice.number))))
        assert numbers == 2 * SCHEDULES
        next_dates = set(session.scalars(select(DuesSchedule.next_invoice_date)))
        assert next_dates == {dt.date(2027, 1, 15)}

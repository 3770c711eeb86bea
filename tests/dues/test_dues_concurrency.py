"""Concurrent dues runs on PostgreSQL and MariaDB bill every period exactly once.

Each run commits, so these tests get a database of their own (not the shared rolled-back one).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from member_factories import bulk_schedules, make_type
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.db.engine import make_engine, normalise_url
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.dues.models import DuesSchedule
from verenigingen.dues.service import generate_dues

TODAY = dt.date(2026, 11, 15)
SCHEDULES = 240


@pytest.fixture(
    params=["VERENIGINGEN_TEST_POSTGRES_URL", "VERENIGINGEN_TEST_MARIADB_URL"],
    ids=["postgres", "mariadb"],
)
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated throw-away database on the server, dropped after the test."""
    variable: str = request.param
    server = os.environ.get(variable)
    if not server:
        if os.environ.get("VERENIGINGEN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{variable} is not set and VERENIGINGEN_REQUIRE_SERVICES=1")
        pytest.skip(f"{variable} is not set")
    url = make_url(normalise_url(server))
    postgres = url.get_backend_name() == "postgresql"
    name = f"vt_dues_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        url.set(database="postgres") if postgres else url, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        suffix = "" if postgres else " CHARACTER SET utf8mb4"
        connection.execute(text(f"CREATE DATABASE {name}{suffix}"))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            force = " WITH (FORCE)" if postgres else ""
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


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
def test_concurrent_runs_bill_each_period_once(committed_engine, threads):
    factory = make_session_factory(committed_engine)
    with unit_of_work(factory) as session:
        user = create_user(session, "run@example.org", Role.TREASURER)
        monthly = make_type(session)
        bulk_schedules(session, monthly, SCHEDULES, start=TODAY)
        user_id = user.id

    for day in (TODAY, TODAY + dt.timedelta(days=1)):
        created = run_concurrently(committed_engine, threads, day, user_id)
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

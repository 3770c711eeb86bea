"""Daily jobs: the overdue refresh, the dues run and the end of cancelled memberships start once a
day, in the name of the first administrator, and do their work when a worker runs them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from member_factories import make_active_member, make_type
from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice, InvoiceStatus
from verenigingen.cli.app import app as cli
from verenigingen.config import Settings, get_settings
from verenigingen.db.session import make_session_factory
from verenigingen.dues.service import generate_dues
from verenigingen.jobs.daily import DailyJobs, daily_key, daily_task_names, start_daily_jobs
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.members.models import BillingPeriod, CancellationType, MembershipStatus
from verenigingen.members.service import cancel_membership
from verenigingen.perf.capture import capture
from verenigingen.startup import load_all

START = dt.date(2026, 11, 1)
LATER = dt.date(2027, 2, 1)
Drain = Callable[[], list[str]]
DAILY = [
    "billing.refresh_overdue",
    "dues.generate",
    "members.complete_cancellations",
    "sepa.expire_mandates",
]


@pytest.fixture(autouse=True)
def _tasks() -> None:
    load_all(Settings())


def _jobs(session: Session) -> list[Job]:
    session.expire_all()
    return list(session.scalars(select(Job).where(Job.dedup_key.like("daily:%")).order_by(Job.id)))


def test_the_daily_tasks_are_those_of_the_domains() -> None:
    assert [name for name in daily_task_names() if not name.startswith("test.")] == DAILY


def test_daily_jobs_start_once_a_day_and_do_the_days_work(
    session: Session, admin: User, drain: Drain
) -> None:
    with clock.frozen(START):
        monthly = make_type(session, period=BillingPeriod.MONTHLY, enforce=False)
        make_active_member(session, admin, monthly, start=START)
        quarterly = make_type(session, period=BillingPeriod.QUARTERLY, enforce=False)
        _, leaving, _ = make_active_member(session, admin, quarterly, start=START)
        cancel_membership(session, admin, leaving.id, CancellationType.END_OF_PERIOD)
        assert leaving.cancellation_date == LATER
        billed = generate_dues(session, admin).invoices_created
        assert billed == 2  # November for both
    session.commit()

    with clock.frozen(LATER):
        started = start_daily_jobs(session, LATER)
        assert sorted(job.name for job in started) == DAILY
        assert all(job.user_id == admin.id for job in started)
        assert {job.dedup_key for job in started} == {daily_key(n, LATER) for n in DAILY}
        assert start_daily_jobs(session, LATER) == []  # the same day again: nothing
        session.commit()
        outcomes = drain()  # with the history jobs that the new invoices queue
    assert set(outcomes) == {"completed"}
    jobs = _jobs(session)
    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * len(DAILY)
    results = {job.name: job.result for job in jobs}
    # The monthly member's next period (a run bills one period per schedule); the leaving
    # member's next period starts on its cancellation date: nothing.
    assert results["dues.generate"]["invoices_created"] == 1
    assert results["members.complete_cancellations"] == {"memberships_cancelled": 1}
    assert results["sepa.expire_mandates"] == {"mandates_expired": 0}
    session.refresh(leaving)
    assert leaving.status == MembershipStatus.CANCELLED
    # The November invoices were due long before: Overdue (what the refresh turned).
    overdue = session.scalar(
        select(func.count()).where(Invoice.status == InvoiceStatus.OVERDUE.value)
    )
    assert overdue == results["billing.refresh_overdue"]["invoices_overdue"] >= 2

    with clock.frozen(LATER + dt.timedelta(days=1)):
        tomorrow = start_daily_jobs(session, LATER + dt.timedelta(days=1))
    assert sorted(job.name for job in tomorrow) == DAILY


def test_a_failed_daily_job_is_not_started_again_that_day(
    session: Session, admin: User, drain: Drain
) -> None:
    with clock.frozen(LATER):
        start_daily_jobs(session, LATER)
        session.commit()
        admin.role = Role.MEMBER  # the jobs run as this user: each fails for want of rights
        session.commit()
        assert drain().count("failed") == len(DAILY)
        admin.role = Role.ADMINISTRATOR
        session.commit()
        assert [job.status for job in _jobs(session)] == [JobStatus.FAILED] * len(DAILY)
        assert start_daily_jobs(session, LATER) == []  # retried by hand, not by the day
        again = start_daily_jobs(session, LATER, again_failed=True)
        assert sorted(job.name for job in again) == DAILY
        session.commit()
        assert set(drain()) == {"completed"}
        assert start_daily_jobs(session, LATER, again_failed=True) == []  # done now
    statuses = [(job.name, job.status) for job in _jobs(session)]
    expected = [(name, status) for name in DAILY for status in (JobStatus.FAILED, "Completed")]
    assert sorted(statuses) == sorted(expected)


def test_without_an_administrator_nothing_starts(session: Session) -> None:
    create_user(session, "penning@example.org", Role.TREASURER)
    assert start_daily_jobs(session, LATER) == []
    assert _jobs(session) == []


def test_a_process_asks_the_database_once_a_day(fresh_sqlite: Engine) -> None:
    factory = make_session_factory(fresh_sqlite)
    with factory() as session, session.begin():
        create_user(session, "beheer@example.org", Role.ADMINISTRATOR)
    daily = DailyJobs()
    first = daily.start(factory, LATER)
    assert len(first) == len(DAILY)
    with capture() as log:
        assert daily.start(factory, LATER) == []
    assert log.count == 0
    # Another process (a second worker) finds today's jobs there and starts none.
    assert DailyJobs().start(factory, LATER) == []
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == len(DAILY)


def test_cli_starts_the_daily_jobs_and_refuses_a_bad_day(
    fresh_sqlite: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = make_session_factory(fresh_sqlite)
    with factory() as session, session.begin():
        create_user(session, "beheer@example.org", Role.ADMINISTRATOR)
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", str(fresh_sqlite.url))
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        bad = CliRunner().invoke(cli, ["jobs", "daily", "--day", "1 februari"])
        first = CliRunner().invoke(cli, ["jobs", "daily", "--day", "2027-02-01"])
        again = CliRunner().invoke(cli, ["jobs", "daily", "--day", "2027-02-01"])
    finally:
        get_settings.cache_clear()
    assert bad.exit_code == 1
    assert "--day must be a date as YYYY-MM-DD" in bad.output
    assert first.exit_code == 0, first.output
    assert first.output.count("Started job") == len(DAILY)
    assert "dues.generate" in first.output
    assert again.exit_code == 0
    assert "have all started already" in again.output
    with factory() as session:
        keys = set(session.scalars(select(Job.dedup_key)))
    assert keys == {daily_key(name, LATER) for name in DAILY}


@pytest.mark.parametrize("enabled", [True, False])
def test_the_workers_maintenance_round_starts_them_unless_turned_off(
    fresh_sqlite: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    from verenigingen.config import Settings
    from verenigingen.jobs import consumer
    from verenigingen.jobs.engine import JobEngine
    from verenigingen.jobs.outbox import JOB_ENGINE_KEY
    from verenigingen.jobs.worker import Runtime

    engine = JobEngine.memory("daily-test")
    factory = make_session_factory(fresh_sqlite, info={JOB_ENGINE_KEY: engine})
    with factory() as session, session.begin():
        create_user(session, "beheer@example.org", Role.ADMINISTRATOR)
    monkeypatch.setattr(consumer, "_DAILY", DailyJobs())
    runtime = Runtime(factory, Settings(data_dir=tmp_path, daily_jobs=enabled), "t:1")
    with clock.frozen(LATER):
        consumer.maintain(runtime, engine)
        waiting = sum(engine.pending(queue) for queue in consumer.Queue)
    with factory() as session:
        names = sorted(session.scalars(select(Job.name)))
    assert names == (DAILY if enabled else [])
    assert waiting == (len(DAILY) if enabled else 0)  # handed to the engine at commit

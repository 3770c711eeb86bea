"""The dues job commits in chunks on SQLite (jobs.chunks): the write lock is held one chunk at a
time, and a run that dies half-way and runs again bills every period once."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from member_factories import bulk_schedules, make_type
from verenigingen import clock
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.config import Settings
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.dues import tasks as dues_tasks
from verenigingen.jobs import chunks, enqueue
from verenigingen.jobs.deadline import JobCancelled
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.sweeper import sweep
from verenigingen.jobs.worker import Runtime, run_job

TODAY = dt.date(2026, 11, 15)
CHUNK = 40


class Transactions:
    """Counts the commits on an engine, and those of them that inserted invoices."""

    def __init__(self, engine: Engine) -> None:
        self.commits = 0
        self.billing_commits = 0
        self._billing = False
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "after_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _begin(self, _connection: Any) -> None:
        self._billing = False

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO invoice "):
            self._billing = True

    def _commit(self, _connection: Any) -> None:
        self.commits += 1
        self.billing_commits += self._billing


@pytest.fixture
def factory(fresh_sqlite: Engine) -> sessionmaker[Session]:
    return make_session_factory(fresh_sqlite)


@pytest.fixture
def runtime(factory: sessionmaker[Session], tmp_path: Path) -> Runtime:
    settings = Settings(data_dir=tmp_path, job_retry_backoff_seconds=0.0)
    return Runtime(factory, settings, worker_id="test:dues")


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with clock.frozen(TODAY):
        yield


def dues_job(factory: sessionmaker[Session], schedules: int) -> int:
    """``schedules`` due monthly schedules and a queued dues run in chunks of CHUNK."""
    with unit_of_work(factory) as session:
        user = create_user(session, "penningmeester@example.org", Role.TREASURER)
        bulk_schedules(session, make_type(session), schedules, start=TODAY)
        job = enqueue(session, "dues.generate", user=user, batch_size=CHUNK)
        return job.id


def billed(factory: sessionmaker[Session]) -> tuple[int, int]:
    """Invoices, and distinct (schedule, period) pairs among them."""
    with factory() as session:
        invoices = session.scalar(select(func.count(Invoice.id))) or 0
        periods = session.scalar(
            select(func.count()).select_from(
                select(Invoice.dues_schedule_id, Invoice.coverage_start).distinct().subquery()
            )
        )
        return invoices, periods or 0


@pytest.mark.parametrize("schedules", [90, 210])
def test_a_dues_run_commits_once_per_chunk(fresh_sqlite, factory, runtime, schedules) -> None:
    job_id = dues_job(factory, schedules)
    transactions = Transactions(fresh_sqlite)

    assert run_job(runtime, job_id) == RunOutcome.COMPLETED

    chunks = math.ceil(schedules / CHUNK)
    assert transactions.billing_commits == chunks
    # and one more: the claim, committed before the task runs
    assert transactions.commits == chunks + 1
    assert billed(factory) == (schedules, schedules)
    with factory() as session:
        job = session.get_one(Job, job_id)
        assert job.status == JobStatus.COMPLETED
        assert job.result is not None
        assert job.result["batches"] == chunks
        assert job.result["invoices_created"] == schedules


class WorkerDied(BaseException):
    """The process ends in the middle of the job (not an error the worker could record)."""


def test_a_dues_run_resumed_after_a_crash_bills_each_period_once(
    factory, runtime, monkeypatch
) -> None:
    job_id = dues_job(factory, 130)
    real_commit = dues_tasks.commit_chunk
    commits = 0

    def dies_after_two_chunks(session: Session) -> bool:
        nonlocal commits
        committed = real_commit(session)
        commits += 1
        if commits == 2:
            raise WorkerDied
        return committed

    monkeypatch.setattr(dues_tasks, "commit_chunk", dies_after_two_chunks)
    with pytest.raises(WorkerDied):
        run_job(runtime, job_id)
    # Two chunks stayed billed; the job is Running with nobody to finish it.
    assert billed(factory) == (2 * CHUNK, 2 * CHUNK)
    monkeypatch.setattr(dues_tasks, "commit_chunk", real_commit)
    with unit_of_work(factory) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_until=clock.now() - dt.timedelta(1))
        )
    assert sweep(factory, runtime.settings).requeued == 1

    assert run_job(runtime, job_id) == RunOutcome.COMPLETED

    assert billed(factory) == (130, 130)  # every schedule once: the first chunks not again
    with factory() as session:
        job = session.get_one(Job, job_id)
        assert job.status == JobStatus.COMPLETED
        assert job.attempts == 2
        assert job.result is not None
        assert job.result["invoices_created"] == 130 - 2 * CHUNK


def test_a_cancelled_dues_run_keeps_the_chunks_committed_before_it(
    factory, runtime, monkeypatch
) -> None:
    job_id = dues_job(factory, 130)
    with unit_of_work(factory) as session:
        job = session.get_one(Job, job_id)
        job.cancel_requested_at = clock.now()
        job.cancel_requested_by = "admin@example.org"
    asked = 0

    def heard_at_the_second_chunks_end() -> None:
        nonlocal asked
        asked += 1
        if asked == 2:
            raise JobCancelled

    monkeypatch.setattr(chunks, "stop_if_cancel_requested", heard_at_the_second_chunks_end)

    assert run_job(runtime, job_id) == RunOutcome.CANCELLED

    assert billed(factory) == (CHUNK, CHUNK)  # the first chunk; the second rolled back
    with factory() as session:
        assert session.get_one(Job, job_id).status == JobStatus.CANCELLED


def test_a_run_given_no_size_bills_50_schedules_a_batch_on_sqlite_and_500_on_a_server(
    any_session: Session,
) -> None:
    expected = 50 if any_session.get_bind().dialect.name == "sqlite" else 500
    assert dues_tasks.default_batch_size(any_session) == expected

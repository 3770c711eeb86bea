"""Claim and finish on each engine: PostgreSQL claims and completes in one statement each
(jobs.claims_postgresql), SQLite and MariaDB read and then update conditionally
(jobs.claims_plain). The outcomes must be the same on all three."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.config import Settings
from verenigingen.jobs import enqueue, registry
from verenigingen.jobs.claims_plain import PlainClaims
from verenigingen.jobs.claims_postgresql import PostgresBatchClaims, PostgresClaims
from verenigingen.jobs.models import Job, Notification, Queue
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, claim_strategy, run_job


@pytest.fixture
def engine_runtime(any_session: Session, settings: Settings) -> Runtime:
    return Runtime(savepoint_sessions(any_session), settings, worker_id="engines:1")


def test_each_database_has_its_claim_strategy_chosen_once_from_its_dialect(
    any_engine: Engine, engine_runtime: Runtime, settings: Settings
) -> None:
    # The runtime's factory is bound to the test's connection; a worker's to the engine.
    grouped = any_engine.dialect.name == "postgresql"
    assert type(engine_runtime.claims) is (PostgresClaims if grouped else PlainClaims)
    strategy = claim_strategy(any_engine, "engines:2", settings)
    assert type(strategy) is type(engine_runtime.claims)
    # Only PostgreSQL claims a group's later jobs; its connection opens at the first batch.
    batches = strategy.batch_claims(any_engine)
    assert (type(batches) is PostgresBatchClaims) if grouped else batches is None
    if batches is not None:
        batches.close()


def fresh(session: Session, job_id: int) -> Job:
    session.expire_all()
    job = session.get(Job, job_id)
    assert job is not None
    return job


def notifications(session: Session, job_id: int) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.job_id == job_id)))


def test_a_job_completes_once_with_its_result_lease_and_one_notification(
    any_session, treasurer, job_engine, engine_runtime, marks
):
    job = enqueue(any_session, "test.record", user=treasurer, timeout=40, marks=marks, key="a")
    any_session.commit()
    assert run_job(engine_runtime, job.id) is RunOutcome.COMPLETED
    assert run_job(engine_runtime, job.id) is RunOutcome.NOT_CLAIMED  # delivered again

    done = fresh(any_session, job.id)
    assert (done.status, done.attempts, done.worker) == ("Completed", 1, "engines:1")
    assert done.result == {"runs": 1, "user": "treasurer@example.org"}
    assert done.lease_until is None
    assert done.started_at is not None
    assert done.finished_at is not None
    [note] = notifications(any_session, job.id)
    assert (note.user_id, note.indicator) == (treasurer.id, "green")
    assert (note.subject, note.message) == (
        "Job completed: test.record",
        "Job 'test.record' completed successfully",
    )


def test_the_claim_sets_the_lease_to_timeout_plus_grace(
    any_session, treasurer, job_engine, engine_runtime, settings, monkeypatch
):
    job = enqueue(any_session, "test.write_note", user=treasurer, timeout=40, subject="x")
    any_session.commit()
    seen: dict[str, object] = {}

    def look_at_the_claim(job_session: Session, user: User, **params: object) -> None:
        row = job_session.get(Job, job.id)
        assert row is not None
        seen.update(status=row.status, attempts=row.attempts, lease=row.lease_until)
        seen.update(started=row.started_at)

    monkeypatch.setitem(
        registry._tasks, "test.write_note", registry.TaskSpec("w", Queue.SHORT, look_at_the_claim)
    )
    assert run_job(engine_runtime, job.id) is RunOutcome.COMPLETED
    assert (seen["status"], seen["attempts"]) == ("Running", 1)
    lease, started = seen["lease"], seen["started"]
    assert isinstance(lease, dt.datetime)
    assert isinstance(started, dt.datetime)
    expected = dt.timedelta(seconds=40 + settings.job_lease_grace_seconds)
    if any_session.get_bind().dialect.name in ("mysql", "mariadb"):
        # DATETIME columns keep whole seconds there: each side is truncated on its own.
        assert abs(lease - started - expected) < dt.timedelta(seconds=1)
    else:
        assert lease - started == expected


def test_work_of_a_run_that_lost_its_lease_is_rolled_back_and_not_notified(
    any_session, treasurer, job_engine, engine_runtime, monkeypatch
):
    job = enqueue(any_session, "test.write_note", user=treasurer, subject="side effect")
    any_session.commit()
    original = registry.get_task("test.write_note")

    def swept_meanwhile(job_session: Session, user: User, **params: object) -> None:
        original.function(job_session, user, **params)
        job_session.execute(update(Job).where(Job.id == job.id).values(status="Queued"))

    monkeypatch.setitem(
        registry._tasks, "test.write_note", registry.TaskSpec("w", Queue.SHORT, swept_meanwhile)
    )
    assert run_job(engine_runtime, job.id) is RunOutcome.LEASE_LOST
    any_session.expire_all()
    written = any_session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == treasurer.id)
    )
    assert written == 0  # neither the task's row nor a notification
    assert fresh(any_session, job.id).status == "Running"  # as the claim left it


def test_a_failed_attempt_is_claimed_again_with_the_next_attempt_number(
    any_session, treasurer, job_engine, engine_runtime, marks
):
    job = enqueue(
        any_session, "test.flaky", user=treasurer, marks=marks, key="f", failures=1, max_retries=2
    )
    any_session.commit()
    assert run_job(engine_runtime, job.id) is RunOutcome.FAILED
    retried = fresh(any_session, job.id)
    assert (retried.status, retried.attempts, retried.lease_until) == ("Queued", 1, None)
    any_session.execute(update(Job).where(Job.id == job.id).values(run_after=clock.now()))
    any_session.commit()
    assert run_job(engine_runtime, job.id) is RunOutcome.COMPLETED
    assert (fresh(any_session, job.id).status, fresh(any_session, job.id).attempts) == (
        "Completed",
        2,
    )
    assert len(notifications(any_session, job.id)) == 1


def test_claim_skips_unknown_cancelled_and_not_yet_due_jobs(
    any_session, treasurer, job_engine, engine_runtime, marks
):
    later = enqueue(
        any_session,
        "test.record",
        user=treasurer,
        run_after=clock.now() + dt.timedelta(hours=1),
        marks=marks,
        key="a",
    )
    cancelled = enqueue(any_session, "test.record", user=treasurer, marks=marks, key="b")
    cancelled.status = "Cancelled"
    any_session.commit()
    outcomes = [run_job(engine_runtime, i) for i in (later.id, cancelled.id, 424242)]
    assert outcomes == [RunOutcome.NOT_CLAIMED] * 3
    assert fresh(any_session, later.id).attempts == fresh(any_session, cancelled.id).attempts == 0

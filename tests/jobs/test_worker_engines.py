"""Claim and finish on each engine: PostgreSQL claims and completes in one statement each
(jobs.claims_postgresql), SQLite and MariaDB read and then update conditionally
(jobs.claims_plain). The outcomes must be the same on all three."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.config import Settings
from verenigingen.jobs import enqueue, registry
from verenigingen.jobs.claims import Claim, LeaseTerms
from verenigingen.jobs.claims_plain import PlainClaims
from verenigingen.jobs.claims_postgresql import PostgresBatchClaims, PostgresClaims
from verenigingen.jobs.heartbeat import HeldJob, Renewal, renew_leases
from verenigingen.jobs.models import Job, Notification, Queue
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, claim_strategy, run_job
from verenigingen.perf.capture import capture


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


def test_the_claim_leases_a_job_for_the_lease_or_its_timeout_plus_grace_if_shorter(
    any_session, treasurer, job_engine, engine_runtime, settings, monkeypatch
):
    long = enqueue(any_session, "test.write_note", user=treasurer, timeout=40, subject="x")
    short = enqueue(any_session, "test.write_note", user=treasurer, timeout=1, subject="y")
    any_session.commit()
    seen: dict[int, tuple[object, ...]] = {}

    def look_at_the_claim(job_session: Session, user: User, **params: object) -> None:
        for job in (long, short):
            row = job_session.get(Job, job.id)
            assert row is not None
            if row.status == "Running":  # the job in hand
                seen[job.id] = (row.status, row.attempts, row.lease_until, row.started_at)

    monkeypatch.setitem(
        registry._tasks, "test.write_note", registry.TaskSpec("w", Queue.SHORT, look_at_the_claim)
    )
    assert run_job(engine_runtime, long.id) is RunOutcome.COMPLETED
    assert run_job(engine_runtime, short.id) is RunOutcome.COMPLETED
    for job, seconds in (
        (long, settings.job_lease_seconds),  # 30 s, not 40 + grace: the heartbeat renews it
        (short, 1 + settings.job_lease_grace_seconds),
    ):
        status, attempts, lease, started = seen[job.id]
        assert (status, attempts) == ("Running", 1)
        assert isinstance(lease, dt.datetime)
        assert isinstance(started, dt.datetime)
        close_enough(lease - started, dt.timedelta(seconds=seconds), any_session)


def close_enough(got: dt.timedelta, expected: dt.timedelta, session: Session) -> None:
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        # DATETIME columns keep whole seconds there: each side is truncated on its own.
        assert abs(got - expected) < dt.timedelta(seconds=1)
    else:
        assert got == expected


def claimed(runtime: Runtime, job_id: int) -> Claim:
    with runtime.session_factory() as session, session.begin():
        result = runtime.claims.claim(session, job_id)
    assert result is not None
    return result[0]


def test_a_heartbeat_renews_this_workers_leases_in_one_update_never_past_timeout_plus_grace(
    any_session, treasurer, job_engine, engine_runtime, marks
):
    jobs = [
        enqueue(any_session, "test.record", user=treasurer, timeout=t, marks=marks, key=str(i))
        for i, t in enumerate((40, 40, 2, 40))
    ]
    any_session.commit()
    fresh_claim, old_claim, short_claim, other_claim = [claimed(engine_runtime, j.id) for j in jobs]
    # The second started 39 s ago (as its worker remembers it); the fourth is another worker's.
    old_claim = replace(old_claim, started_at=old_claim.started_at - dt.timedelta(seconds=39))
    any_session.execute(update(Job).where(Job.id == other_claim.id).values(worker="elsewhere:1"))
    any_session.commit()
    before = {j.id: fresh(any_session, j.id).lease_until for j in jobs}
    held = [HeldJob(c) for c in (fresh_claim, old_claim, short_claim, other_claim)]
    terms = LeaseTerms(seconds=10, grace=0.5)

    started = clock.now()
    with engine_runtime.session_factory() as session, session.begin(), capture() as log:
        renewal = renew_leases(session, "engines:1", held, terms)
    assert renewal == Renewal(frozenset(h.claim.id for h in held[:3]), {})
    updates = [q for q in log.queries if q.sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1  # one UPDATE for all of the worker's jobs

    leases = {j.id: fresh(any_session, j.id).lease_until for j in jobs}
    lease = leases[fresh_claim.id]
    assert lease is not None
    margin = dt.timedelta(seconds=1)  # MariaDB's whole seconds
    assert (
        started + dt.timedelta(seconds=10) - margin
        <= lease
        <= clock.now() + dt.timedelta(seconds=10)
    )
    # Never past started_at + timeout + grace: 40.5 s after a start 39 s ago, 2.5 s after now.
    for claim, timeout in ((old_claim, 40), (short_claim, 2)):
        capped = leases[claim.id]
        assert capped is not None
        close_enough(capped - claim.started_at, dt.timedelta(seconds=timeout + 0.5), any_session)
    assert leases[other_claim.id] == before[other_claim.id]  # another worker's: untouched


def test_a_heartbeat_brings_back_a_cancel_request_to_the_running_attempt(
    any_session, treasurer, job_engine, engine_runtime, marks
):
    jobs = [
        enqueue(any_session, "test.record", user=treasurer, marks=marks, key=str(i))
        for i in range(2)
    ]
    any_session.commit()
    held = [HeldJob(claimed(engine_runtime, j.id)) for j in jobs]
    any_session.execute(
        update(Job)
        .where(Job.id == jobs[0].id)
        .values(cancel_requested_at=clock.now(), cancel_requested_by="admin@example.org")
    )
    any_session.commit()
    with engine_runtime.session_factory() as session, session.begin():
        renewal = renew_leases(session, "engines:1", held, LeaseTerms(10, 0.5))
    assert renewal.cancel_requests == {jobs[0].id: "admin@example.org"}
    assert [h.stop.cancel_requested_by for h in held] == ["admin@example.org", None]
    assert fresh(any_session, jobs[0].id).status == "Running"  # its worker ends it


def test_a_job_with_a_cancel_request_ends_cancelled_at_its_completion_and_is_rolled_back(
    any_session, treasurer, job_engine, engine_runtime
):
    # The request arrived after the claim and no heartbeat told the attempt: the completion,
    # conditional on no request, refuses it.
    job = enqueue(
        any_session, "test.write_note", user=treasurer, dedup_key="note", subject="side effect"
    )
    job.cancel_requested_at = clock.now()
    job.cancel_requested_by = "admin@example.org"
    any_session.commit()
    assert run_job(engine_runtime, job.id) is RunOutcome.CANCELLED
    ended = fresh(any_session, job.id)
    assert (ended.status, ended.error, ended.attempts) == (
        "Cancelled",
        "cancelled by admin@example.org",
        1,
    )
    assert (ended.active_dedup_key, ended.lease_until, ended.result) == (None, None, None)
    assert ended.finished_at is not None
    written = any_session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == treasurer.id)
    )
    assert written == 0  # neither the task's row nor a notification
    assert run_job(engine_runtime, job.id) is RunOutcome.NOT_CLAIMED


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

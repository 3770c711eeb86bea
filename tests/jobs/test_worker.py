"""Claim, run, retry, timeout, lease: one worker in-process, on the test's rolled-back SQLite."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.jobs import cancel_requested, enqueue, registry, stop_if_cancel_requested
from verenigingen.jobs import deadline as deadline_module
from verenigingen.jobs.attempt import backoff_seconds, record_failed_attempt
from verenigingen.jobs.consumer import run_next_group
from verenigingen.jobs.models import Job, JobStatus, Notification, Queue
from verenigingen.jobs.outcomes import FailedAttempt, RunOutcome
from verenigingen.jobs.relay import relay
from verenigingen.jobs.sweeper import SweepResult, sweep
from verenigingen.jobs.worker import run_job


def reload(session: Session, job: Job) -> Job:
    session.expire_all()
    fresh = session.get(Job, job.id)
    assert fresh is not None
    return fresh


def notes(session: Session, user_id: int) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)).all())


def runs(marks: str, key: str) -> int:
    path = Path(marks) / key
    return len(path.read_text().splitlines()) if path.exists() else 0


def retry_due(session, runtime, job_engine) -> int:
    """What a worker's relay round does once a retry's backoff has passed."""
    session.execute(update(Job).where(Job.run_after.is_not(None)).values(run_after=clock.now()))
    session.commit()
    return relay(runtime.session_factory, job_engine, runtime.settings)


def test_completed_job_keeps_result_and_notifies_its_user_once(
    session, treasurer, job_engine, marks, drain
):
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    session.commit()
    assert drain() == ["completed"]
    done = reload(session, job)
    assert (done.status, done.attempts, done.worker) == ("Completed", 1, "test:1")
    assert done.result == {"runs": 1, "user": "treasurer@example.org"}
    assert done.lease_until is None
    assert done.finished_at is not None
    [note] = notes(session, treasurer.id)
    assert note.message == "Job 'test.record' completed successfully"
    assert (note.indicator, note.job_id) == ("green", job.id)


def test_same_job_delivered_twice_runs_once(session, treasurer, job_engine, marks, drain):
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    session.commit()
    job_engine.dispatch(Queue.SHORT, job.id)
    assert drain() == ["completed", "skipped"]
    assert runs(marks, "a") == 1
    assert reload(session, job).attempts == 1
    assert len(notes(session, treasurer.id)) == 1


def test_fails_twice_then_succeeds(session, treasurer, job_engine, runtime, marks, drain):
    job = enqueue(session, "test.flaky", user=treasurer, marks=marks, key="f", failures=2)
    session.commit()
    assert drain() == ["failed"]
    queued = reload(session, job)
    assert (queued.status, queued.attempts, queued.dispatched_at) == ("Queued", 1, None)
    assert "RuntimeError: failure 1 of 2" in queued.error
    assert retry_due(session, runtime, job_engine) == 1
    assert drain() == ["failed"]
    assert retry_due(session, runtime, job_engine) == 1
    assert drain() == ["completed"]
    done = reload(session, job)
    assert (done.status, done.attempts, done.result, done.error) == ("Completed", 3, 3, None)
    assert [n.message for n in notes(session, treasurer.id)] == [
        "Job 'test.flaky' completed successfully"
    ]


def test_always_failing_job_fails_after_its_retries_and_notifies_once(
    session, treasurer, admin, job_engine, runtime, drain
):
    job = enqueue(
        session, "test.always_fails", user=treasurer, max_retries=2, account="NL91ABNA0417164300"
    )
    session.commit()
    outcomes = drain()
    while retry_due(session, runtime, job_engine):
        outcomes += drain()
    assert outcomes == ["failed", "failed", "failed"]
    failed = reload(session, job)
    assert (failed.status, failed.attempts) == ("Failed", 3)
    assert "NL91**********4300" in failed.error
    assert "0417" not in failed.error
    assert [n.message for n in notes(session, treasurer.id)] == [
        "Job 'test.always_fails' failed. Administrator has been notified."
    ]
    [admin_note] = notes(session, admin.id)
    assert admin_note.indicator == "red"
    assert "0417" not in admin_note.message


def test_domain_error_fails_at_once(session, treasurer, job_engine, drain):
    job = enqueue(session, "test.domain_error", user=treasurer)
    session.commit()
    assert drain() == ["failed"]
    failed = reload(session, job)
    assert (failed.status, failed.attempts, failed.error) == (
        "Failed",
        1,
        "member 42 has no IBAN",
    )
    assert len(notes(session, treasurer.id)) == 1


def test_job_past_its_timeout_is_stopped_and_counts_as_failed(
    session, treasurer, job_engine, drain
):
    job = enqueue(session, "test.sleep", user=treasurer, timeout=1, max_retries=0, seconds=5)
    session.commit()
    started = clock.now()
    assert drain() == ["timeout"]
    assert clock.now() - started < dt.timedelta(seconds=3)
    failed = reload(session, job)
    assert (failed.status, failed.attempts, failed.error) == ("Failed", 1, "timed out after 1 s")


def test_sweeper_takes_back_an_expired_lease_then_fails_it(
    session, treasurer, job_engine, runtime, marks
):
    job = enqueue(session, "test.record", user=treasurer, max_retries=1, marks=marks, key="a")
    session.commit()
    past = clock.now() - dt.timedelta(seconds=1)

    def crash_mid_job() -> None:  # a claim whose worker then vanished
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status="Running", attempts=Job.attempts + 1, lease_until=past, worker="gone:9")
        )
        session.commit()

    crash_mid_job()
    swept = sweep(runtime.session_factory, runtime.settings)
    assert (swept.requeued, swept.failed) == (1, 0)
    requeued = reload(session, job)
    assert (requeued.status, requeued.attempts, requeued.lease_until) == ("Queued", 1, None)
    assert "gone:9" in requeued.error
    crash_mid_job()
    swept = sweep(runtime.session_factory, runtime.settings)
    assert (swept.requeued, swept.failed) == (0, 1)
    assert reload(session, job).status == JobStatus.FAILED
    assert len(notes(session, treasurer.id)) == 1
    assert sweep(runtime.session_factory, runtime.settings).failed == 0


def test_work_of_a_run_that_lost_its_lease_is_rolled_back(
    session, treasurer, job_engine, runtime, monkeypatch
):
    job = enqueue(session, "test.write_note", user=treasurer, subject="side effect")
    session.commit()
    original = registry.get_task("test.write_note")

    def swept_meanwhile(job_session: Session, user, **params):
        original.function(job_session, user, **params)
        # What the sweeper does from another process meanwhile (here: through the same
        # connection, so the test sees only the run's outcome and its rolled-back writes).
        job_session.execute(update(Job).where(Job.id == job.id).values(status="Queued"))

    monkeypatch.setitem(
        registry._tasks, "test.write_note", registry.TaskSpec("w", Queue.SHORT, swept_meanwhile)
    )
    assert run_job(runtime, job.id) == "lost"
    assert notes(session, treasurer.id) == []  # neither the task's row nor a notification


def test_relay_sends_lost_queued_jobs_only_when_the_queue_is_empty(
    session, treasurer, job_engine, runtime, marks
):
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    session.flush()
    # As if the process died between commit and dispatch: the row is there, no message.
    session.info.pop("verenigingen.jobs.pending")
    session.commit()
    assert relay(runtime.session_factory, job_engine, runtime.settings) == 0  # not stale yet
    stale = clock.now() - dt.timedelta(seconds=5)
    session.execute(update(Job).where(Job.id == job.id).values(dispatched_at=stale))
    session.commit()
    job_engine.dispatch(Queue.SHORT, 999_999)  # another message waits: maybe it is ours
    assert relay(runtime.session_factory, job_engine, runtime.settings) == 0
    job_engine.take(Queue.SHORT)
    assert relay(runtime.session_factory, job_engine, runtime.settings) == 1
    assert job_engine.take(Queue.SHORT).args == (job.id,)
    assert relay(runtime.session_factory, job_engine, runtime.settings) == 0


def test_claim_skips_unknown_cancelled_and_not_yet_due_jobs(
    session, treasurer, job_engine, runtime, marks
):
    later = enqueue(
        session,
        "test.record",
        user=treasurer,
        run_after=clock.now() + dt.timedelta(hours=1),
        marks=marks,
        key="a",
    )
    cancelled = enqueue(session, "test.record", user=treasurer, marks=marks, key="b")
    cancelled.status = "Cancelled"
    session.commit()
    assert [run_job(runtime, i) for i in (later.id, cancelled.id, 424242)] == ["skipped"] * 3
    assert runs(marks, "a") == runs(marks, "b") == 0


def test_backoff_doubles_with_jitter():
    for attempt, base in ((1, 10), (2, 20), (3, 40)):
        delays = [backoff_seconds(10, attempt) for _ in range(50)]
        assert all(0.5 * base <= d < 1.5 * base for d in delays)
        assert len(set(delays)) > 1
    assert backoff_seconds(10, 40) < 3600 * 1.5


def test_jobs_of_a_disabled_or_member_user_run_in_that_users_name(
    session, job_engine, marks, drain
):
    member = create_user(session, "member@example.org", Role.MEMBER)
    job = enqueue(session, "test.record", user=member, marks=marks, key="m")
    session.commit()
    assert drain() == ["completed"]
    assert reload(session, job).result["user"] == "member@example.org"
    assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_failed_attempt_is_recorded_once_and_says_what_it_did(
    session, treasurer, job_engine, runtime, marks
):
    job = enqueue(session, "test.record", user=treasurer, max_retries=1, marks=marks, key="a")
    session.commit()

    def running(attempt: int) -> None:  # as a claim leaves the job
        session.execute(
            update(Job).where(Job.id == job.id).values(status="Running", attempts=attempt)
        )
        session.commit()

    def record(attempt: int) -> FailedAttempt:
        outcome = record_failed_attempt(
            session, runtime.settings, job.id, job.name, treasurer.id, attempt, 1, "it broke"
        )
        session.commit()
        return outcome

    running(1)
    assert record(1) is FailedAttempt.RETRY_QUEUED
    assert reload(session, job).status == JobStatus.QUEUED
    # The worker and the sweeper both saw the attempt fail: only the first records it.
    assert record(1) is FailedAttempt.NO_LONGER_RUNNING
    running(2)
    assert record(2) is FailedAttempt.FAILED_FOR_GOOD
    assert reload(session, job).status == JobStatus.FAILED
    assert len(notes(session, treasurer.id)) == 1


def test_the_consumer_logs_what_became_of_each_job(
    session, treasurer, job_engine, runtime, marks, caplog
):
    done = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    failing = enqueue(session, "test.domain_error", user=treasurer)
    session.commit()
    job_engine.dispatch(Queue.SHORT, done.id)  # delivered twice
    caplog.set_level("INFO", logger="verenigingen.jobs.consumer")
    outcomes = []
    while (group := run_next_group(runtime, job_engine, tuple(Queue))) is not None:
        outcomes += group
    assert outcomes == [RunOutcome.COMPLETED, RunOutcome.FAILED, RunOutcome.NOT_CLAIMED]
    logged = [r.getMessage() for r in caplog.records if r.name == "verenigingen.jobs.consumer"]
    assert logged == [
        f"job {done.id}: completed",
        f"job {failing.id}: failed",
        f"job {done.id}: skipped",
    ]


def cancel_from_the_heartbeat(runtime, job_id: int) -> None:
    """What the heartbeat does once it reads an administrator's cancel request."""
    [held] = [h for h in runtime.leases.held() if h.claim.id == job_id]
    held.stop.request_cancel("admin@example.org")


def test_a_cancel_request_stops_a_running_task_rolls_it_back_and_ends_it_cancelled(
    session, treasurer, job_engine, runtime, monkeypatch
):
    job = enqueue(session, "test.write_note", user=treasurer, dedup_key="k", subject="written")
    job.cancel_requested_at = clock.now()  # as the administrator's request left it
    job.cancel_requested_by = "admin@example.org"
    session.commit()
    original = registry.get_task("test.write_note")

    def write_then_sleep(job_session: Session, user, **params):
        original.function(job_session, user, **params)
        cancel_from_the_heartbeat(runtime, job.id)
        time.sleep(5)  # interrupted: in the main thread the request moves the timer to now
        return "not reached"

    monkeypatch.setitem(
        registry._tasks, "test.write_note", registry.TaskSpec("w", Queue.SHORT, write_then_sleep)
    )
    started = time.monotonic()
    assert run_job(runtime, job.id) is RunOutcome.CANCELLED
    assert time.monotonic() - started < 2
    ended = reload(session, job)
    assert (ended.status, ended.error, ended.active_dedup_key) == (
        "Cancelled",
        "cancelled by admin@example.org",
        None,
    )
    assert notes(session, treasurer.id) == []  # the task's row went with the attempt
    assert runtime.leases.held() == []


def test_where_no_signal_can_stop_it_the_task_asks_between_steps(
    session, treasurer, job_engine, runtime, monkeypatch
):
    # The in-process consumer of `serve` runs jobs in a thread: no timer can interrupt them.
    monkeypatch.setattr(deadline_module, "can_stop_jobs_here", lambda: False)
    job = enqueue(session, "test.write_note", user=treasurer, subject="written")
    job.cancel_requested_at = clock.now()
    job.cancel_requested_by = "admin@example.org"
    session.commit()
    original = registry.get_task("test.write_note")
    asked: list[bool] = []

    def steps(job_session: Session, user, **params):
        original.function(job_session, user, **params)
        asked.append(cancel_requested())
        stop_if_cancel_requested()  # nothing yet: the heartbeat has not told the attempt
        cancel_from_the_heartbeat(runtime, job.id)
        asked.append(cancel_requested())
        stop_if_cancel_requested()
        return "not reached"

    monkeypatch.setitem(
        registry._tasks, "test.write_note", registry.TaskSpec("w", Queue.SHORT, steps)
    )
    assert run_job(runtime, job.id) is RunOutcome.CANCELLED
    assert asked == [False, True]
    assert reload(session, job).status == JobStatus.CANCELLED
    assert notes(session, treasurer.id) == []
    assert cancel_requested() is False  # outside a job nothing is asked


def test_a_failed_attempt_of_a_job_with_a_cancel_request_is_not_retried(
    session, treasurer, job_engine, runtime, drain
):
    job = enqueue(session, "test.always_fails", user=treasurer, max_retries=3)
    job.cancel_requested_at = clock.now()
    job.cancel_requested_by = "admin@example.org"
    session.commit()
    assert drain() == ["failed"]
    ended = reload(session, job)
    assert (ended.status, ended.attempts, ended.error) == (
        "Cancelled",
        1,
        "cancelled by admin@example.org",
    )
    assert notes(session, treasurer.id) == []


def test_a_heartbeat_sweeps_a_dead_workers_job_and_cancels_one_whose_cancel_was_requested(
    session, treasurer, job_engine, runtime, marks
):
    dead, cancelled, alive = (
        enqueue(session, "test.record", user=treasurer, marks=marks, key=k) for k in "abc"
    )
    past = clock.now() - dt.timedelta(seconds=1)
    ahead = clock.now() + dt.timedelta(seconds=30)
    for job, lease in ((dead, past), (cancelled, past), (alive, ahead)):
        job.status, job.attempts, job.lease_until, job.worker = "Running", 1, lease, "gone:9"
    cancelled.cancel_requested_at = past
    cancelled.cancel_requested_by = "admin@example.org"
    session.commit()
    renewal, swept = runtime.heartbeat().beat()
    assert (renewal.renewed, swept) == (frozenset(), SweepResult(requeued=1, cancelled=1))
    assert [reload(session, j).status for j in (dead, cancelled, alive)] == [
        "Queued",
        "Cancelled",
        "Running",
    ]
    assert reload(session, cancelled).error == "cancelled by admin@example.org"


def test_the_dues_run_stops_between_batches_on_a_cancel_request_and_bills_nothing(
    session, admin, job_engine, runtime, frozen_today, monkeypatch
):
    import verenigingen.dues.tasks  # noqa: F401  (registers dues.generate)
    from member_factories import bulk_schedules, make_type
    from verenigingen.billing.models import Invoice
    from verenigingen.jobs import chunks

    bulk_schedules(session, make_type(session), 25, start=frozen_today)
    job = enqueue(session, "dues.generate", user=admin, batch_size=10)
    job.cancel_requested_at = clock.now()
    job.cancel_requested_by = "admin@example.org"
    session.commit()
    monkeypatch.setattr(deadline_module, "can_stop_jobs_here", lambda: False)
    checks: list[str] = []

    def heard_after_the_first_batch() -> None:
        checks.append("asked")
        cancel_from_the_heartbeat(runtime, job.id)
        stop_if_cancel_requested()

    monkeypatch.setattr(chunks, "stop_if_cancel_requested", heard_after_the_first_batch)
    assert run_job(runtime, job.id) is RunOutcome.CANCELLED
    assert checks == ["asked"]  # after the first of three batches; the run stopped there
    session.expire_all()
    # In the test's transaction the job does not own its transaction, so its batches are not
    # committed one by one (jobs.chunks; tests/dues/test_dues_chunks.py commits them): all
    # rolled back.
    assert session.scalar(select(func.count()).select_from(Invoice)) == 0
    assert reload(session, job).status == JobStatus.CANCELLED


def test_the_sweeper_leaves_a_job_whose_heartbeat_renewed_it_after_the_sweeper_looked(
    session, treasurer, job_engine, runtime, marks
):
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    job.status, job.attempts, job.worker = "Running", 1, "alive:1"
    job.lease_until = clock.now() + dt.timedelta(seconds=30)  # renewed meanwhile
    session.commit()
    looked_at = clock.now()  # when the sweeper read the lease as passed
    for cancel_requested_at in (None, clock.now()):
        job.cancel_requested_at = cancel_requested_at
        job.cancel_requested_by = "admin@example.org"
        session.commit()
        outcome = record_failed_attempt(
            session,
            runtime.settings,
            job.id,
            job.name,
            treasurer.id,
            1,
            3,
            "lease passed",
            lease_passed_at=looked_at,
        )
        session.commit()
        assert outcome is FailedAttempt.NO_LONGER_RUNNING
        assert reload(session, job).status == JobStatus.RUNNING

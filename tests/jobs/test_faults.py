"""The five faults, with two real worker processes, on SQLite + SqliteHuey and on
PostgreSQL + Redis: a job is never run for a rolled-back transaction, never lost, never run
twice at once, and its user hears of its end exactly once."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from worker_processes import FAST, Shape, settings_from

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.scratch import throwaway_database
from verenigingen.db.session import make_session_factory
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, Notification, Queue
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.jobs.service import cancel_job


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The server itself: these tests make (and drop) a database of their own on it."""
    url = os.environ.get("VERENIGINGEN_TEST_POSTGRES_URL")
    if not url:
        message = "VERENIGINGEN_TEST_POSTGRES_URL is not set"
        if os.environ.get("VERENIGINGEN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} and VERENIGINGEN_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(f"{message}; set it to run the faults on PostgreSQL + Redis")
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def shape(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Shape]:
    base = tmp_path_factory.mktemp("faults")
    env = {**FAST, "VERENIGINGEN_DATA_DIR": str(base / "data")}
    env["VERENIGINGEN_JOBS_NAMESPACE"] = f"t{uuid.uuid4().hex[:10]}"
    stack = contextlib.ExitStack()
    if request.param == "sqlite":
        database = base / "verenigingen.db"
        shutil.copy(sqlite_template, database)
        env["VERENIGINGEN_DATABASE_URL"] = f"sqlite:///{database}"
    else:
        env["VERENIGINGEN_REDIS_URL"] = request.getfixturevalue("redis_url")
        server = request.getfixturevalue("postgres_server_url")
        env["VERENIGINGEN_DATABASE_URL"] = stack.enter_context(throwaway_database(server))
    settings = settings_from(env)
    db = make_engine(settings=settings)
    if request.param != "sqlite":
        upgrade(db)
    engine = JobEngine.from_settings(settings)
    # As a request's: what these sessions commit is handed to the workers' queues.
    factory = make_session_factory(db, info={JOB_ENGINE_KEY: engine})
    with factory() as session, session.begin():
        create_user(session, "admin@example.org", Role.ADMINISTRATOR)
        user_id = create_user(session, "treasurer@example.org", Role.TREASURER).id
    marks = base / "marks"
    marks.mkdir()
    logs = base / "logs"
    logs.mkdir()
    shape = Shape(request.param, env, factory, engine, marks, user_id, logs)
    try:
        yield shape
    finally:
        shape.stop_workers()
        engine.flush()
        engine.close()
        db.dispose()
        stack.close()  # drops the throw-away database


@pytest.fixture
def workers(shape: Shape) -> Shape:
    shape.ensure_workers(2)
    return shape


def key() -> str:
    return uuid.uuid4().hex[:12]


def test_rolled_back_enqueue_never_runs(workers: Shape) -> None:
    rolled_back = key()
    with workers.factory() as session, session.begin():
        from verenigingen.auth.models import User
        from verenigingen.jobs import enqueue

        enqueue(
            session,
            "test.record",
            user=session.get(User, workers.user_id),
            marks=str(workers.marks),
            key=rolled_back,
        )
        session.rollback()
    # A job committed after it runs; once it has, the workers have seen everything before it.
    later = workers.enqueue("test.record", marks=str(workers.marks), key=key())
    workers.wait_for(later, "Completed")
    assert workers.runs(rolled_back) == 0
    with workers.factory() as session:
        params = session.scalars(select(Job.params)).all()
    assert all(p["key"] != rolled_back for p in params if "key" in p)
    assert sum(workers.engine.pending(q) for q in Queue) == 0


def test_process_dying_between_commit_and_dispatch(workers: Shape) -> None:
    mark = key()
    script = textwrap.dedent(
        f"""
        import os
        from sqlalchemy import event
        import sample_tasks
        from verenigingen.auth.models import User
        from verenigingen.db.engine import make_engine
        from verenigingen.db.session import make_session_factory
        from verenigingen.jobs import enqueue

        session = make_session_factory(make_engine())()
        # Registered before enqueue registers its hook, so it runs first: the process dies
        # after the commit and before the dispatch.
        event.listen(session, "after_commit", lambda _s: os._exit(0))
        with session.begin():
            user = session.get(User, {workers.user_id})
            job = enqueue(session, "test.record", user=user, marks={str(workers.marks)!r},
                          key={mark!r})
            print(job.id, flush=True)
        raise SystemExit("not reached: the after-commit hook exits")
        """
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script],
        env=workers.process_env(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    job_id = int(done.stdout.split()[0])
    job = workers.wait_for(job_id, "Completed")
    assert (job.attempts, workers.runs(mark)) == (1, 1)


def test_worker_killed_mid_job_runs_again_after_its_lease(workers: Shape) -> None:
    # A 300 s timeout: the lease (1.5 s here), not timeout + grace, says when it comes back.
    mark = key()
    job_id = workers.enqueue(
        "test.block_first", timeout=300, marks=str(workers.marks), key=mark, seconds=60
    )
    running = workers.wait_for(job_id, "Running")
    victim = int(running.worker.rsplit(":", 1)[1])
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    job = workers.wait_for(job_id, "Completed", timeout=30)
    # Lease + heartbeat + backoff + relay: a few seconds here; about 40 s with the defaults.
    assert time.monotonic() - killed < 10
    assert (job.attempts, workers.runs(mark), job.result) == (2, 2, 2)
    assert int(job.worker.rsplit(":", 1)[1]) != victim
    assert workers.running() == []
    assert [w.poll() for w in workers.workers if w.pid == victim] == [-signal.SIGKILL]


def test_worker_killed_mid_group_loses_the_group_and_each_job_completes_once(
    shape: Shape,
) -> None:
    # One worker, so that the four jobs meet in one of its groups: three quick jobs (short
    # queue, served first), then one that blocks until the worker is killed.
    shape.stop_workers()
    mark = key()
    quick = [
        shape.enqueue("test.record", timeout=2, marks=str(shape.marks), key=f"{mark}{i}")
        for i in range(3)
    ]
    blocker = shape.enqueue(
        "test.block_first", timeout=5, marks=str(shape.marks), key=f"{mark}b", seconds=60
    )
    # A group budget far above the test's timings: a loaded machine must not split the group.
    victim = shape.start_worker(VERENIGINGEN_JOB_GROUP_MAX_SECONDS="30")
    shape.wait_for(blocker, "Running")
    grouped = shape.name != "sqlite"  # PostgreSQL runs groups, SQLite each job alone
    before = [shape.job(job_id).status for job_id in quick]
    assert before == (["Running"] * 3 if grouped else ["Completed"] * 3)
    victim.kill()
    victim.wait()
    shape.ensure_workers(2)
    done = [shape.wait_for(job_id, "Completed", timeout=30) for job_id in [*quick, blocker]]
    runs = 2 if grouped else 1  # the group's work was rolled back: its jobs ran again
    assert [(j.attempts, j.result["runs"]) for j in done[:3]] == [(runs, runs)] * 3
    assert [shape.runs(f"{mark}{i}") for i in range(3)] == [runs] * 3
    assert (done[3].attempts, done[3].result, shape.runs(f"{mark}b")) == (2, 2, 2)
    assert shape.running() == []
    with shape.factory() as session:
        notified = session.scalars(
            select(Notification.job_id).where(Notification.job_id.in_([*quick, blocker]))
        ).all()
    assert sorted(notified) == sorted([*quick, blocker])  # one each


def test_retries_then_success_and_failure_notified_once(workers: Shape) -> None:
    flaky = workers.enqueue("test.flaky", marks=str(workers.marks), key=key(), failures=2)
    failing = workers.enqueue("test.always_fails", max_retries=2)
    done = workers.wait_for(flaky, "Completed")
    failed = workers.wait_for(failing, "Failed")
    assert (done.attempts, done.result) == (3, 3)
    assert failed.attempts == 3
    with workers.factory() as session:
        messages = session.scalars(
            select(Notification.message).where(
                Notification.job_id.in_([flaky, failing]),
                Notification.user_id == workers.user_id,
            )
        ).all()
    assert sorted(messages) == [
        "Job 'test.always_fails' failed. Administrator has been notified.",
        "Job 'test.flaky' completed successfully",
    ]


def test_same_job_delivered_twice_runs_once(workers: Shape) -> None:
    mark = key()
    job_ids = [
        workers.enqueue("test.record", marks=str(workers.marks), key=f"{mark}{i}") for i in range(5)
    ]
    for job_id in job_ids:  # every job twice more: three deliveries each, two workers racing
        workers.engine.dispatch(Queue.SHORT, job_id)
        workers.engine.dispatch(Queue.SHORT, job_id)
    for index, job_id in enumerate(job_ids):
        job = workers.wait_for(job_id, "Completed")
        assert (job.attempts, workers.runs(f"{mark}{index}")) == (1, 1)
    with workers.factory() as session:
        notified = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.job_id.in_(job_ids))
        )
    assert notified == len(job_ids)


def test_a_long_job_keeps_its_lease_while_its_worker_lives(workers: Shape) -> None:
    # Three seconds of work on a 1.5 s lease: the heartbeat renews it, no sweeper takes it.
    job_id = workers.enqueue(
        "test.note_and_sleep", timeout=60, subject=key(), seconds=3, note_first=False
    )
    first = workers.wait_for(job_id, "Running")
    assert first.lease_until is not None
    assert first.started_at is not None
    latest = first.lease_until
    while (job := workers.job(job_id)).status == "Running":
        if job.lease_until is not None:
            latest = max(latest, job.lease_until)
        time.sleep(0.1)
    assert (job.status, job.attempts, job.result) == ("Completed", 1, "slept")
    assert latest > first.started_at + dt.timedelta(seconds=2.5)  # renewed past 1.5 s


def cancel_as_admin(shape: Shape, job_id: int) -> Job:
    with shape.factory() as session, session.begin():
        admin = session.scalars(select(User).where(User.email == "admin@example.org")).one()
        job = cancel_job(session, admin, job_id)
        session.expunge(job)
        return job


def test_a_running_job_cancelled_by_an_administrator_stops_and_is_rolled_back(
    workers: Shape,
) -> None:
    subject = key()
    # On SQLite a job that wrote holds the write lock: there the request comes before it writes.
    job_id = workers.enqueue(
        "test.note_and_sleep",
        timeout=60,
        subject=subject,
        seconds=30,
        note_first=workers.name != "sqlite",
    )
    running = workers.wait_for(job_id, "Running")
    time.sleep(0.3)  # under way (and, on PostgreSQL, its row written)
    requested = cancel_as_admin(workers, job_id)
    assert (requested.status, requested.cancel_requested_by) == ("Running", "admin@example.org")
    asked = time.monotonic()
    job = workers.wait_for(job_id, "Cancelled", timeout=10)
    assert time.monotonic() - asked < 3  # a heartbeat (0.25 s) and the interrupt, not 30 s
    assert (job.error, job.attempts, job.active_dedup_key) == (
        "cancelled by admin@example.org",
        1,
        None,
    )
    with workers.factory() as session:
        written = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.subject == subject)
        )
    assert written == 0
    # Its worker lives on and runs the next job.
    victim = int(running.worker.rsplit(":", 1)[1])
    assert [w.poll() for w in workers.workers if w.pid == victim] == [None]
    after = workers.enqueue("test.record", marks=str(workers.marks), key=key())
    assert workers.wait_for(after, "Completed").attempts == 1


def test_a_running_job_whose_worker_was_killed_is_cancelled_at_once(shape: Shape) -> None:
    # One worker, killed: no sweeper runs, and the lease simply passes.
    shape.stop_workers()
    victim = shape.start_worker()
    job_id = shape.enqueue(
        "test.block_first", timeout=300, marks=str(shape.marks), key=key(), seconds=60
    )
    shape.wait_for(job_id, "Running")
    victim.kill()
    victim.wait()
    lease_until = shape.job(job_id).lease_until
    assert lease_until is not None
    time.sleep(max(0.0, (lease_until - clock.now()).total_seconds()) + 0.2)
    cancelled = cancel_as_admin(shape, job_id)
    assert (cancelled.status, cancelled.error) == (
        "Cancelled",
        "cancelled by admin@example.org (its worker was gone)",
    )
    assert (cancelled.active_dedup_key, cancelled.lease_until) == (None, None)

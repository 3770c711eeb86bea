"""Group commit: the jobs of the messages waiting now run in one transaction and commit once,
on committed databases of their own (a group claims on a second connection, which must see the
jobs). PostgreSQL runs groups; SQLite and MariaDB run each job alone (jobs.worker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from server_databases import committed_engine_on
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.jobs import enqueue, registry, stop_if_cancel_requested
from verenigingen.jobs.consumer import run_next_group
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, Notification, Queue
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.jobs.worker import Runtime
from verenigingen.perf.capture import capture

SERVERS = {"postgres": "VERENIGINGEN_TEST_POSTGRES_URL", "mariadb": "VERENIGINGEN_TEST_MARIADB_URL"}


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def committed_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine: Engine = request.getfixturevalue("fresh_sqlite")
        yield engine
        return
    yield from committed_engine_on(SERVERS[request.param])


def sessions_of(database: Engine, jobs: JobEngine) -> sessionmaker[Session]:
    # As a worker's: what its sessions commit is handed to its engine.
    return make_session_factory(database, info={JOB_ENGINE_KEY: jobs})


@pytest.fixture
def runtime(committed_engine: Engine, engine: JobEngine, tmp_path: Path) -> Runtime:
    settings = Settings(
        data_dir=tmp_path,
        job_retry_backoff_seconds=0.0,
        # A loaded machine must not split the group under test: the size is the point here.
        job_group_max_seconds=60.0,
    )
    return Runtime(sessions_of(committed_engine, engine), settings, worker_id="group:1")


@pytest.fixture
def owner_id(runtime: Runtime) -> int:
    with runtime.session_factory() as session, session.begin():
        return create_user(session, "owner@example.org", Role.TREASURER).id


@pytest.fixture
def engine() -> JobEngine:
    return JobEngine.memory(f"group{uuid.uuid4().hex[:8]}")


def enqueue_all(
    runtime: Runtime, owner_id: int, jobs: list[tuple[str, dict[str, object]]]
) -> list[int]:
    """Each job committed on its own, as requests would, so its message waits in the engine."""
    ids = []
    for name, params in jobs:
        with runtime.session_factory() as session, session.begin():
            user = session.get(User, owner_id)
            ids.append(enqueue(session, name, user=user, max_retries=0, **params).id)
    return ids


def drain(runtime: Runtime, engine: JobEngine) -> list[list[str]]:
    """The outcomes of each group, until no message waits."""
    groups = []
    while (outcomes := run_next_group(runtime, engine, tuple(Queue))) is not None:
        groups.append(outcomes)
    return groups


def grouped(runtime: Runtime) -> bool:
    bind = runtime.session_factory.kw["bind"]
    return bind.dialect.name == "postgresql"


def read(runtime: Runtime, job_ids: list[int]) -> tuple[list[Job], dict[int, list[str]]]:
    with runtime.session_factory() as session:
        jobs = [session.get_one(Job, job_id) for job_id in job_ids]
        session.expunge_all()
        notes: dict[int, list[str]] = {job_id: [] for job_id in job_ids}
        for job_id, subject in session.execute(
            select(Notification.job_id, Notification.subject).where(
                Notification.job_id.in_(job_ids)
            )
        ):
            notes[job_id].append(subject)
        return jobs, notes


def subjects(session: Session, owner_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(Notification.subject).where(
                Notification.user_id == owner_id, Notification.job_id.is_(None)
            )
        )
    )


def test_waiting_jobs_run_as_one_group_that_commits_once(
    runtime: Runtime, engine: JobEngine, owner_id: int, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = enqueue_all(
        runtime,
        owner_id,
        [("test.record", {"marks": str(marks), "key": f"k{i}"}) for i in range(5)],
    )
    with capture() as log:
        groups = drain(runtime, engine)
    if grouped(runtime):
        assert groups == [["completed"] * 5]
        # The first job's claim commits on the group's connection before the group begins; the
        # later claims are autocommit statements; the five completions share one commit.
        assert log.transactions["commit"] == 2
        # Each later job has its savepoint, which SQLAlchemy sends with the first statement run
        # inside it: these jobs run none (their completions are the group's last statement).
        assert log.transactions["savepoint"] == 0
    else:
        assert groups == [["completed"]] * 5  # each job alone, claim and run
        assert log.transactions["commit"] == 10
        assert log.transactions["savepoint"] == 0
    done, notes = read(runtime, jobs)
    assert [(j.status, j.attempts, j.result["runs"]) for j in done] == [("Completed", 1, 1)] * 5
    assert all(j.lease_until is None and j.worker == "group:1" for j in done)
    assert [notes[j] for j in jobs] == [["Job completed: test.record"]] * 5


def test_a_failing_job_inside_a_group_is_rolled_back_alone(
    runtime: Runtime, engine: JobEngine, owner_id: int
) -> None:
    jobs = enqueue_all(
        runtime,
        owner_id,
        [
            ("test.write_note", {"subject": "first"}),
            ("test.write_note_then_fail", {"subject": "failed"}),
            ("test.write_note", {"subject": "third"}),
        ],
    )
    groups = drain(runtime, engine)
    outcomes = ["completed", "failed", "completed"]
    assert groups == ([outcomes] if grouped(runtime) else [[o] for o in outcomes])
    done, notes = read(runtime, jobs)
    assert [(j.status, j.attempts) for j in done] == [
        ("Completed", 1),
        ("Failed", 1),
        ("Completed", 1),
    ]
    assert "RuntimeError: failed after writing 'failed'" in (done[1].error or "")
    assert notes[jobs[1]] == ["Job failed: test.write_note_then_fail"]
    assert notes[jobs[0]] == notes[jobs[2]] == ["Job completed: test.write_note"]
    with runtime.session_factory() as session:
        # The neighbours' rows are kept; the failed job's row went with its savepoint.
        assert subjects(session, owner_id) == ["first", "third"]
        assert session.scalar(select(func.count()).select_from(Job)) == 3


def test_a_failing_first_job_leaves_the_rest_of_its_group_running(
    runtime: Runtime, engine: JobEngine, owner_id: int
) -> None:
    # The first job of a transaction has no savepoint: its failure rolls back the transaction
    # that it alone holds, and its failed attempt opens the group's next one.
    jobs = enqueue_all(
        runtime,
        owner_id,
        [
            ("test.write_note_then_fail", {"subject": "failed"}),
            ("test.write_note", {"subject": "second"}),
        ],
    )
    groups = drain(runtime, engine)
    assert groups == (
        [["failed", "completed"]] if grouped(runtime) else [["failed"], ["completed"]]
    )
    done, _notes = read(runtime, jobs)
    assert [j.status for j in done] == ["Failed", "Completed"]
    with runtime.session_factory() as session:
        assert subjects(session, owner_id) == ["second"]


def test_a_duplicate_delivery_inside_a_group_is_skipped(
    runtime: Runtime, engine: JobEngine, owner_id: int, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    [job_id] = enqueue_all(runtime, owner_id, [("test.record", {"marks": str(marks), "key": "k"})])
    engine.dispatch(Queue.SHORT, job_id)
    groups = drain(runtime, engine)
    assert [o for g in groups for o in g] == ["completed", "skipped"]
    done, notes = read(runtime, [job_id])
    assert (done[0].status, done[0].attempts, done[0].result["runs"]) == ("Completed", 1, 1)
    assert notes[job_id] == ["Job completed: test.record"]


def test_the_claims_connection_commits_asynchronously_and_the_pool_gets_it_back_reset(
    postgres_url: str,
) -> None:
    from verenigingen.jobs.claims_postgresql import claims_connection, release_claims_connection

    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)  # one connection, reused
    try:
        claims = claims_connection(engine)
        assert claims.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        backend = claims.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        release_claims_connection(claims)
        with engine.connect() as next_user:  # a request's connection, from the same pool
            assert next_user.exec_driver_sql("SELECT pg_backend_pid()").scalar() == backend
            assert next_user.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    finally:
        engine.dispose()


# Groups run on PostgreSQL only (jobs.worker): these tests take only that engine.
postgres_only = pytest.mark.parametrize("committed_engine", ["postgres"], indirect=True)


@postgres_only
def test_a_claim_commits_asynchronously_and_the_next_transaction_durably(
    runtime: Runtime, engine: JobEngine, owner_id: int, committed_engine: Engine
) -> None:
    [job_id] = enqueue_all(runtime, owner_id, [("test.write_note", {"subject": "x"})])
    with committed_engine.connect() as connection, Session(bind=connection) as session:
        with session.begin():
            assert runtime.claims.claim(session, job_id) is not None
            assert session.execute(text("SHOW synchronous_commit")).scalar() == "off"
        with session.begin():  # the group's transaction, on the same connection
            assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"


@postgres_only
@pytest.mark.parametrize(
    ("jobs", "statements", "claims"),
    [
        # SET LOCAL synchronous_commit off and the first claim; the completions: no claims
        # connection is opened.
        (1, 3, 0),
        # The first claim (two statements); SET synchronous_commit off / DEFAULT on the claims
        # connection; the later claims in batches of 1, 2, 1; the completions, one statement.
        (5, 8, 3),
        # Batches of 1, 2, 4, 8, 4: the claims grow as the log of the group, nothing per job.
        (20, 10, 5),
    ],
)
def test_a_group_claims_in_growing_batches_and_completes_in_one_statement(
    runtime: Runtime,
    engine: JobEngine,
    owner_id: int,
    tmp_path: Path,
    jobs: int,
    statements: int,
    claims: int,
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    job_ids = enqueue_all(
        runtime,
        owner_id,
        [("test.record", {"marks": str(marks), "key": f"k{i}"}) for i in range(jobs)],
    )
    with capture() as log:
        groups = drain(runtime, engine)
    assert groups == [["completed"] * jobs]
    assert log.count == statements
    assert sum(q.sql.startswith("UPDATE job SET status") for q in log.queries) == claims
    assert log.transactions["commit"] == 2
    done, notes = read(runtime, job_ids)
    assert [(j.status, j.attempts, j.result["runs"]) for j in done] == [("Completed", 1, 1)] * jobs
    assert all(notes[j] == ["Job completed: test.record"] for j in job_ids)


@postgres_only
def test_a_claim_held_behind_a_slow_job_goes_back_to_the_queue_unrun(
    committed_engine: Engine, engine: JobEngine, owner_id: int, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        job_group_max_seconds=60.0,
        job_lease_grace_seconds=0.2,  # a claim waits at most 0.1 s for its turn
    )
    runtime = Runtime(sessions_of(committed_engine, engine), settings, worker_id="group:1")
    marks = tmp_path / "marks"
    marks.mkdir()
    record = ("test.record", {"marks": str(marks), "key": "k"})
    # Claimed alone, then batches of 1 and 2: the last job is claimed with the slow one.
    job_ids = enqueue_all(
        runtime, owner_id, [record, record, ("test.sleep", {"seconds": 0.3}), record]
    )
    groups = drain(runtime, engine)
    # Given back, the last job went to the queue again, and this worker took it once more.
    assert groups == [["completed", "completed", "completed", "returned", "completed"]]
    done, notes = read(runtime, job_ids)
    # Its claim given back did not count as an attempt.
    assert [(j.status, j.attempts) for j in done] == [("Completed", 1)] * 4
    assert all(len(notes[j]) == 1 for j in job_ids)


@postgres_only
def test_a_lease_lost_inside_a_group_rolls_it_back_and_gives_back_its_other_jobs(
    runtime: Runtime,
    engine: JobEngine,
    owner_id: int,
    committed_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = registry.get_task("test.write_note")

    def swept_meanwhile(session: Session, user: User, *, subject: str) -> None:
        original.function(session, user, subject=subject)
        # The sweeper, from another connection: this run's job is Queued again.
        with committed_engine.begin() as sweeper:
            sweeper.execute(update(Job).where(Job.id == job_ids[1]).values(status="Queued"))

    monkeypatch.setitem(
        registry._tasks,
        "test.swept",
        registry.TaskSpec("test.swept", Queue.SHORT, swept_meanwhile),
    )
    job_ids = enqueue_all(
        runtime,
        owner_id,
        [
            ("test.write_note", {"subject": "first"}),
            ("test.swept", {"subject": "swept"}),
            ("test.write_note", {"subject": "third"}),
        ],
    )
    groups = drain(runtime, engine)
    # Nothing of the first group is kept; its two other jobs run again in the next one.
    assert groups == [["returned", "lost", "returned"], ["completed", "completed"]]
    done, notes = read(runtime, job_ids)
    assert [(j.status, j.attempts) for j in done] == [
        ("Completed", 1),
        ("Queued", 1),  # as the sweeper left it
        ("Completed", 1),
    ]
    assert notes[job_ids[1]] == []
    with runtime.session_factory() as session:
        assert subjects(session, owner_id) == ["first", "third"]


@postgres_only
def test_a_cancel_request_inside_a_group_cancels_that_job_and_gives_back_the_others(
    runtime: Runtime,
    engine: JobEngine,
    owner_id: int,
    committed_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = registry.get_task("test.write_note")

    def cancelled_meanwhile(session: Session, user: User, *, subject: str) -> None:
        original.function(session, user, subject=subject)
        # An administrator, from another connection; no heartbeat tells the attempt first.
        with committed_engine.begin() as request:
            request.execute(
                update(Job)
                .where(Job.id == job_ids[1])
                .values(cancel_requested_at=func.now(), cancel_requested_by="admin@example.org")
            )

    monkeypatch.setitem(
        registry._tasks,
        "test.cancelled",
        registry.TaskSpec("test.cancelled", Queue.SHORT, cancelled_meanwhile),
    )
    job_ids = enqueue_all(
        runtime,
        owner_id,
        [
            ("test.write_note", {"subject": "first"}),
            ("test.cancelled", {"subject": "cancelled"}),
            ("test.write_note", {"subject": "third"}),
        ],
    )
    groups = drain(runtime, engine)
    # Its completion is refused at the group's commit: nothing of the group is kept, the job
    # ends Cancelled and the two others run again in the next group.
    assert groups == [["returned", "cancelled", "returned"], ["completed", "completed"]]
    done, notes = read(runtime, job_ids)
    assert [(j.status, j.attempts) for j in done] == [
        ("Completed", 1),
        ("Cancelled", 1),
        ("Completed", 1),
    ]
    assert done[1].error == "cancelled by admin@example.org"
    assert notes[job_ids[1]] == []
    with runtime.session_factory() as session:
        assert subjects(session, owner_id) == ["first", "third"]
    assert runtime.leases.held() == []


@postgres_only
def test_a_job_told_of_its_cancel_inside_a_group_is_rolled_back_alone(
    runtime: Runtime,
    engine: JobEngine,
    owner_id: int,
    committed_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = registry.get_task("test.write_note")

    def told_by_the_heartbeat(session: Session, user: User, *, subject: str) -> None:
        original.function(session, user, subject=subject)
        with committed_engine.begin() as request:
            request.execute(
                update(Job)
                .where(Job.id == job_ids[1])
                .values(cancel_requested_at=func.now(), cancel_requested_by="admin@example.org")
            )
        [held] = [h for h in runtime.leases.held() if h.claim.id == job_ids[1]]
        held.stop.request_cancel("admin@example.org")  # what the heartbeat does once it reads it
        stop_if_cancel_requested()

    monkeypatch.setitem(
        registry._tasks,
        "test.told",
        registry.TaskSpec("test.told", Queue.SHORT, told_by_the_heartbeat),
    )
    job_ids = enqueue_all(
        runtime,
        owner_id,
        [
            ("test.write_note", {"subject": "first"}),
            ("test.told", {"subject": "told"}),
            ("test.write_note", {"subject": "third"}),
        ],
    )
    # Stopped in its savepoint: the group goes on and commits the other two.
    assert drain(runtime, engine) == [["completed", "cancelled", "completed"]]
    done, notes = read(runtime, job_ids)
    assert [j.status for j in done] == ["Completed", "Cancelled", "Completed"]
    assert [len(notes[j]) for j in job_ids] == [1, 0, 1]  # no notification for the cancelled
    with runtime.session_factory() as session:
        assert subjects(session, owner_id) == ["first", "third"]

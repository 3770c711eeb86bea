"""Job groups: the follow-up jobs of one write notify their user once, when the last of them
ends, on each engine; and of two workers that end a group's last two jobs at once, exactly one
writes the notification (real threads, committed databases)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from contexts import savepoint_sessions
from server_databases import committed_engine_on
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.db.session import make_session_factory
from verenigingen.errors import ValidationFailed
from verenigingen.jobs import JobRequest, enqueue_many, groups, job
from verenigingen.jobs.consumer import run_next_group
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.groups import open_group
from verenigingen.jobs.models import Job, JobGroup, Notification, Queue
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.service import cancel_job, retry_job
from verenigingen.jobs.worker import Runtime, run_job

SERVERS = {"postgres": "VERENIGINGEN_TEST_POSTGRES_URL", "mariadb": "VERENIGINGEN_TEST_MARIADB_URL"}

_barriers: dict[str, threading.Barrier] = {}
_refusals: set[str] = set()


@job("test.group_meet", queue="short")
def group_meet(session: Session, user: User, *, barrier: str) -> str:
    """Waits until every job of its barrier has run its work, so that they end together."""
    _barriers[barrier].wait(timeout=20)
    return "met"


@job("test.group_refuse_once", queue="short")
def group_refuse_once(session: Session, user: User, *, key: str) -> str:
    """A domain error the first time (failed for good, retries left), done the next."""
    if key not in _refusals:
        _refusals.add(key)
        raise ValidationFailed("member 42 has no IBAN yet")
    return "done"


@pytest.fixture
def engine() -> JobEngine:
    return JobEngine.memory(f"groups{uuid.uuid4().hex[:8]}")


def worker(database: Engine, jobs: JobEngine, tmp_path: Path, name: str) -> Runtime:
    factory: sessionmaker[Session] = make_session_factory(database, info={JOB_ENGINE_KEY: jobs})
    return Runtime(factory, Settings(data_dir=tmp_path), worker_id=name)


@pytest.fixture
def runtime(any_session: Session, settings: Settings) -> Runtime:
    """A worker on the test's rolled-back connection, on each of the three engines."""
    return Runtime(savepoint_sessions(any_session), settings, worker_id="groups:1")


@pytest.fixture
def owner_id(runtime: Runtime) -> int:
    with runtime.session_factory() as session, session.begin():
        create_user(session, "admin@example.org", Role.ADMINISTRATOR)
        return create_user(session, "owner@example.org", Role.TREASURER).id


def enqueue_group(
    runtime: Runtime, owner_id: int, requests: list[JobRequest], subject: str = "Payment PAY-1"
) -> tuple[int, list[int]]:
    """The jobs of one write, as events.record leaves them: a group, then its jobs."""
    with runtime.session_factory() as session, session.begin():
        user = session.get_one(User, owner_id)
        group_id = open_group(session, user_id=owner_id, subject=subject, jobs=len(requests))
        return group_id, enqueue_many(session, requests, user=user, group_id=group_id)


def records(marks: str, count: int) -> list[JobRequest]:
    return [JobRequest("test.record", {"marks": marks, "key": f"r{i}"}) for i in range(count)]


def notes_of(runtime: Runtime, user_id: int) -> list[Notification]:
    with runtime.session_factory() as session:
        notes = list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id)
            )
        )
        session.expunge_all()
        return notes


def group_row(runtime: Runtime, group_id: int) -> JobGroup:
    with runtime.session_factory() as session:
        group = session.get_one(JobGroup, group_id)
        session.expunge(group)
        return group


def admin_id(runtime: Runtime) -> int:
    with runtime.session_factory() as session:
        found = session.scalar(select(User.id).where(User.email == "admin@example.org"))
        assert found is not None
        return found


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_group_notifies_its_user_once_when_its_last_job_ends(
    runtime: Runtime, owner_id: int, marks: str, size: int
) -> None:
    group_id, job_ids = enqueue_group(runtime, owner_id, records(marks, size))
    for number, job_id in enumerate(job_ids, start=1):
        assert run_job(runtime, job_id) is RunOutcome.COMPLETED
        # No job of a group notifies of its own: nothing until the last one has ended.
        assert len(notes_of(runtime, owner_id)) == (1 if number == size else 0)
    [note] = notes_of(runtime, owner_id)
    what = "its follow-up job" if size == 1 else f"its {size} follow-up jobs"
    assert (note.subject, note.message, note.indicator, note.job_id) == (
        "Payment PAY-1: done",
        f"Payment PAY-1: {what} completed successfully",
        "green",
        job_ids[-1],
    )
    group = group_row(runtime, group_id)
    assert (group.jobs_total, group.jobs_open, group.jobs_failed) == (size, 0, 0)
    assert group.notified_at is not None
    with runtime.session_factory() as session:
        grouped = session.scalars(select(Job.group_id).where(Job.id.in_(job_ids))).all()
        assert grouped == [group_id] * size


def test_groups_run_in_one_worker_transaction_notify_once_each(
    engine: JobEngine, tmp_path: Path, marks: str
) -> None:
    # PostgreSQL runs the waiting jobs as one transaction and completes them in one statement:
    # two jobs of one group, ended together, and a third group ended with them.
    for database in committed_engine_on(SERVERS["postgres"]):
        runtime = worker(database, engine, tmp_path, "groups:1")
        with runtime.session_factory() as session, session.begin():
            owner_id = create_user(session, "owner@example.org", Role.TREASURER).id
        enqueue_group(runtime, owner_id, records(marks, 3), "Payment PAY-1")
        enqueue_group(runtime, owner_id, records(marks, 1), "Payment PAY-2")
        transactions = []
        while (outcomes := run_next_group(runtime, engine, tuple(Queue))) is not None:
            transactions.append(outcomes)
        assert [o for ran in transactions for o in ran] == [RunOutcome.COMPLETED] * 4
        assert len(transactions[0]) > 1  # jobs ended together, in one transaction
        subjects = sorted(note.subject for note in notes_of(runtime, owner_id))
        assert subjects == ["Payment PAY-1: done", "Payment PAY-2: done"]


def test_a_failed_job_makes_the_groups_one_notification_say_which(
    runtime: Runtime, owner_id: int, marks: str
) -> None:
    requests = [
        records(marks, 1)[0],
        JobRequest("test.always_fails", {"account": "NL**"}, max_retries=0),
        JobRequest("test.record", {"marks": marks, "key": "last"}),
    ]
    group_id, (first, failing, last) = enqueue_group(runtime, owner_id, requests)
    assert [run_job(runtime, job_id) for job_id in (first, failing)] == [
        RunOutcome.COMPLETED,
        RunOutcome.FAILED,
    ]
    assert notes_of(runtime, owner_id) == []  # the group is still open
    # The administrators hear of the failure at once, as of any job's.
    [to_admin] = notes_of(runtime, admin_id(runtime))
    assert (to_admin.subject, to_admin.job_id) == ("Job failed: test.always_fails", failing)
    assert run_job(runtime, last) is RunOutcome.COMPLETED
    [note] = notes_of(runtime, owner_id)
    assert (note.subject, note.indicator, note.job_id) == (
        "Payment PAY-1: follow-up work failed",
        "red",
        failing,
    )
    assert note.message == (
        f"Payment PAY-1: 1 of 3 follow-up jobs did not complete: job {failing} "
        "'test.always_fails' Failed. Administrator has been notified."
    )
    group = group_row(runtime, group_id)
    assert (group.jobs_open, group.jobs_failed) == (0, 1)


def test_a_cancelled_job_ends_its_part_of_the_group(runtime: Runtime, owner_id: int, marks: str):
    _group_id, (cancelled, done) = enqueue_group(runtime, owner_id, records(marks, 2))
    with runtime.session_factory() as session, session.begin():
        cancel_job(session, session.get_one(User, owner_id), cancelled)
    assert notes_of(runtime, owner_id) == []
    assert run_job(runtime, done) is RunOutcome.COMPLETED
    [note] = notes_of(runtime, owner_id)
    assert note.message == (
        f"Payment PAY-1: 1 of 2 follow-up jobs did not complete: job {cancelled} "
        "'test.record' Cancelled."
    )


def test_a_retried_job_opens_its_group_again_and_its_end_is_notified_again(
    runtime: Runtime, owner_id: int, marks: str
) -> None:
    key = uuid.uuid4().hex
    requests = [records(marks, 1)[0], JobRequest("test.group_refuse_once", {"key": key})]
    group_id, (done, refused) = enqueue_group(runtime, owner_id, requests)
    assert [run_job(runtime, job_id) for job_id in (done, refused)] == [
        RunOutcome.COMPLETED,
        RunOutcome.FAILED,
    ]
    [failed] = notes_of(runtime, owner_id)
    assert failed.indicator == "red"
    with runtime.session_factory() as session, session.begin():
        retry_job(session, session.get_one(User, owner_id), refused)
    group = group_row(runtime, group_id)
    assert (group.jobs_open, group.jobs_failed, group.notified_at) == (1, 0, None)
    assert run_job(runtime, refused) is RunOutcome.COMPLETED
    notes = notes_of(runtime, owner_id)
    assert [(note.subject, note.indicator) for note in notes] == [
        ("Payment PAY-1: follow-up work failed", "red"),
        ("Payment PAY-1: done", "green"),
    ]


def test_a_group_needs_a_job(runtime: Runtime, owner_id: int) -> None:
    with runtime.session_factory() as session, pytest.raises(ValueError, match="at least one"):
        open_group(session, user_id=owner_id, subject="Payment PAY-1", jobs=0)
    with runtime.session_factory() as session:
        assert session.scalars(select(JobGroup.id)).all() == []


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def race_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine: Engine = request.getfixturevalue("fresh_sqlite")
        yield engine
        return
    yield from committed_engine_on(SERVERS[request.param])


ROUNDS = 5


def _run(
    runtime: Runtime, job_id: int, outcomes: list[RunOutcome], errors: list[BaseException]
) -> None:
    try:
        outcomes.append(run_job(runtime, job_id))
    except BaseException as error:
        errors.append(error)


def test_two_workers_ending_a_groups_last_two_jobs_at_once_notify_exactly_once(
    race_engine: Engine, engine: JobEngine, tmp_path: Path
) -> None:
    workers = [worker(race_engine, engine, tmp_path, f"race:{n}") for n in (1, 2)]
    with workers[0].session_factory() as session, session.begin():
        owner_id = create_user(session, "owner@example.org", Role.TREASURER).id
    groups = []
    for round_number in range(ROUNDS):
        barrier = f"{uuid.uuid4().hex}-{round_number}"
        # Both tasks finish their work together, then both workers record their ends at once.
        _barriers[barrier] = threading.Barrier(2)
        requests = [JobRequest("test.group_meet", {"barrier": barrier})] * 2
        group_id, job_ids = enqueue_group(workers[0], owner_id, requests)
        groups.append(group_id)
        errors: list[BaseException] = []
        outcomes: list[RunOutcome] = []
        threads = [
            threading.Thread(target=_run, args=(runtime, job_id, outcomes, errors))
            for runtime, job_id in zip(workers, job_ids, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert outcomes == [RunOutcome.COMPLETED] * 2
    notes = notes_of(workers[0], owner_id)
    assert len(notes) == ROUNDS  # one per group, never none and never two
    for group_id in groups:
        group = group_row(workers[0], group_id)
        assert (group.jobs_open, group.jobs_failed) == (0, 0)
        assert group.notified_at is not None


def test_negative_control_a_count_read_before_it_is_written_loses_the_groups_notification(
    engine: JobEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read the open count, then write it back lowered: both workers read 2 and write 1, and
    # nobody notifies. The race above would catch this; the conditional UPDATE does not do it.
    both_read = threading.Barrier(2)
    notified: list[int] = []

    def read_then_write(session: Session, ends: list[groups.GroupedEnd]) -> list[int]:
        for end in ends:
            open_jobs = session.scalar(
                select(JobGroup.jobs_open).where(JobGroup.id == end.group_id)
            )
            assert open_jobs is not None
            both_read.wait(timeout=20)
            session.execute(
                update(JobGroup).where(JobGroup.id == end.group_id).values(jobs_open=open_jobs - 1)
            )
            if open_jobs - 1 == 0:
                notified.append(end.group_id)
        return notified

    monkeypatch.setattr(groups, "count_ends", read_then_write)
    for database in committed_engine_on(SERVERS["postgres"]):
        workers = [worker(database, engine, tmp_path, f"race:{n}") for n in (1, 2)]
        with workers[0].session_factory() as session, session.begin():
            owner_id = create_user(session, "owner@example.org", Role.TREASURER).id
        barrier = uuid.uuid4().hex
        _barriers[barrier] = threading.Barrier(2)
        requests = [JobRequest("test.group_meet", {"barrier": barrier})] * 2
        group_id, job_ids = enqueue_group(workers[0], owner_id, requests)
        errors: list[BaseException] = []
        outcomes: list[RunOutcome] = []
        threads = [
            threading.Thread(target=_run, args=(runtime, job_id, outcomes, errors))
            for runtime, job_id in zip(workers, job_ids, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert (errors, outcomes) == ([], [RunOutcome.COMPLETED] * 2)
        assert notified == []  # neither saw the last end
        assert group_row(workers[0], group_id).jobs_open == 1  # an end lost

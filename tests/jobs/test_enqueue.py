"""enqueue: the row in the caller's transaction, the engine only after commit, and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.errors import ValidationFailed
from verenigingen.jobs import enqueue
from verenigingen.jobs.errors import JobParametersNotJson, SecretInJobParameters, UnknownTask
from verenigingen.jobs.models import Job, Queue


def pending(engine) -> int:
    return sum(engine.pending(q) for q in Queue)


def count_jobs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Job)) or 0


def test_job_reaches_the_engine_only_after_commit(session, treasurer, job_engine, marks):
    job = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    assert (job.status, job.queue, job.attempts, job.timeout) == ("Queued", "short", 0, 300)
    assert pending(job_engine) == 0
    session.commit()
    assert job_engine.pending(Queue.SHORT) == 1
    assert job_engine.take(Queue.SHORT).args == (job.id,)


def test_rolled_back_enqueue_leaves_no_row_and_no_message(session, treasurer, job_engine, marks):
    session.commit()  # the user exists; only the enqueue below is rolled back
    enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    session.rollback()
    assert count_jobs(session) == 0
    session.commit()  # a later commit of the same session must not send the dropped job
    assert pending(job_engine) == 0


def test_default_timeouts_follow_the_queue(session, treasurer, job_engine, marks):
    short = enqueue(session, "test.record", user=treasurer, marks=marks, key="a")
    default = enqueue(session, "test.record", queue="default", user=treasurer, marks=marks, key="b")
    long = enqueue(session, "test.record", queue=Queue.LONG, user=treasurer, marks=marks, key="c")
    custom = enqueue(session, "test.record", user=treasurer, timeout=7, marks=marks, key="d")
    assert [j.timeout for j in (short, default, long, custom)] == [300, 300, 1500, 7]
    assert [j.queue for j in (short, default, long)] == ["short", "default", "long"]


def test_delayed_job_waits_for_the_relay(session, treasurer, job_engine, marks):
    import datetime as dt

    from verenigingen import clock

    job = enqueue(
        session,
        "test.record",
        user=treasurer,
        run_after=clock.now() + dt.timedelta(hours=1),
        marks=marks,
        key="a",
    )
    session.commit()
    assert job.dispatched_at is None
    assert pending(job_engine) == 0


def test_dedup_key_returns_the_active_job(session, treasurer, job_engine, marks):
    first = enqueue(session, "test.record", user=treasurer, dedup_key="k", marks=marks, key="a")
    again = enqueue(session, "test.record", user=treasurer, dedup_key="k", marks=marks, key="b")
    other = enqueue(session, "test.record", user=treasurer, dedup_key="j", marks=marks, key="c")
    assert again.id == first.id
    assert other.id != first.id
    assert count_jobs(session) == 2
    session.commit()
    assert pending(job_engine) == 2


def test_dedup_key_is_free_again_once_the_job_ended(session, treasurer, job_engine, marks, drain):
    first = enqueue(session, "test.record", user=treasurer, dedup_key="k", marks=marks, key="a")
    session.commit()
    assert drain() == ["completed"]
    second = enqueue(session, "test.record", user=treasurer, dedup_key="k", marks=marks, key="b")
    assert second.id != first.id
    session.expire_all()
    assert session.get(Job, first.id).active_dedup_key is None
    assert session.get(Job, second.id).active_dedup_key == "k"


@pytest.mark.parametrize(
    ("name", "options", "error", "fragment"),
    [
        ("test.nope", {}, UnknownTask, "unknown task 'test.nope'"),
        ("test.record", {"queue": "urgent"}, ValidationFailed, "unknown queue 'urgent'"),
        ("test.record", {"password": "x"}, SecretInJobParameters, "looks like a secret"),
        ("test.record", {"api_key": "x"}, SecretInJobParameters, "looks like a secret"),
        ("test.record", {"when": object()}, JobParametersNotJson, "JSON values"),
        ("test.record", {"timeout": 0}, ValidationFailed, "timeout"),
        ("test.record", {"max_retries": -1}, ValidationFailed, "max_retries"),
    ],
)
def test_bad_enqueue_is_refused_and_writes_nothing(
    session, treasurer, job_engine, name, options, error, fragment
):
    with pytest.raises(error, match=fragment) as raised:
        enqueue(session, name, user=treasurer, **options)
    assert raised.value.code == error.code
    session.commit()
    assert count_jobs(session) == 0
    assert pending(job_engine) == 0

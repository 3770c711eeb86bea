"""``enqueue``: the job row is written in the caller's transaction; the engine hears of it after.

Nothing reaches the engine before the caller commits (rule 4): the ids of the jobs a session
enqueued wait in ``session.info`` and an ``after_commit`` listener, registered once per session,
hands them over. A rollback drops them with the rows. If the process dies between the commit and
the hand-over, the row is Queued with ``dispatched_at`` set and no message anywhere: the relay
finds it once it is stale and hands it over then.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.errors import ValidationFailed
from verenigingen.jobs import engine as job_engine
from verenigingen.jobs.errors import JobParametersNotJson, SecretInJobParameters
from verenigingen.jobs.models import Job, JobStatus, Queue
from verenigingen.jobs.registry import get_task, parse_queue
from verenigingen.settings import runtime_of
from verenigingen.settings.registry import MAX_JOB_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

_PENDING = "verenigingen.jobs.pending"

# Parameter names that would put a secret in the job table, which operators and users can read.
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|api_?key|credential", re.IGNORECASE)
MAX_TIMEOUT = MAX_JOB_TIMEOUT_SECONDS
MAX_RETRIES = 20


def enqueue(
    session: Session,
    name: str,
    *,
    queue: Queue | str | None = None,
    user: User,
    timeout: int | None = None,
    max_retries: int = 3,
    run_after: dt.datetime | None = None,
    dedup_key: str | None = None,
    **params: Any,
) -> Job:
    """Add the job ``name`` in the caller's transaction; it is dispatched when that commits.

    ``queue`` defaults to the task's own queue and ``timeout`` to the task's (its runtime
    setting, or its own) or else the queue's runtime setting (300 / 300 / 1500 s by default).
    With a ``dedup_key`` that a Queued or Running job already holds, that job is returned and
    nothing is added. ``params`` must be JSON values and must not hold secrets.
    """
    spec = get_task(name)
    resolved_queue = parse_queue(queue) if queue is not None else spec.queue
    if timeout is None:
        timeout = spec.default_timeout(runtime_of(session), resolved_queue)
    _check_limits(timeout, max_retries)
    _check_params(params)
    if dedup_key is not None:
        existing = _active_with_key(session, dedup_key)
        if existing is not None:
            return existing
    now = clock.now()
    due_now = run_after is None or run_after <= now
    values: dict[str, Any] = {
        "name": name,
        "queue": resolved_queue.value,
        "params": params,
        "user_id": user.id,
        "status": JobStatus.QUEUED.value,
        "attempts": 0,
        "max_retries": max_retries,
        "run_after": run_after,
        # Set now for a job the commit hands over; NULL leaves a delayed job to the relay.
        "dispatched_at": now if due_now else None,
        "timeout": timeout,
        "dedup_key": dedup_key,
        "active_dedup_key": dedup_key,
        "created_at": now,
    }
    if dedup_key is None:
        job = _insert_loaded(session, values)
    else:
        job = Job(**values)
        try:
            # A savepoint, so that losing the race to a concurrent enqueue keeps the caller's
            # transaction usable and returns the winner's job.
            with session.begin_nested():
                session.add(job)
            session.flush()
        except IntegrityError:
            existing = _active_with_key(session, dedup_key)
            if existing is None:
                raise
            return existing
    if due_now:
        dispatch_after_commit(session, job)
    return job


@dataclass(frozen=True)
class JobRequest:
    """One job for :func:`enqueue_many`: a task name, its parameters, optionally a queue."""

    name: str
    params: dict[str, Any]
    queue: Queue | str | None = None
    max_retries: int = 3


def enqueue_many(
    session: Session,
    requests: Sequence[JobRequest],
    *,
    user: User,
    group_id: int | None = None,
) -> list[int]:
    """Add several jobs in one INSERT in the caller's transaction; returns their ids.

    For hot paths that enqueue a few jobs per write (the payment pipeline): one statement
    instead of one per job. The same checks as :func:`enqueue`; no dedup keys or delays (use
    :func:`enqueue` for those). Each job is dispatched when the caller commits. With a
    ``group_id`` (jobs.groups.open_group) the jobs are that group's: the user is notified once,
    when the last of them ends.
    """
    if not requests:
        return []
    now = clock.now()
    values = runtime_of(session)
    rows: list[dict[str, Any]] = []
    for request in requests:
        spec = get_task(request.name)
        queue = parse_queue(request.queue) if request.queue is not None else spec.queue
        timeout = spec.default_timeout(values, queue)
        _check_limits(timeout, request.max_retries)
        _check_params(request.params)
        rows.append(
            {
                "name": request.name,
                "queue": queue.value,
                "params": request.params,
                "user_id": user.id,
                "status": JobStatus.QUEUED.value,
                "attempts": 0,
                "max_retries": request.max_retries,
                "dispatched_at": now,
                "timeout": timeout,
                "group_id": group_id,
                "created_at": now,
            }
        )
    # The queue comes back with each id, so RETURNING need not keep the parameter order
    # (which would make SQLite insert row by row).
    inserted = session.execute(insert(Job).returning(Job.id, Job.queue), rows).all()
    _remember(session, [(queue, job_id) for job_id, queue in inserted])
    return sorted(job_id for job_id, _queue in inserted)


_INSERT_JOB = insert(cast(Table, Job.__table__))
# Every column the INSERT does not set, so that the returned Job has all of them loaded.
_UNSET_COLUMNS = ("lease_until", "worker", "result", "error", "started_at", "finished_at")


def _insert_loaded(session: Session, values: dict[str, Any]) -> Job:
    """INSERT the row with a Core statement and return it as a persistent, loaded ``Job``.

    The same row and the same object as ``session.add(job); session.flush()``, for half the
    CPU: the unit of work (and the flush of anything else pending, which the job row does not
    need) was most of enqueue's cost outside the commit (bench/jobs.py).
    """
    result = session.connection().execute(_INSERT_JOB, values)
    job_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # one row, one key
    job = Job(id=job_id, **values, **dict.fromkeys(_UNSET_COLUMNS))
    # As if loaded by a query: in the identity map, every attribute set, nothing to flush.
    make_transient_to_detached(job)
    session.add(job)
    return job


JOB_ENGINE_KEY = "verenigingen.job_engine"
"""Where a session keeps the job engine its committed jobs are handed to."""


def dispatch_after_commit(session: Session, job: Job) -> None:
    """Hand ``job`` to the engine once ``session`` commits (also used by a manual retry)."""
    _remember(session, [(job.queue, job.id)])


def _remember(session: Session, jobs: Sequence[tuple[str, int]]) -> None:
    pending: list[tuple[str, int]] = session.info.setdefault(_PENDING, [])
    pending.extend(jobs)


# Listeners on the Session class, registered once: registering them on each session that
# enqueues cost a quarter of a millisecond per enqueue (most sessions enqueue once and close).
# For a session that enqueued nothing they look up one key and return.
@event.listens_for(Session, "after_commit")
def _dispatch_pending(session: Session) -> None:
    if _PENDING not in session.info:
        return
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released; the jobs wait for the real commit
    pending: list[tuple[str, int]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    # The engine of whoever opened the session: the application context, or a worker's runtime.
    engine: job_engine.JobEngine | None = session.info.get(JOB_ENGINE_KEY)
    if engine is None:
        log.debug("no job engine on this session; the relay hands over %d job(s)", len(pending))
        return
    for queue, job_id in pending:
        try:
            engine.dispatch(queue, job_id)
        except Exception:
            # The commit stands and the row is Queued: the relay hands it over once stale.
            log.warning("could not dispatch job %s; the relay will", job_id, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    if _PENDING not in session.info:
        return
    # A savepoint rollback also fires this; only a rollback of the whole transaction drops jobs.
    # (A job enqueued inside a savepoint that rolls back is still dispatched; the claim finds
    # no row and the message is dropped.)
    if session.get_nested_transaction() is None:
        session.info.pop(_PENDING, None)


def _active_with_key(session: Session, dedup_key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.active_dedup_key == dedup_key))


def _check_limits(timeout: int, max_retries: int) -> None:
    if not 1 <= timeout <= MAX_TIMEOUT:
        raise ValidationFailed(f"timeout must be 1 to {MAX_TIMEOUT} seconds, got {timeout}")
    if not 0 <= max_retries <= MAX_RETRIES:
        raise ValidationFailed(f"max_retries must be 0 to {MAX_RETRIES}, got {max_retries}")


def _check_params(params: dict[str, Any]) -> None:
    for key in params:
        if _SECRET_NAME.search(key):
            raise SecretInJobParameters(
                f"job parameter {key!r} looks like a secret; jobs store their parameters "
                "readably, so pass an id and let the task look the secret up"
            )
    try:
        json.dumps(params)
    except (TypeError, ValueError) as error:
        raise JobParametersNotJson(
            f"job parameters must be JSON values (ids, not objects): {error}"
        ) from None

"""Claim and run one job: the job runner is a transaction boundary, so it commits.

1. Claim: a conditional UPDATE from Queued to Running in its own transaction. Zero rows means
   the job is not ours to run (a duplicate delivery, a cancelled job, one another worker has):
   the message is dropped.
2. Run: the task's work, its result, the status change and the user's notification are written
   in one transaction. The final UPDATE is conditional on the claim (status Running and the
   attempt number): if the sweeper took the job back meanwhile, nothing of this run is kept.
3. A failed attempt is rolled back and recorded in a transaction of its own: back to Queued
   after an exponential backoff with jitter, or Failed (and notified) when out of retries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import random
import signal
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.config import Settings, get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.errors import DomainError
from verenigingen.jobs.masking import mask_ibans, mask_text
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.notifications import notify_job_completed, notify_job_failed
from verenigingen.jobs.registry import get_task

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 4000
MAX_BACKOFF_SECONDS = 3600.0


class JobTimeout(BaseException):
    """Raised in a job past its timeout. A BaseException, so a task's ``except Exception``
    cannot swallow it and run on."""


class _LeaseLost(Exception):
    """The job is no longer this run's (swept back or taken); its work must not be kept."""


@dataclass
class Runtime:
    """What a worker needs: the database, the settings and its own name."""

    session_factory: sessionmaker[Session]
    settings: Settings
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or get_settings()
        return cls(make_session_factory(make_engine(settings=settings)), settings)


@dataclass(frozen=True)
class _Claim:
    id: int
    name: str
    params: dict[str, Any]
    user_id: int
    attempts: int
    max_retries: int
    timeout: int


def run_job(runtime: Runtime, job_id: int) -> str:
    """Run job ``job_id`` if it can be claimed; returns what happened (for logs and tests)."""
    with _job_session(runtime) as session:
        with session.begin():
            claimed = _claim(session, runtime, job_id)
        if claimed is None:
            log.info("job %s not claimable (duplicate delivery, cancelled or not due)", job_id)
            return "skipped"
        claim, user = claimed
        try:
            with session.begin():
                spec = get_task(claim.name)
                with _deadline(claim.timeout):
                    value = spec.run(session, user, dict(claim.params))
                _finish_completed(session, claim, _as_json(value))
            return "completed"
        except _LeaseLost:
            log.warning("job %s attempt %s lost its lease; its work was rolled back", *_ids(claim))
            return "lost"
        except JobTimeout:
            _record_failure(runtime, claim, f"timed out after {claim.timeout} s", permanent=False)
            return "timeout"
        except Exception as error:
            log.info("job %s attempt %s failed", *_ids(claim), exc_info=True)
            # A domain error (bad input, no permission) fails the same way again: no retries.
            permanent = isinstance(error, DomainError)
            _record_failure(runtime, claim, _describe(error), permanent=permanent)
            return "failed"


@contextlib.contextmanager
def _job_session(runtime: Runtime) -> Iterator[Session]:
    """One session on one connection for the claim and the run: two transactions.

    A session bound to an engine hands its connection back to the pool at each commit, so the
    run would check one out again (and pre-ping it: a round trip) after the claim. Bound to a
    connection of its own, the session begins and commits its transactions on that connection.
    A factory already bound to a connection (tests) is used as it is.
    """
    bind = runtime.session_factory.kw.get("bind")
    if not isinstance(bind, Engine):
        with runtime.session_factory() as session:
            yield session
        return
    with bind.connect() as connection, runtime.session_factory(bind=connection) as session:
        yield session


def _ids(claim: _Claim) -> tuple[int, int]:
    return claim.id, claim.attempts


# The hot path's statements are built once. A statement object memoises its cache key, so an
# execution neither rebuilds the expression nor hashes it again, and the two UPDATEs are Core
# statements on the session's connection, without the ORM's bulk-update machinery: together
# most of the CPU a tracked job cost before (bench/jobs.py; docs/benchmarks.md).
_job = cast(Table, Job.__table__)

_CLAIM_READ = (
    select(
        Job.name,
        Job.params,
        Job.user_id,
        Job.attempts,
        Job.max_retries,
        Job.timeout,
        Job.status,
        Job.run_after,
        User,
    )
    .join(User, User.id == Job.user_id)
    .where(Job.id == bindparam("job_id"))
)
# On PostgreSQL the claim need not wait for its WAL flush: WAL is written in order, so the run's
# durable commit makes the claim durable too, and a claim lost in a server crash before that
# leaves the job Queued for the relay, as a lost lease would. Saves one fsync a job; set in the
# claim's read (set_config(..., is_local => true) is SET LOCAL) to save the round trip of a SET.
_CLAIM_READ_ASYNC_COMMIT = _CLAIM_READ.add_columns(
    func.set_config("synchronous_commit", "off", True)
)

# Conditional on what was read: of two workers that read the same Queued row, one wins.
_CLAIM = (
    update(_job)
    .where(
        _job.c.id == bindparam("job_id"),
        _job.c.status == JobStatus.QUEUED.value,
        _job.c.attempts == bindparam("read_attempts"),
        or_(_job.c.run_after.is_(None), _job.c.run_after <= bindparam("now")),
    )
    .values(
        status=JobStatus.RUNNING.value,
        attempts=bindparam("new_attempts"),
        started_at=bindparam("now"),
        lease_until=bindparam("lease"),
        worker=bindparam("worker_id"),
    )
)

# Conditional on the claim: if the sweeper took the job back meanwhile, nothing of this run is kept.
_FINISH_COMPLETED = (
    update(_job)
    .where(
        _job.c.id == bindparam("job_id"),
        _job.c.status == JobStatus.RUNNING.value,
        _job.c.attempts == bindparam("attempt"),
    )
    .values(
        status=JobStatus.COMPLETED.value,
        result=bindparam("job_result", type_=_job.c.result.type),
        error=None,
        finished_at=bindparam("finished"),
        lease_until=None,
        active_dedup_key=None,
    )
)


def _claim(session: Session, runtime: Runtime, job_id: int) -> tuple[_Claim, User] | None:
    """Queued → Running, if the job is Queued and due; the claim and the job's user."""
    now = clock.now()
    async_commit = session.get_bind().dialect.name == "postgresql"
    row = session.execute(
        _CLAIM_READ_ASYNC_COMMIT if async_commit else _CLAIM_READ, {"job_id": job_id}
    ).one_or_none()
    if row is None or row.status != JobStatus.QUEUED or (row.run_after and row.run_after > now):
        return None
    lease = dt.timedelta(seconds=row.timeout + runtime.settings.job_lease_grace_seconds)
    claimed = session.connection().execute(
        _CLAIM,
        {
            "job_id": job_id,
            "read_attempts": row.attempts,
            "now": now,
            "new_attempts": row.attempts + 1,
            "lease": now + lease,
            "worker_id": runtime.worker_id,
        },
    )
    if claimed.rowcount != 1:
        return None
    claim = _Claim(
        job_id,
        row.name,
        row.params or {},
        row.user_id,
        row.attempts + 1,
        row.max_retries,
        row.timeout,
    )
    return claim, row.User


def _finish_completed(session: Session, claim: _Claim, result: Any) -> None:
    finished = session.connection().execute(
        _FINISH_COMPLETED,
        {
            "job_id": claim.id,
            "attempt": claim.attempts,
            "job_result": mask_ibans(result),
            "finished": clock.now(),
        },
    )
    if finished.rowcount != 1:
        raise _LeaseLost
    notify_job_completed(session, job_id=claim.id, job_name=claim.name, user_id=claim.user_id)


def _record_failure(runtime: Runtime, claim: _Claim, error: str, *, permanent: bool) -> None:
    error = mask_text(error)[:MAX_ERROR_LENGTH]
    with unit_of_work(runtime.session_factory) as session:
        record_failed_attempt(
            session,
            runtime.settings,
            claim.id,
            claim.name,
            claim.user_id,
            claim.attempts,
            claim.max_retries,
            error,
            permanent=permanent,
        )


def record_failed_attempt(
    session: Session,
    settings: Settings,
    job_id: int,
    job_name: str,
    user_id: int,
    attempts: int,
    max_retries: int,
    error: str,
    *,
    permanent: bool = False,
) -> str:
    """Queue attempt ``attempts`` of a Running job again after a backoff, or fail it for good.

    Conditional on the job still being Running at that attempt, so the worker and the sweeper
    never both record it. Returns ``"retry"``, ``"failed"`` or ``"gone"``.
    """
    now = clock.now()
    still_running = (
        (Job.id == job_id) & (Job.status == JobStatus.RUNNING.value) & (Job.attempts == attempts)
    )
    if permanent or attempts > max_retries:
        values: dict[str, Any] = {
            "status": JobStatus.FAILED.value,
            "finished_at": now,
            "active_dedup_key": None,
        }
        outcome = "failed"
    else:
        delay = backoff_seconds(settings.job_retry_backoff_seconds, attempts)
        values = {
            "status": JobStatus.QUEUED.value,
            "run_after": now + dt.timedelta(seconds=delay),
            "dispatched_at": None,  # the relay hands it over once run_after has come
        }
        outcome = "retry"
    changed = session.execute(
        update(Job)
        .where(still_running)
        .values(error=error, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return "gone"
    if outcome == "failed":
        notify_job_failed(session, job_id=job_id, job_name=job_name, user_id=user_id, error=error)
    return outcome


def backoff_seconds(base: float, attempts: int) -> float:
    """``base * 2^(attempts-1)``, capped, times a jitter in [0.5, 1.5) so retries spread out."""
    delay: float = min(base * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return delay * (0.5 + random.random())


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Stop the job with :class:`JobTimeout` after ``seconds``, where a signal can do it.

    Signals reach only the main thread: worker processes run jobs there. The in-process
    consumer of ``serve`` runs them in threads, where the lease does the job: past
    timeout + grace the sweeper counts the attempt as failed and the late result is refused.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def _expired(_signum: int, _frame: Any) -> None:
        raise JobTimeout

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _describe(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return error.detail
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


def _as_json(value: Any) -> Any:
    """The task's return value as JSON; dataclasses and decimals become plain values."""
    if value is None:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str))

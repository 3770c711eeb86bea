"""One attempt of a job: its claim, its completion and the record of a failed attempt.

The pieces the worker (jobs.worker) puts together, whether it runs a job alone or in a group:

1. Claim: a conditional UPDATE from Queued to Running, committed before the task runs. Zero rows
   means the job is not ours to run (a duplicate delivery, a cancelled job, one another worker
   has). The claim counts the attempt, so a job that kills its worker every time still runs out
   of retries, and sets the lease the sweeper watches.
2. Completion: the task's work, its result, the status change and the user's notification are
   written in one transaction. The final UPDATE is conditional on the claim (status Running and
   the attempt number): if the sweeper took the job back meanwhile, nothing of this run is kept.
3. A failed attempt is rolled back and recorded: back to Queued after an exponential backoff
   with jitter, or Failed (and notified) when out of retries.
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

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Float,
    Interval,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Update

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.config import Settings, get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.errors import DomainError
from verenigingen.jobs.masking import mask_ibans, mask_text
from verenigingen.jobs.models import Indicator, Job, JobStatus, Notification
from verenigingen.jobs.notifications import (
    completed_notification,
    notify_job_completed,
    notify_job_failed,
)

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 4000
MAX_BACKOFF_SECONDS = 3600.0


class JobTimeout(BaseException):
    """Raised in a job past its timeout. A BaseException, so a task's ``except Exception``
    cannot swallow it and run on."""


class LeaseLost(Exception):
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
class Claim:
    id: int
    name: str
    params: dict[str, Any]
    user_id: int
    attempts: int
    max_retries: int
    timeout: int


def ids(claim: Claim) -> tuple[int, int]:
    return claim.id, claim.attempts


# The hot path's statements are built once. A statement object memoises its cache key, so an
# execution neither rebuilds the expression nor hashes it again, and the UPDATEs and INSERTs are
# Core statements on the session's connection, without the ORM's bulk-update machinery or its
# unit of work: together most of the CPU a tracked job cost (bench/jobs.py, docs/benchmarks.md).
_job = cast(Table, Job.__table__)
_notification = cast(Table, Notification.__table__)
_now = bindparam("now", type_=DateTime())

# --- SQLite and MariaDB: read, then a conditional UPDATE (MariaDB has no UPDATE ... RETURNING).

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

# Conditional on what was read: of two workers that read the same Queued row, one wins.
_CLAIM = (
    update(_job)
    .where(
        _job.c.id == bindparam("job_id"),
        _job.c.status == JobStatus.QUEUED.value,
        _job.c.attempts == bindparam("read_attempts"),
        or_(_job.c.run_after.is_(None), _job.c.run_after <= _now),
    )
    .values(
        status=JobStatus.RUNNING.value,
        attempts=bindparam("new_attempts"),
        started_at=_now,
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
        finished_at=_now,
        lease_until=None,
        active_dedup_key=None,
    )
)

# --- PostgreSQL: each step in one statement (a round trip each, and one SQLAlchemy execution).


# The claim: the conditional UPDATE (one of two racing workers matches the Queued row; the other
# re-reads it Running and matches nothing) returns the job, joined to its user in the same
# statement. Its transaction need not wait for the WAL flush (set_config(..., true) is SET
# LOCAL): WAL is written in order, so the run's durable commit makes the claim durable too, and
# a claim lost in a server crash before that leaves the job Queued for the relay, as a lost
# lease would. Saves one fsync a job.
def claim_update(which: ColumnElement[bool]) -> Update:
    """Queued → Running (attempt counted, lease set) for the due jobs ``which`` names, on
    PostgreSQL; the caller adds what the statement returns. Parameters: now, grace, worker_id."""
    return (
        update(_job)
        .where(
            which,
            _job.c.status == JobStatus.QUEUED.value,
            or_(_job.c.run_after.is_(None), _job.c.run_after <= _now),
        )
        .values(
            status=JobStatus.RUNNING.value,
            attempts=_job.c.attempts + 1,
            started_at=_now,
            lease_until=_now
            + (_job.c.timeout + bindparam("grace", type_=Float()))
            * literal_column("interval '1 second'", Interval()),
            worker=bindparam("worker_id"),
        )
    )


_claim_update = claim_update(_job.c.id == bindparam("job_id")).returning(
    _job.c.name,
    _job.c.params,
    _job.c.user_id,
    _job.c.attempts,
    _job.c.max_retries,
    _job.c.timeout,
)
_claimed = _claim_update.cte("claimed")
_CLAIM_POSTGRESQL = select(
    _claimed.c.name,
    _claimed.c.params,
    _claimed.c.user_id,
    _claimed.c.attempts,
    _claimed.c.max_retries,
    _claimed.c.timeout,
    User,
    func.set_config("synchronous_commit", "off", True),
).join_from(_claimed, User, User.id == _claimed.c.user_id)

# The end: the conditional UPDATE feeds the user's notification, so the INSERT writes a row only
# when the job was still this run's (its rowcount says which).
_finished = _FINISH_COMPLETED.returning(_job.c.id).cte("finished")
_FINISH_COMPLETED_POSTGRESQL = (
    insert(_notification)
    .from_select(
        ["user_id", "subject", "message", "indicator", "job_id", "created_at"],
        select(
            # Not named like a column of job: the UPDATE would take it as a value to SET.
            bindparam("notify_user", type_=_notification.c.user_id.type),
            bindparam("subject", type_=String()),
            bindparam("message", type_=String()),
            literal(Indicator.GREEN.value, String()),
            _finished.c.id,
            _now,
        ),
    )
    # SQLAlchemy keeps the rowcount of an UPDATE or DELETE, of an INSERT only when asked.
    .execution_options(preserve_rowcount=True)
)


def on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def claim_job(session: Session, runtime: Runtime, job_id: int) -> tuple[Claim, User] | None:
    """Queued → Running, if the job is Queued and due; the claim and the job's user."""
    now = clock.now()
    if on_postgresql(session):
        claimed = session.execute(
            _CLAIM_POSTGRESQL,
            {
                "job_id": job_id,
                "now": now,
                "grace": float(runtime.settings.job_lease_grace_seconds),
                "worker_id": runtime.worker_id,
            },
        ).one_or_none()
        if claimed is None:
            return None
        return claim_of(job_id, claimed, claimed.attempts), claimed.User
    row = session.execute(_CLAIM_READ, {"job_id": job_id}).one_or_none()
    if row is None or row.status != JobStatus.QUEUED or (row.run_after and row.run_after > now):
        return None
    lease = dt.timedelta(seconds=row.timeout + runtime.settings.job_lease_grace_seconds)
    updated = session.connection().execute(
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
    if updated.rowcount != 1:
        return None
    return claim_of(job_id, row, row.attempts + 1), row.User


def claims_connection(engine: Engine) -> Connection:
    """A connection for a group's later claims (jobs.batch): autocommit, and on PostgreSQL
    asynchronous commit for its session (see _CLAIM_POSTGRESQL for why a claim need not wait
    for the WAL flush). Give it back with :func:`release_claims_connection`, which resets that
    before the pool has it."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET synchronous_commit = off")
    return connection


def release_claims_connection(connection: Connection) -> None:
    try:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET synchronous_commit = DEFAULT")
    except DBAPIError:
        # Never hand a connection that may still commit asynchronously to the next user.
        connection.invalidate()
    finally:
        connection.close()


def claim_of(job_id: int, row: Any, attempts: int) -> Claim:
    return Claim(
        job_id, row.name, row.params or {}, row.user_id, attempts, row.max_retries, row.timeout
    )


def finish_completed(session: Session, claim: Claim, result: Any) -> None:
    values = {
        "job_id": claim.id,
        "attempt": claim.attempts,
        "job_result": mask_ibans(result),
        "now": clock.now(),
    }
    if on_postgresql(session):
        notified = session.connection().execute(
            _FINISH_COMPLETED_POSTGRESQL,
            {**values, **completed_notification(claim.name), "notify_user": claim.user_id},
        )
        if notified.rowcount != 1:
            raise LeaseLost
        return
    finished = session.connection().execute(_FINISH_COMPLETED, values)
    if finished.rowcount != 1:
        raise LeaseLost
    notify_job_completed(session, job_id=claim.id, job_name=claim.name, user_id=claim.user_id)


def record_failed_claim(
    session: Session, settings: Settings, claim: Claim, error: str, *, permanent: bool
) -> str:
    """Record the failed attempt of ``claim`` (its error masked and cut to length)."""
    return record_failed_attempt(
        session,
        settings,
        claim.id,
        claim.name,
        claim.user_id,
        claim.attempts,
        claim.max_retries,
        mask_text(error)[:MAX_ERROR_LENGTH],
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
def deadline(seconds: int) -> Iterator[None]:
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


def describe(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return error.detail
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


def as_json(value: Any) -> Any:
    """The task's return value as JSON; dataclasses and decimals become plain values."""
    if value is None:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str))

"""The worker: run jobs alone or several in one transaction (group commit). It is a transaction
boundary, so it commits.

Each job is claimed right before it runs (jobs.attempt): the claim is its own committed
statement, so other workers and the sweeper see it at once, the job's lease starts when the job
starts, and the attempt is counted even when the job then kills its worker.

Group commit. A durable commit is a WAL flush (an fsync, milliseconds on a busy disk); paid per
job it was most of what tracking cost on PostgreSQL (docs/benchmarks.md). So while more messages
wait, the worker runs their jobs in one transaction and commits once for the group:

- the first job of a transaction runs in the transaction itself, each later one in a SAVEPOINT:
  a job that fails or times out is rolled back to its savepoint (its own work gone, its
  neighbours' kept) and its failed attempt (a retry, or Failed and its notification) is recorded
  in the same transaction; a job whose completion finds it no longer Running at its attempt
  (swept back) is rolled back to its savepoint and nothing of it is kept;
- the first job is claimed on the group's own connection before the transaction begins, each
  later one on a second connection in autocommit: one statement that is its own transaction,
  visible before the job runs. On PostgreSQL that commit is asynchronous, as a job alone has it:
  WAL is flushed in order, so the group's durable commit makes the claims before it durable too;
- the group commits when it holds ``job_group_max_jobs`` jobs, when ``job_group_max_seconds``
  have passed since it began, or when no further message waits. Messages are taken one at a time
  as the previous job ends, never ahead, so a worker does not hold back jobs another worker could
  start, and each claim (and lease) still starts when its job starts: no lease needs renewing.

Nothing of a job is visible before its group commits. A worker that dies mid-group (SIGKILL, its
machine gone, its database connection lost) loses the whole group: those jobs stay Running with
their leases, the sweeper takes them back and they run again, as a job alone whose worker died.

Groups run on PostgreSQL only; SQLite and MariaDB run groups of one (a job alone, as before):

- SQLite has one writer: the next job's claim could not commit on another connection while the
  group's transaction holds the write lock, and in the embedded shape the API's requests need
  that lock between jobs (jobs.consumer pauses for them);
- on MariaDB the next job's claim waited on the group itself: InnoDB locks the entry of the
  previous job's status change in ``ix_job_status_run_after`` until the group commits, and the
  claim's own change of that index queued behind it (until innodb_lock_wait_timeout).

A session factory bound to one connection (the tests' rolled-back connection) runs groups of one
too: there is no second connection to claim on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, SessionTransaction

from verenigingen.auth.models import User
from verenigingen.errors import DomainError
from verenigingen.jobs.attempt import (
    Claim,
    JobTimeout,
    LeaseLost,
    Runtime,
    as_json,
    backoff_seconds,
    claim_alone,
    claim_job,
    claims_connection,
    deadline,
    describe,
    finish_completed,
    ids,
    record_failed_attempt,
    record_failed_claim,
    release_claims_connection,
)
from verenigingen.jobs.registry import get_task

NextJob = Callable[[], int | None]
"""The next job id of a message waiting now, or None: the group then commits."""

__all__ = [
    "JobTimeout",
    "Runtime",
    "backoff_seconds",
    "record_failed_attempt",
    "run_group",
    "run_job",
]

log = logging.getLogger(__name__)

MAX_GROUP_SAVEPOINTS = 60
"""PostgreSQL caches 64 subtransaction ids per session (PGPROC_MAX_CACHED_SUBXIDS); past that
every other session's snapshot has to look them up on disk. Each savepoint that writes takes one,
so a group stays below, whatever ``job_group_max_jobs`` says."""


def run_job(runtime: Runtime, job_id: int) -> str:
    """Run job ``job_id`` alone if it can be claimed; returns what happened (for logs and tests)."""
    return run_group(runtime, job_id)[0]


def run_group(runtime: Runtime, first: int, next_job: NextJob | None = None) -> list[str]:
    """Run job ``first`` and, while the group has room and time, each job ``next_job`` hands over
    (it returns None when no message waits), in one transaction; returns one outcome per job.

    Outcomes: ``completed``, ``failed``, ``timeout``, ``lost`` or ``skipped`` (not claimable: a
    duplicate delivery, a cancelled job, one not due or another worker's).
    """
    with _job_session(runtime) as (session, engine):
        group = _Group(runtime, session, engine)
        try:
            outcomes = [group.run(first)]
            while next_job is not None and group.has_room():
                job_id = next_job()
                if job_id is None:
                    break
                outcomes.append(group.run(job_id))
            group.commit()
        finally:
            group.close()
    return outcomes


@contextlib.contextmanager
def _job_session(runtime: Runtime) -> Iterator[tuple[Session, Engine | None]]:
    """The group's session on one connection, and the engine to claim on (None: groups of one).

    A session bound to an engine hands its connection back to the pool at each commit, so the
    run would check one out again (and pre-ping it: a round trip) after the first claim. Bound to
    a connection of its own, the session begins and commits its transactions on that connection.
    A factory already bound to a connection (tests) is used as it is.
    """
    bind = runtime.session_factory.kw.get("bind")
    if not isinstance(bind, Engine):
        with runtime.session_factory() as session:
            yield session, None
        return
    groups = bind.dialect.name == "postgresql" and runtime.settings.job_group_max_jobs > 1
    with bind.connect() as connection, runtime.session_factory(bind=connection) as session:
        yield session, bind if groups else None


class _Group:
    """The jobs of one transaction."""

    def __init__(self, runtime: Runtime, session: Session, engine: Engine | None) -> None:
        self.runtime = runtime
        self.session = session
        self.engine = engine
        settings = runtime.settings
        self.max_jobs = min(settings.job_group_max_jobs, MAX_GROUP_SAVEPOINTS) if engine else 1
        self.ends_at = time.monotonic() + settings.job_group_max_seconds
        self.jobs = 0
        self._claims: Connection | None = None
        # The session's identity map holds objects weakly: once a job ends nothing refers to its
        # user, so each later job would load the user again (a round trip per job).
        self._users: dict[int, User] = {}

    def has_room(self) -> bool:
        return self.jobs < self.max_jobs and time.monotonic() < self.ends_at

    def run(self, job_id: int) -> str:
        self.jobs += 1
        claimed = self._claim(job_id)
        if claimed is None:
            log.info("job %s not claimable (duplicate delivery, cancelled or not due)", job_id)
            return "skipped"
        claim, user = claimed
        savepoint = self.session.begin_nested() if self.session.in_transaction() else None
        if savepoint is None:
            self.session.begin()
        try:
            spec = get_task(claim.name)
            with deadline(claim.timeout):
                value = spec.run(self.session, user, dict(claim.params))
            finish_completed(self.session, claim, as_json(value))
        except LeaseLost:
            self._undo(savepoint)
            log.warning("job %s attempt %s lost its lease; its work was rolled back", *ids(claim))
            return "lost"
        except JobTimeout:
            self._undo(savepoint)
            self._record_failure(claim, f"timed out after {claim.timeout} s", permanent=False)
            return "timeout"
        except Exception as error:
            log.info("job %s attempt %s failed", *ids(claim), exc_info=True)
            self._undo(savepoint)
            # A domain error (bad input, no permission) fails the same way again: no retries.
            self._record_failure(claim, describe(error), permanent=isinstance(error, DomainError))
            return "failed"
        if savepoint is not None:
            savepoint.commit()
        return "completed"

    def commit(self) -> None:
        if self.session.in_transaction():
            self.session.commit()

    def close(self) -> None:
        if self._claims is not None:
            release_claims_connection(self._claims)

    def _claim(self, job_id: int) -> tuple[Claim, User] | None:
        if not self.session.in_transaction():
            # Nothing of the group is open yet: claim on its own connection, committed.
            with self.session.begin():
                claimed = claim_job(self.session, self.runtime, job_id)
            if claimed is not None:
                self._users[claimed[1].id] = claimed[1]
            return claimed
        claim = claim_alone(self._claim_connection(), self.runtime, job_id)
        if claim is None:
            return None
        # The task runs in the group's session: one load of each user per group.
        user = self._users.get(claim.user_id)
        if user is None:
            user = self.session.get(User, claim.user_id)
            assert user is not None  # job.user_id is a foreign key
            self._users[user.id] = user
        return claim, user

    def _claim_connection(self) -> Connection:
        if self._claims is None:
            assert self.engine is not None  # a group of one claims on its own connection
            self._claims = claims_connection(self.engine)
        return self._claims

    def _undo(self, savepoint: SessionTransaction | None) -> None:
        """Roll back the job in hand: to its savepoint, or the transaction it alone holds."""
        if savepoint is not None:
            savepoint.rollback()
        else:
            self.session.rollback()

    def _record_failure(self, claim: Claim, error: str, *, permanent: bool) -> None:
        if not self.session.in_transaction():
            self.session.begin()
        record_failed_claim(self.session, self.runtime.settings, claim, error, permanent=permanent)

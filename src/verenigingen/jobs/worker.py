"""The worker: run jobs alone or several in one transaction (group commit). It is a transaction
boundary, so it commits.

A job is claimed before it runs (jobs.attempt): the claim is a committed statement, so other
workers and the sweeper see it at once, its lease starts, and the attempt is counted even when
the job then kills its worker.

Group commit. A durable commit is a WAL flush (an fsync, milliseconds on a busy disk), and a
statement is a round trip; paid per job, they were most of what tracking cost on PostgreSQL
(docs/benchmarks.md). So while more messages wait, the worker runs their jobs in one
transaction, and what it writes for them it writes a group at a time (jobs.batch):

- the first job is claimed alone on the group's own connection, committed before the group's
  transaction begins; the later ones in batches, one statement per batch, on a second
  connection in autocommit. On PostgreSQL that commit is asynchronous, as a job alone has it:
  WAL is flushed in order, so the group's durable commit makes the claims before it durable too;
- a batch holds the messages waiting now, one at first, twice as many after each batch that
  ran quickly (under a quarter of ``job_group_max_seconds``), one again after a slow one. A
  claimed job waits for those before it in its batch; one that has waited past
  ``MAX_HOLD_SECONDS`` (or half the lease's grace) goes back to the queue unrun, its attempt not
  counted, for whichever worker is free;
- the first job of a transaction runs in the transaction itself, each later one in a SAVEPOINT
  (which SQLAlchemy sends with the first statement run inside it: a job that runs none costs no
  round trip): a job that fails or times out is rolled back to its savepoint (its own work gone,
  its neighbours' kept) and its failed attempt (a retry, or Failed and its notification) is
  recorded in the same transaction;
- the completions (status, result, notification) of all the jobs that ran are one statement
  at the commit, conditional on each claim. If one finds its job no longer Running at its
  attempt (swept back, another worker's), nothing of the group is kept: the transaction rolls
  back, that job is ``lost``, and the group's other claims go back to the queue, their attempts
  not counted, to run again;
- the group commits when it holds ``job_group_max_jobs`` jobs, when ``job_group_max_seconds``
  have passed since it began, or when no further message waits.

Nothing of a job is visible before its group commits. A worker that dies mid-group (SIGKILL, its
machine gone, its database connection lost) loses the whole group: those jobs stay Running with
their leases, the sweeper takes them back and they run again, as a job alone whose worker died.
The jobs it had claimed in a batch but not started go the same way, their attempts counted too:
the sweeper cannot tell them from jobs that ran (so a job that kills its worker costs its batch
neighbours an attempt each; batches grow only while jobs end quickly).

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
from verenigingen.jobs.batch import Completion, claim_many, complete_many, give_back
from verenigingen.jobs.registry import get_task

NextJob = Callable[[], int | None]
"""The next job id of a message waiting now, or None: the group then commits."""
Redeliver = Callable[[str, int], None]
"""Hand a job (queue, id) to the engine again."""

__all__ = [
    "JobTimeout",
    "Runtime",
    "backoff_seconds",
    "record_failed_attempt",
    "run_group",
    "run_job",
]

log = logging.getLogger(__name__)

MAX_HOLD_SECONDS = 1.0
"""A claimed job of a batch that has waited this long behind the jobs before it goes back to the
queue unrun (or sooner: half the lease's grace)."""

MAX_GROUP_SAVEPOINTS = 60
"""PostgreSQL caches 64 subtransaction ids per session (PGPROC_MAX_CACHED_SUBXIDS); past that
every other session's snapshot has to look them up on disk. Each savepoint that writes takes one,
so a group stays below, whatever ``job_group_max_jobs`` says."""


def run_job(runtime: Runtime, job_id: int) -> str:
    """Run job ``job_id`` alone if it can be claimed; returns what happened (for logs and tests)."""
    return run_group(runtime, job_id)[0]


def run_group(
    runtime: Runtime,
    first: int,
    next_job: NextJob | None = None,
    redeliver: Redeliver | None = None,
) -> list[str]:
    """Run job ``first`` and, while the group has room and time, the jobs ``next_job`` hands
    over (it returns None when no message waits), in one transaction; returns one outcome per
    job, in the order they were handed over.

    Outcomes: ``completed``, ``failed``, ``timeout``, ``lost``, ``skipped`` (not claimable: a
    duplicate delivery, a cancelled job, one not due or another worker's) or ``returned`` (its
    claim given back unrun, or its run rolled back with the group: Queued again, the attempt
    not counted, and handed to ``redeliver`` (queue, job id) when given, else to the relay).
    """
    with _job_session(runtime) as (session, engine):
        group = _Group(runtime, session, engine, redeliver)
        try:
            group.run_first(first)
            batch = 1
            while next_job is not None and group.has_room():
                job_ids = _take(next_job, min(batch, group.room()))
                if not job_ids:
                    break
                started = time.monotonic()
                group.run_batch(job_ids)
                # Claim further ahead only while jobs are quick: a claimed job waits for the
                # ones before it in its batch.
                quick = time.monotonic() - started < group.quick_batch_seconds
                batch = batch * 2 if quick else 1
            group.commit()
        finally:
            group.close()
    return group.outcomes


def _take(next_job: NextJob, count: int) -> list[int]:
    job_ids: list[int] = []
    while len(job_ids) < count and (job_id := next_job()) is not None:
        job_ids.append(job_id)
    return job_ids


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

    def __init__(
        self,
        runtime: Runtime,
        session: Session,
        engine: Engine | None,
        redeliver: Redeliver | None,
    ) -> None:
        self.runtime = runtime
        self.session = session
        self.engine = engine
        self.redeliver = redeliver
        settings = runtime.settings
        self.max_jobs = min(settings.job_group_max_jobs, MAX_GROUP_SAVEPOINTS) if engine else 1
        self.ends_at = time.monotonic() + settings.job_group_max_seconds
        self.quick_batch_seconds = settings.job_group_max_seconds / 4
        # A claimed job must start well within its lease's grace (it then ends within its
        # timeout, inside the lease), and should not wait long behind a slow neighbour.
        self.hold_seconds = min(MAX_HOLD_SECONDS, settings.job_lease_grace_seconds / 2)
        self.outcomes: list[str] = []
        self._claimed: dict[int, int] = {}
        """Outcome index of each job this group claimed (to give back if the group rolls back)."""
        self._completions: list[tuple[int, Completion]] = []
        """Jobs that ran to their end, with their outcome index: recorded at the commit
        (groups), where each job's completion is one row of one statement (jobs.batch)."""
        self._claims: Connection | None = None
        # The session's identity map holds objects weakly: once a job ends nothing refers to its
        # user, so each later job would load the user again (a round trip per job).
        self._users: dict[int, User] = {}

    def room(self) -> int:
        return self.max_jobs - len(self.outcomes)

    def has_room(self) -> bool:
        return self.room() > 0 and time.monotonic() < self.ends_at

    def run_first(self, job_id: int) -> None:
        """Claim the group's first job on its own connection, committed, and run it."""
        with self.session.begin():
            claimed = claim_job(self.session, self.runtime, job_id)
        if claimed is None:
            self._skip(job_id)
            return
        claim, user = claimed
        self._users[user.id] = user
        self._run(claim, user)

    def run_batch(self, job_ids: list[int]) -> None:
        """Claim ``job_ids`` in one statement, on the claims connection, and run them in turn."""
        claims = claim_many(
            self._claim_connection(),
            job_ids,
            worker_id=self.runtime.worker_id,
            grace=float(self.runtime.settings.job_lease_grace_seconds),
        )
        claimed_at = time.monotonic()
        for index, job_id in enumerate(job_ids):
            if job_id not in claims:
                self._skip(job_id)
                continue
            if time.monotonic() - claimed_at > self.hold_seconds:
                # A slow job held the rest: back to the queue, for whichever worker is free.
                rest = list(dict.fromkeys(j for j in job_ids[index:] if j in claims))
                self._give_back(rest)
                for j in job_ids[index:]:
                    self.outcomes.append("returned" if claims.pop(j, None) else "skipped")
                return
            claim, _queue = claims.pop(job_id)
            self._run(claim, self._user(claim.user_id))

    def commit(self) -> None:
        if not self.session.in_transaction():
            return
        if self._completions:
            kept = complete_many(self.session.connection(), [c for _, c in self._completions])
            lost = [(i, c) for i, c in self._completions if c.job_id not in kept]
            if lost:
                self._roll_back_group(lost)
                return
        self.session.commit()

    def close(self) -> None:
        if self._claims is not None:
            release_claims_connection(self._claims)

    def _run(self, claim: Claim, user: User) -> None:
        index = len(self.outcomes)
        self._claimed[claim.id] = index
        self.outcomes.append(self._execute(claim, user, index))

    def _execute(self, claim: Claim, user: User, index: int) -> str:
        savepoint = self.session.begin_nested() if self.session.in_transaction() else None
        if savepoint is None:
            self.session.begin()
        try:
            spec = get_task(claim.name)
            with deadline(claim.timeout):
                value = spec.run(self.session, user, dict(claim.params))
            result = as_json(value)
            if self.engine is None:
                finish_completed(self.session, claim, result)
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
        if self.engine is not None:
            completion = Completion(claim.id, claim.attempts, claim.name, result)
            self._completions.append((index, completion))
        return "completed"

    def _roll_back_group(self, lost: list[tuple[int, Completion]]) -> None:
        """Some completions found their job no longer this run's (swept back, or another
        worker's): nothing of the group is kept. Its other claims go back to Queued, their
        attempts uncounted, to run again."""
        self.session.rollback()
        lost_ids = {c.job_id for _, c in lost}
        for index, completion in lost:
            self.outcomes[index] = "lost"
            log.warning(
                "job %s attempt %s lost its lease; its group was rolled back",
                completion.job_id,
                completion.attempt,
            )
        others = [job_id for job_id in self._claimed if job_id not in lost_ids]
        for job_id in self._give_back(others):
            self.outcomes[self._claimed[job_id]] = "returned"

    def _give_back(self, job_ids: list[int]) -> list[int]:
        returned = give_back(
            self._claim_connection(),
            job_ids,
            worker_id=self.runtime.worker_id,
            redeliver=self.redeliver is not None,
        )
        for job_id, queue in returned:
            if self.redeliver is not None:
                self.redeliver(queue, job_id)
        return [job_id for job_id, _ in returned]

    def _skip(self, job_id: int) -> None:
        log.info("job %s not claimable (duplicate delivery, cancelled or not due)", job_id)
        self.outcomes.append("skipped")

    def _user(self, user_id: int) -> User:
        # The task runs in the group's session: one load of each user per group.
        user = self._users.get(user_id)
        if user is None:
            user = self.session.get(User, user_id)
            assert user is not None  # job.user_id is a foreign key
            self._users[user.id] = user
        return user

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

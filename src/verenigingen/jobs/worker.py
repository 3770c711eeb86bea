"""The worker: runs the jobs it is handed, alone or several in one transaction. It is a
transaction boundary, so it commits.

Each job is claimed, and its claim committed, before its task runs (jobs.claims); its result,
status and notification are written in the transaction of its work. On PostgreSQL, while more
messages wait, the worker runs their jobs in the first one's transaction (group commit): one
durable commit and a few statements for the group, instead of a commit and several statements
per job (docs/benchmarks.md). Later jobs are claimed in batches on a second connection and each
runs in a SAVEPOINT: a job that fails is rolled back alone and its failed attempt recorded in
the group. The completions are one statement at the commit; if a job turns out to have lost its
lease, nothing of the group is kept and its other claims go back to the queue uncounted.

Nothing of a group is visible before it commits. A worker that dies mid-group loses the whole
group: its jobs stay Running until their leases pass, then the sweeper takes them back, as it
does a job alone whose worker died. SQLite and MariaDB run each job alone (jobs.claims_plain
says why), and so does a session factory bound to one connection (tests), which has no second
connection to claim on.

Every claimed job is held in the runtime's :class:`~verenigingen.jobs.heartbeat.Leases` until
its end is committed: the worker's heartbeat renews its lease meanwhile and brings back a cancel
request, which stops the task where it can (jobs.deadline). A job with a cancel request ends
Cancelled, its work rolled back: when the task is stopped or ends, and at its completion, which
refuses a job whose cancel was requested.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from verenigingen.auth.models import User
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.errors import DomainError
from verenigingen.jobs.attempt import record_cancelled_attempt, record_failed_claim
from verenigingen.jobs.chunks import job_transaction
from verenigingen.jobs.claims import BatchClaims, Claim, ClaimStrategy, Completion, LeaseTerms
from verenigingen.jobs.claims_plain import PlainClaims
from verenigingen.jobs.claims_postgresql import PostgresClaims
from verenigingen.jobs.deadline import JobCancelled, JobTimeout, deadline
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.error_text import describe
from verenigingen.jobs.heartbeat import Heartbeat, HeldJob, Leases
from verenigingen.jobs.outbox import JOB_ENGINE_KEY
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.progress import reporting_to, write_progress
from verenigingen.jobs.registry import get_task
from verenigingen.jobs.results import result_to_store
from verenigingen.settings.live import LIVE_SETTINGS_KEY, LiveSettings
from verenigingen.settings.signal import signal_from_settings

__all__ = ["Runtime", "claim_strategy", "run_group", "run_job"]

log = logging.getLogger(__name__)

NextJob = Callable[[], int | None]
"""The next job id of a message waiting now, or None: the group then commits."""
Redeliver = Callable[[str, int], None]
"""Hand a job (queue, id) to the engine again."""

MAX_HOLD_SECONDS = 1.0
"""A claimed job of a batch that has waited this long behind the jobs before it goes back to the
queue unrun (or sooner: half the lease's grace)."""

MAX_GROUP_SAVEPOINTS = 60
"""PostgreSQL caches 64 subtransaction ids per session (PGPROC_MAX_CACHED_SUBXIDS); past that
every other session's snapshot has to look them up on disk. Each savepoint that writes takes one,
so a group stays below, whatever ``job_group_max_jobs`` says."""


def claim_strategy(bind: Engine | Connection, worker_id: str, settings: Settings) -> ClaimStrategy:
    """The claims and completions of the database ``bind`` is on."""
    if bind.dialect.name == "postgresql":
        return PostgresClaims(worker_id, LeaseTerms.of(settings))
    return PlainClaims(worker_id, LeaseTerms.of(settings))


@dataclass
class Runtime:
    """What a worker needs: the database, the settings, its own name, the database's way
    of claiming jobs (chosen once, from its dialect) and the jobs it holds."""

    session_factory: sessionmaker[Session]
    settings: Settings
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    claims: ClaimStrategy = field(init=False)
    leases: Leases = field(init=False, default_factory=Leases)

    def __post_init__(self) -> None:
        bind = self.session_factory.kw.get("bind")
        if not isinstance(bind, Engine | Connection):
            raise TypeError("a worker's session factory must be bound to an engine or connection")
        self.claims = claim_strategy(bind, self.worker_id, self.settings)

    @classmethod
    def from_settings(cls, settings: Settings, jobs: JobEngine) -> Runtime:
        """A worker's runtime on the database of ``settings``; what its jobs enqueue is handed
        to ``jobs`` at commit, and its jobs see the runtime settings live (read once here)."""
        database = make_engine(settings=settings)
        live = LiveSettings.start(settings, signal_from_settings(settings), database)
        info = {JOB_ENGINE_KEY: jobs, LIVE_SETTINGS_KEY: live}
        return cls(make_session_factory(database, info=info), settings)

    def heartbeat(self) -> Heartbeat:
        """The heartbeat of this worker's leases (start it while the worker runs jobs)."""
        return Heartbeat(self.session_factory, self.settings, self.worker_id, self.leases)


def run_job(runtime: Runtime, job_id: int) -> RunOutcome:
    """Run job ``job_id`` alone if it can be claimed; what became of it (for logs and tests)."""
    return run_group(runtime, job_id)[0]


def run_group(
    runtime: Runtime,
    first: int,
    next_job: NextJob | None = None,
    redeliver: Redeliver | None = None,
) -> list[RunOutcome]:
    """Run job ``first`` and, while the group has room and time, the jobs ``next_job`` hands
    over (it returns None when no message waits), in one transaction; what became of each job,
    in the order they were handed over.

    A job given back (:attr:`RunOutcome.GIVEN_BACK`) is handed to ``redeliver`` (queue, job
    id) when given, else left to the relay.

    The group commits when it holds ``job_group_max_jobs`` jobs, when
    ``job_group_max_seconds`` have passed since it began, or when no further message waits.
    Batches of claims grow while jobs are quick: one message at first, twice as many after
    each batch that ran in under a quarter of ``job_group_max_seconds``, one again after a slow
    one (a claimed job waits for those before it in its batch).
    """
    with _job_session(runtime) as (session, batches):
        group = _Group(runtime, session, batches, redeliver)
        try:
            group.run_first(first)
            batch_size = 1
            while next_job is not None and group.has_room():
                job_ids = _take(next_job, min(batch_size, group.room()))
                if not job_ids:
                    break
                started = time.monotonic()
                group.run_batch(job_ids)
                quick = time.monotonic() - started < group.quick_batch_seconds
                batch_size = batch_size * 2 if quick else 1
            group.commit()
        finally:
            # Ended and committed, or the group failed (its leases then run out as a dead
            # worker's would): the heartbeat renews none of them any more.
            runtime.leases.release(group.held)
    return group.outcomes


def _take(next_job: NextJob, count: int) -> list[int]:
    job_ids: list[int] = []
    while len(job_ids) < count and (job_id := next_job()) is not None:
        job_ids.append(job_id)
    return job_ids


@contextlib.contextmanager
def _job_session(runtime: Runtime) -> Iterator[tuple[Session, BatchClaims | None]]:
    """The group's session on one connection, and its later jobs' claims (None: one job).

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
    grouped = runtime.settings.job_group_max_jobs > 1
    batches = runtime.claims.batch_claims(bind) if grouped else None
    try:
        with bind.connect() as connection, runtime.session_factory(bind=connection) as session:
            yield session, batches
    finally:
        if batches is not None:
            batches.close()


class _LeaseLost(Exception):
    """A job alone found itself no longer this run's at its completion."""


class _Group:
    """The jobs of one transaction."""

    def __init__(
        self,
        runtime: Runtime,
        session: Session,
        batches: BatchClaims | None,
        redeliver: Redeliver | None,
    ) -> None:
        self.runtime = runtime
        self.claims = runtime.claims
        self.session = session
        self.batches = batches
        self.redeliver = redeliver
        settings = runtime.settings
        self.max_jobs = min(settings.job_group_max_jobs, MAX_GROUP_SAVEPOINTS) if batches else 1
        self.ends_at = time.monotonic() + settings.job_group_max_seconds
        self.quick_batch_seconds = settings.job_group_max_seconds / 4
        # A claimed job should start soon (the heartbeat renews its lease meanwhile, but its
        # timeout's grace is counted from its claim), and not wait long behind a slow neighbour.
        self.hold_seconds = min(MAX_HOLD_SECONDS, settings.job_lease_grace_seconds / 2)
        self.outcomes: list[RunOutcome] = []
        self._claimed: dict[int, int] = {}
        """Outcome index of each job this group claimed (to give back if the group rolls back)."""
        self.held: dict[int, HeldJob] = {}
        """The jobs this group claimed, held in the runtime's leases until the group ends."""
        self._completions: list[tuple[int, Completion]] = []
        """Jobs of a group that ran to their end, with their outcome index: completed together
        at the commit."""
        # The session's identity map holds objects weakly: once a job ends nothing refers to its
        # user, so each later job would load the user again (a round trip per job).
        self._users: dict[int, User] = {}

    def room(self) -> int:
        return self.max_jobs - len(self.outcomes)

    def has_room(self) -> bool:
        return self.room() > 0 and time.monotonic() < self.ends_at

    def run_first(self, job_id: int) -> None:
        """Claim the group's first job on the group's connection, committed, and run it."""
        with self.session.begin():
            claimed = self.claims.claim(self.session, job_id)
        if claimed is None:
            self._not_claimed(job_id)
            return
        claim, user = claimed
        self._hold(claim)
        self._users[user.id] = user
        self._run(claim, user)

    def run_batch(self, job_ids: list[int]) -> None:
        """Claim ``job_ids`` in one statement, on the claims connection, and run them in turn."""
        assert self.batches is not None  # a group of one takes no batches (room() is 0)
        claims = self.batches.claim(job_ids)
        for claim in claims.values():
            self._hold(claim)
        claimed_at = time.monotonic()
        for index, job_id in enumerate(job_ids):
            if job_id not in claims:  # not claimable, or a second delivery in the same batch
                self._not_claimed(job_id)
                continue
            if time.monotonic() - claimed_at > self.hold_seconds:
                # A slow job held the rest: back to the queue, for whichever worker is free.
                self._hand_back_unrun(job_ids[index:], claims)
                return
            claim = claims.pop(job_id)
            self._run(claim, self._user(claim.user_id))

    def commit(self) -> None:
        if not self.session.in_transaction():
            return
        if self._completions:
            completed = [completion for _, completion in self._completions]
            kept = self.claims.complete(self.session, completed)
            lost = [(i, c) for i, c in self._completions if c.claim.id not in kept]
            if lost:
                self._roll_back_group(lost)
                return
        self.session.commit()

    def _hold(self, claim: Claim) -> None:
        self.held[claim.id] = self.runtime.leases.hold(claim)

    def _run(self, claim: Claim, user: User) -> None:
        index = len(self.outcomes)
        self._claimed[claim.id] = index
        self.outcomes.append(self._attempt(claim, user, index))

    def _attempt(self, claim: Claim, user: User, index: int) -> RunOutcome:
        """Run the claimed job's task in the group's transaction (in a savepoint after the
        first job) and record how it ended."""
        savepoint = self.session.begin_nested() if self.session.in_transaction() else None
        if savepoint is None:
            self.session.begin()
        stop = self.held[claim.id].stop
        progress = self.held[claim.id].progress
        try:
            task = get_task(claim.name)
            # A job in its own transaction may commit its work in chunks (jobs.chunks); one in
            # a savepoint of the group's transaction may not.
            owned = job_transaction(self.session) if savepoint is None else contextlib.nullcontext()
            with deadline(claim.timeout, stop), reporting_to(progress), owned:
                value = task.run(self.session, user, dict(claim.params))
            stop.raise_if_cancel_requested()  # seen by a heartbeat after the task last asked
            if (figures := progress.figures) is not None:
                write_progress(self.session, claim.id, figures)  # the last figures, with its end
            completion = Completion(claim, result_to_store(value))
            if self.batches is None:
                self._complete_alone(completion)
        except JobCancelled:
            self._undo(savepoint)
            return self._end_cancelled(claim)
        except _LeaseLost:
            self._undo(savepoint)
            # Refused: either the job is no longer this run's, or its cancel was requested.
            return self._end_cancelled(claim)
        except JobTimeout:
            self._undo(savepoint)
            self._record_failure(claim, f"timed out after {claim.timeout} s", permanent=False)
            return RunOutcome.TIMED_OUT
        except Exception as error:
            log.info("job %s attempt %s failed", *_ids(claim), exc_info=True)
            self._undo(savepoint)
            # A domain error (bad input, no permission) fails the same way again: no retries.
            self._record_failure(claim, describe(error), permanent=isinstance(error, DomainError))
            return RunOutcome.FAILED
        if savepoint is not None:
            savepoint.commit()
        if self.batches is not None:
            self._completions.append((index, completion))
        return RunOutcome.COMPLETED

    def _complete_alone(self, completion: Completion) -> None:
        """A job alone is completed at once, inside its attempt: a completion that fails is a
        failed attempt, recorded as such."""
        if completion.claim.id not in self.claims.complete(self.session, [completion]):
            raise _LeaseLost

    def _roll_back_group(self, lost: list[tuple[int, Completion]]) -> None:
        """Some completions found their job no longer this run's (swept back, or another
        worker's) or their cancel requested: nothing of the group is kept. Those cancelled end
        Cancelled; the group's other claims go back to Queued, their attempts uncounted, to run
        again."""
        self.session.rollback()
        lost_ids = {completion.claim.id for _, completion in lost}
        with self.session.begin():
            for index, completion in lost:
                self.outcomes[index] = self._end_cancelled(completion.claim, "its group was")
        others = [job_id for job_id in self._claimed if job_id not in lost_ids]
        for job_id in self._give_back(others):
            self.outcomes[self._claimed[job_id]] = RunOutcome.GIVEN_BACK

    def _hand_back_unrun(self, job_ids: list[int], claims: dict[int, Claim]) -> None:
        """The rest of a batch, not run: its claims given back, the others not claimed."""
        self._give_back(list(dict.fromkeys(j for j in job_ids if j in claims)))
        for job_id in job_ids:
            if claims.pop(job_id, None) is None:
                self.outcomes.append(RunOutcome.NOT_CLAIMED)
            else:
                self.outcomes.append(RunOutcome.GIVEN_BACK)

    def _give_back(self, job_ids: list[int]) -> list[int]:
        if not job_ids:
            return []
        assert self.batches is not None  # only a group has claims to give back
        returned = self.batches.give_back(job_ids, redeliver=self.redeliver is not None)
        if self.redeliver is not None:
            for job_id, queue in returned.items():
                self.redeliver(queue, job_id)
        return list(returned)

    def _not_claimed(self, job_id: int) -> None:
        log.info("job %s not claimable (duplicate delivery, cancelled or not due)", job_id)
        self.outcomes.append(RunOutcome.NOT_CLAIMED)

    def _user(self, user_id: int) -> User:
        # The task runs in the group's session: one load of each user per group.
        user = self._users.get(user_id)
        if user is None:
            user = self.session.get(User, user_id)
            assert user is not None  # job.user_id is a foreign key
            self._users[user.id] = user
        return user

    def _undo(self, savepoint: SessionTransaction | None) -> None:
        """Roll back the job in hand: to its savepoint, or the transaction it alone holds."""
        if savepoint is not None:
            savepoint.rollback()
        else:
            self.session.rollback()

    def _end_cancelled(self, claim: Claim, rolled_back: str = "its work was") -> RunOutcome:
        """After the attempt's work was rolled back: Cancelled if its cancel was requested, else
        the job was no longer this run's (its lease lost)."""
        if not self.session.in_transaction():
            self.session.begin()
        if record_cancelled_attempt(self.session, claim.id, claim.attempt):
            log.info("job %s attempt %s cancelled; %s rolled back", *_ids(claim), rolled_back)
            return RunOutcome.CANCELLED
        log.warning("job %s attempt %s lost its lease; %s rolled back", *_ids(claim), rolled_back)
        return RunOutcome.LEASE_LOST

    def _record_failure(self, claim: Claim, error: str, *, permanent: bool) -> None:
        if not self.session.in_transaction():
            self.session.begin()
        record_failed_claim(self.session, self.runtime.settings, claim, error, permanent=permanent)


def _ids(claim: Claim) -> tuple[int, int]:
    return claim.id, claim.attempt

"""Leases renewed by a heartbeat; the sweeper run beside it; cancel requests brought back.

A claim leases its job for ``job_lease_seconds`` (30 s, jobs.claims.LeaseTerms). While a worker
lives, a thread of its process (:class:`Heartbeat`) renews the leases of the jobs it holds every
``job_heartbeat_seconds`` (5 s): a short transaction on a connection of its own, one UPDATE for
all of them, never past ``started_at + timeout + grace`` (a job that overran its timeout where
no signal could stop it still loses its lease). In the same round it reads which of them an
administrator asked to cancel and tells their attempts (jobs.deadline.AttemptStop), and then
runs the sweeper in a transaction of its own. The thread runs while the worker's jobs do, so a
dead worker's jobs are taken back within ``job_lease_seconds + job_heartbeat_seconds`` of its
last beat, whatever their timeouts, as long as any worker lives.

The renewal locks the rows it renews with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL, MariaDB): a row
that a group's completion holds is about to end, and a heartbeat that waited for it could lock
rows in another order than the completion and deadlock with it. The heartbeat never waits.

SQLite has one writer, and a job's transaction holds the write lock from its first statement to
its end, however long (a dues run): a heartbeat cannot write the job table meanwhile. That is
safe, for the same reason: nobody else can write either, so nobody can take the job back while
its transaction is open, and a process that dies loses its locks with it. So on SQLite the
heartbeat's write is short and simply retried: its connection waits at most one beat for the
lock (not ``sqlite_busy_timeout_ms``) and a refused beat tries again at the next. Its leases are
renewed whenever the lock is free: while the job computes before its first statement, or between
jobs. A job whose committed lease ran out while it held the lock completes in that same
transaction (the completion asks for Running at its attempt, not for a lease); if it fails
instead, the worker records that failure in the very next transaction, and should a sweeper
waiting for the lock get there first, it records the same failed attempt (only the error then
says that the lease passed). The in-process consumer of ``serve`` runs the same thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, case, literal, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import clock
from verenigingen.config import Settings
from verenigingen.jobs.claims import Claim, LeaseTerms
from verenigingen.jobs.deadline import AttemptStop
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.progress import Progress, write_progress
from verenigingen.jobs.sweeper import SweepResult, sweep_in

log = logging.getLogger(__name__)


@dataclass
class HeldJob:
    """A job this worker has claimed and not yet ended: its claim, and what stops its attempt."""

    claim: Claim
    stop: AttemptStop = field(default_factory=AttemptStop)
    progress: Progress = field(default_factory=Progress)


class Leases:
    """The jobs one worker holds, from their claim until their end is committed (a group's jobs
    until the group commits): what its heartbeat renews. Shared by the worker's thread and the
    heartbeat's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, HeldJob] = {}

    def hold(self, claim: Claim) -> HeldJob:
        held = HeldJob(claim)
        with self._lock:
            self._held[claim.id] = held
        return held

    def release(self, job_ids: Iterable[int]) -> None:
        with self._lock:
            for job_id in job_ids:
                self._held.pop(job_id, None)

    def held(self) -> list[HeldJob]:
        with self._lock:
            return list(self._held.values())


@dataclass(frozen=True)
class Renewal:
    """What one renewal found: the jobs whose leases it renewed, and who asked to cancel which."""

    renewed: frozenset[int]
    cancel_requests: dict[int, str]


def renew_leases(
    session: Session, worker_id: str, held: Sequence[HeldJob], terms: LeaseTerms
) -> Renewal:
    """Renew the leases of ``held`` that are still this worker's, in the session's transaction,
    and tell the attempts whose cancel was requested."""
    if not held:
        return Renewal(frozenset(), {})
    claims = {job.claim.id: job.claim for job in held}
    rows = session.execute(
        select(Job.id, Job.cancel_requested_at, Job.cancel_requested_by)
        .where(
            Job.id.in_(sorted(claims)),
            Job.status == JobStatus.RUNNING.value,
            Job.worker == worker_id,
        )
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return Renewal(frozenset(), {})
    now = clock.now()
    until = {
        row.id: terms.renewed_until(now, claims[row.id].started_at, claims[row.id].timeout)
        for row in rows
    }
    session.execute(
        update(Job)
        .where(Job.id.in_(sorted(until)))
        .values(lease_until=_lease_values(until))
        .execution_options(synchronize_session=False)
    )
    requests = {
        row.id: row.cancel_requested_by or "an administrator"
        for row in rows
        if row.cancel_requested_at is not None
    }
    for job in held:
        if job.claim.id in requests:
            job.stop.request_cancel(requests[job.claim.id])
        figures = job.progress.unwritten() if job.claim.id in until else None
        if figures is not None:
            # A long task's progress, visible while it runs (one short UPDATE per report seen).
            write_progress(session, job.claim.id, figures)
            job.progress.mark_written(figures)
    return Renewal(frozenset(until), requests)


def _lease_values(until: dict[int, Any]) -> Any:
    """One value for every job when they agree (the usual case), else a CASE on the job id."""
    values = set(until.values())
    if len(values) == 1:
        return values.pop()
    return case(
        {job_id: literal(moment, DateTime()) for job_id, moment in until.items()},
        value=Job.id,
    )


class Heartbeat:
    """The thread that renews a worker's leases and runs the sweeper, every
    ``job_heartbeat_seconds``, on a connection of its own."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        worker_id: str,
        leases: Leases,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.worker_id = worker_id
        self.leases = leases
        self.terms = LeaseTerms.of(settings)
        self.interval = settings.job_heartbeat_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def beat(self) -> tuple[Renewal, SweepResult]:
        """One round: renew this worker's leases, then sweep, each in a short transaction."""
        with self._session() as session:
            with session.begin():
                renewal = renew_leases(session, self.worker_id, self.leases.held(), self.terms)
            with session.begin():
                swept = sweep_in(session, self.settings)
        return renewal, swept

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._beat_once()
                self._stop.wait(self.interval)
        finally:
            self._close()

    def _beat_once(self) -> None:
        try:
            self.beat()
        except OperationalError as error:
            if _is_sqlite_busy(error):
                log.debug("heartbeat: the database is busy; trying again in %s s", self.interval)
                return
            log.warning("heartbeat failed; trying again next beat", exc_info=True)
            self._drop_connection()
        except Exception:
            log.warning("heartbeat failed; trying again next beat", exc_info=True)
            self._drop_connection()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        bind = self.factory.kw.get("bind")
        if not isinstance(bind, Engine):  # bound to a connection (tests): use it as it is
            with self.factory() as session:
                yield session
            return
        if self._connection is None:
            self._connection = bind.connect()
            self._set_busy_timeout(min(self.interval * 1000, self.settings.sqlite_busy_timeout_ms))
        with self.factory(bind=self._connection) as session:
            yield session

    def _set_busy_timeout(self, milliseconds: float) -> None:
        """On SQLite, how long this connection waits for the write lock."""
        if self._connection is None or self._connection.dialect.name != "sqlite":
            return
        raw = self._connection.connection.dbapi_connection
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={int(milliseconds)}")

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                log.debug("heartbeat connection already gone", exc_info=True)
            self._connection = None

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._set_busy_timeout(self.settings.sqlite_busy_timeout_ms)
                self._connection.close()
            except DBAPIError:
                log.debug("heartbeat connection already gone", exc_info=True)
            self._connection = None


def _is_sqlite_busy(error: OperationalError) -> bool:
    return "database is locked" in str(error.orig)

"""The lease sweeper: a Running job past ``lease_until`` lost its worker (killed, machine gone:
its heartbeat stopped renewing the lease) or overran its timeout where no signal could stop it.
Its attempt counts as failed: back to Queued with a backoff, or Failed (and its user notified)
when out of retries; Cancelled when an administrator had asked to cancel it.

Every worker runs it in its heartbeat's thread (jobs.heartbeat), so it runs while the worker's
jobs do, however long they take; ``verenigingen jobs sweep`` runs it once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import clock
from verenigingen.config import Settings
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.attempt import record_failed_attempt
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import FailedAttempt

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    requeued: int = 0
    failed: int = 0
    cancelled: int = 0


def sweep(factory: sessionmaker[Session], settings: Settings) -> SweepResult:
    """Take back every Running job whose lease has passed, in a transaction of its own."""
    with unit_of_work(factory) as session:
        return sweep_in(session, settings)


def sweep_in(session: Session, settings: Settings) -> SweepResult:
    """Take back every Running job whose lease has passed, in the caller's transaction."""
    now = clock.now()
    result = SweepResult()
    rows = session.execute(
        select(
            Job.id,
            Job.name,
            Job.user_id,
            Job.attempts,
            Job.max_retries,
            Job.worker,
            Job.lease_until,
        ).where(Job.status == JobStatus.RUNNING.value, Job.lease_until < now)
    ).all()
    for row in rows:
        error = (
            f"attempt {row.attempts} stopped: still running at the end of its lease "
            f"({row.lease_until:%Y-%m-%d %H:%M:%S} UTC) on {row.worker}; "
            "the worker died or the job overran its timeout"
        )
        outcome = record_failed_attempt(
            session,
            settings,
            row.id,
            row.name,
            row.user_id,
            row.attempts,
            row.max_retries,
            error,
            lease_passed_at=now,
        )
        if outcome == FailedAttempt.RETRY_QUEUED:
            result.requeued += 1
        elif outcome == FailedAttempt.FAILED_FOR_GOOD:
            result.failed += 1
        elif outcome == FailedAttempt.CANCELLED:
            result.cancelled += 1
    if rows:
        log.warning(
            "sweeper took back %d job(s), failed %d, cancelled %d",
            result.requeued,
            result.failed,
            result.cancelled,
        )
    return result

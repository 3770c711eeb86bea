"""The record of an attempt that did not complete: back to Queued after a backoff, or Failed
and notified; or Cancelled, when an administrator asked to cancel the job meanwhile.

The worker records the attempts whose task raised, timed out or was cancelled, the sweeper those
whose worker died or overran its lease. Either way the change is conditional on the job still
being Running at that attempt, so the two never both record one. A failed attempt of a job with
a cancel request is not retried: the job ends Cancelled. The backoff doubles with each attempt,
capped, with a jitter so that the retries of jobs that failed together spread out.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.config import Settings
from verenigingen.jobs.claims import Claim
from verenigingen.jobs.error_text import error_to_store
from verenigingen.jobs.groups import group_of, job_ended
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.notifications import notify_job_failed
from verenigingen.jobs.outcomes import FailedAttempt

MAX_BACKOFF_SECONDS = 3600.0


def record_failed_claim(
    session: Session, settings: Settings, claim: Claim, error: str, *, permanent: bool
) -> FailedAttempt:
    """Record the failed attempt of ``claim``, its error masked and cut to length.

    ``permanent``: fail it for good whatever its retries (a domain error fails the same way
    again).
    """
    return record_failed_attempt(
        session,
        settings,
        claim.id,
        claim.name,
        claim.user_id,
        claim.attempt,
        claim.max_retries,
        error_to_store(error),
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
    lease_passed_at: dt.datetime | None = None,
) -> FailedAttempt:
    """Queue attempt ``attempts`` of a Running job again after a backoff, or fail it for good
    (and notify its user and the administrators) when it is out of retries; end it Cancelled
    instead when its cancel was requested. The user of a job of a job group hears of its
    failure with the group's end (jobs.groups).

    ``lease_passed_at`` (the sweeper): only if the job's lease ended before this moment, as the
    row is when it is changed; a heartbeat that renewed it since the sweeper looked wins.
    """
    if record_cancelled_attempt(session, job_id, attempts, lease_passed_at=lease_passed_at):
        return FailedAttempt.CANCELLED
    now = clock.now()
    still_running = _still_running(job_id, attempts, lease_passed_at)
    if permanent or attempts > max_retries:
        outcome = FailedAttempt.FAILED_FOR_GOOD
        values: dict[str, Any] = {
            "status": JobStatus.FAILED.value,
            "finished_at": now,
            "active_dedup_key": None,
        }
    else:
        outcome = FailedAttempt.RETRY_QUEUED
        delay = backoff_seconds(settings.job_retry_backoff_seconds, attempts)
        values = {
            "status": JobStatus.QUEUED.value,
            "run_after": now + dt.timedelta(seconds=delay),
            "dispatched_at": None,  # the relay hands it over once run_after has come
        }
    changed = session.execute(
        update(Job)
        .where(still_running)
        .values(error=error, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return FailedAttempt.NO_LONGER_RUNNING
    if outcome is FailedAttempt.FAILED_FOR_GOOD:
        # A job of a group: its user hears of it with the group's end; the administrators now.
        group_id = group_of(session, job_id)
        job_ended(session, group_id=group_id, job_id=job_id, failed=True)
        notify_job_failed(
            session,
            job_id=job_id,
            job_name=job_name,
            user_id=user_id,
            error=error,
            notify_user=group_id is None,
        )
    return outcome


def record_cancelled_attempt(
    session: Session, job_id: int, attempts: int, *, lease_passed_at: dt.datetime | None = None
) -> bool:
    """End attempt ``attempts`` of a Running job Cancelled if its cancel was requested, the
    error naming who asked (``cancelled by <email>``); whether it did. The caller has rolled back
    the attempt's work (or its worker is gone: ``lease_passed_at`` as for
    :func:`record_failed_attempt`)."""
    cancelled = session.execute(
        update(Job)
        .where(
            _still_running(job_id, attempts, lease_passed_at),
            Job.cancel_requested_at.is_not(None),
        )
        .values(
            status=JobStatus.CANCELLED.value,
            finished_at=clock.now(),
            lease_until=None,
            active_dedup_key=None,
            error=literal("cancelled by ") + Job.cancel_requested_by,
        )
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        return False
    job_ended(session, group_id=group_of(session, job_id), job_id=job_id, failed=True)
    return True


def _still_running(
    job_id: int, attempts: int, lease_passed_at: dt.datetime | None
) -> ColumnElement[bool]:
    condition = and_(
        Job.id == job_id, Job.status == JobStatus.RUNNING.value, Job.attempts == attempts
    )
    if lease_passed_at is not None:
        condition = and_(condition, Job.lease_until < lease_passed_at)
    return condition


def backoff_seconds(base: float, attempts: int) -> float:
    """``base * 2^(attempts-1)``, capped, times a jitter in [0.5, 1.5) so retries spread out."""
    delay: float = min(base * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return delay * (0.5 + random.random())

"""What the job table says about the work behind the API, read for ``/health`` and ``/metrics``.

Read only, at the moment of asking: workers are other processes (on other machines, in the
distributed shape), so the table is the one place where all of their work shows. Each figure is
one aggregate statement; those about Queued and Running jobs read a range of the index
``ix_job_status_run_after``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from verenigingen.jobs.models import ACTIVE_STATUSES, Job, JobStatus

FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class Backlog:
    queued_due: int
    """Queued jobs whose time has come: no ``run_after``, or one that has passed."""
    oldest_due_since: dt.datetime | None
    """When the longest-waiting of them became due (its ``run_after``, else its creation);
    naive UTC, as stored. None when none is due."""
    running_past_lease: int
    """Running jobs whose lease ran out: their worker stopped renewing it (it died, or lost the
    database) and no lease sweeper has taken them back yet."""

    def oldest_wait_seconds(self, now: dt.datetime) -> float | None:
        """How long the longest-waiting due job has waited at ``now``."""
        if self.oldest_due_since is None:
            return None
        return max((now - self.oldest_due_since).total_seconds(), 0.0)


def backlog(session: Session, now: dt.datetime) -> Backlog:
    """The jobs that wait to be run and the Running jobs that lost their worker, at ``now``
    (naive UTC): two statements."""
    due_since = func.coalesce(Job.run_after, Job.created_at)
    queued_due, oldest_due_since = session.execute(
        select(func.count(), func.min(due_since)).where(
            Job.status == JobStatus.QUEUED,
            or_(Job.run_after.is_(None), Job.run_after <= now),
        )
    ).one()
    running_past_lease = session.scalar(
        select(func.count()).where(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    )
    return Backlog(
        queued_due=queued_due,
        oldest_due_since=oldest_due_since,
        running_past_lease=running_past_lease or 0,
    )


def active_per_queue(session: Session) -> dict[tuple[str, str], int]:
    """Queued and Running jobs per (queue, status); a pair without jobs is absent."""
    rows = session.execute(
        select(Job.queue, Job.status, func.count())
        .where(Job.status.in_(ACTIVE_STATUSES))
        .group_by(Job.queue, Job.status)
    )
    return {(queue, status): count for queue, status, count in rows}


def finished_per_task(session: Session) -> dict[tuple[str, str], int]:
    """Jobs that ended, per (task name, status: Completed, Failed or Cancelled).

    A scan of the finished rows (the index holds the status, but the count needs the name), so
    its cost grows with the table; ``bench/metrics_overhead.py --jobs N`` measures a scrape over
    N finished jobs.
    """
    rows = session.execute(
        select(Job.name, Job.status, func.count())
        .where(Job.status.in_(FINISHED_STATUSES))
        .group_by(Job.name, Job.status)
    )
    return {(name, status): count for name, status, count in rows}

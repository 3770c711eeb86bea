"""Daily jobs: the tasks registered with ``@job(..., daily=True)`` start once a day.

Each worker, and the in-process consumer of ``serve``, calls :meth:`DailyJobs.start` in its
maintenance round (``VERENIGINGEN_DAILY_JOBS``, on by default); ``verenigingen jobs daily``
does the same by hand or from cron. The first process to find that a daily task has no job for
today enqueues it, without parameters, in the name of the first enabled administrator, with the
dedup key ``daily:<task>:<day>``. A job of that key in any state means today's run is done or
under way: one that failed is not started again the same day by the workers (``verenigingen
jobs retry`` retries it while it has attempts left, ``verenigingen jobs daily --again-failed``
starts a new one). Two processes that race for the same key get one job between them (the key
is unique among Queued and Running jobs); daily tasks are idempotent (the dues run never bills
a period twice, the overdue refresh and the end of cancelled memberships change nothing the
second time), so the narrow window where a finished run is not seen yet costs nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.models import Role, User
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outbox import enqueue
from verenigingen.jobs.registry import get_task, task_names

log = logging.getLogger(__name__)


def daily_key(name: str, day: dt.date) -> str:
    return f"daily:{name}:{day.isoformat()}"


def daily_task_names() -> list[str]:
    return [name for name in task_names() if get_task(name).daily]


def start_daily_jobs(session: Session, day: dt.date, *, again_failed: bool = False) -> list[Job]:
    """Enqueue each daily task that has no job for ``day`` yet; the jobs enqueued.

    ``again_failed``: also start again the tasks whose job of the day failed or was cancelled
    (``verenigingen jobs daily --again-failed``: a job out of retries cannot be retried).
    None when no administrator exists to run them (logged). The caller commits.
    """
    keys = {daily_key(name, day): name for name in daily_task_names()}
    if not keys:
        return []
    existing = select(Job.dedup_key).where(Job.dedup_key.in_(sorted(keys)))
    if again_failed:
        existing = existing.where(Job.status.not_in([JobStatus.FAILED, JobStatus.CANCELLED]))
    present = set(session.scalars(existing))
    missing = [(key, name) for key, name in sorted(keys.items()) if key not in present]
    if not missing:
        return []
    administrator = first_enabled_administrator(session)
    if administrator is None:
        log.warning("daily jobs not started: no enabled administrator to run them")
        return []
    return [enqueue(session, name, user=administrator, dedup_key=key) for key, name in missing]


def first_enabled_administrator(session: Session) -> User | None:
    """Who the workers start scheduled jobs in the name of (daily and periodic ones)."""
    return session.scalar(
        select(User)
        .where(User.role == Role.ADMINISTRATOR, User.enabled.is_(True))
        .order_by(User.id)
        .limit(1)
    )


class DailyJobs:
    """A process's daily start: once today's jobs exist it asks the database again only when
    the date changes, so a maintenance round every few seconds costs nothing."""

    def __init__(self) -> None:
        self._done_for: dt.date | None = None
        self._lock = threading.Lock()

    def start(self, session_factory: sessionmaker[Session], day: dt.date) -> list[int]:
        """Today's missing daily jobs, enqueued and committed; their ids."""
        with self._lock:
            if self._done_for == day:
                return []
            with unit_of_work(session_factory) as session:
                ids = [job.id for job in start_daily_jobs(session, day)]
            self._done_for = day
            return ids

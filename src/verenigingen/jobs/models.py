"""What exists: tracked jobs and the notifications their end leaves for users."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen import clock
from verenigingen.db.base import Base, BigIntKey, IdMixin


class JobStatus(enum.StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Queue(enum.StrEnum):
    SHORT = "short"
    DEFAULT = "default"
    LONG = "long"


class Indicator(enum.StrEnum):
    GREEN = "green"
    RED = "red"


class Job(IdMixin, Base):
    """One unit of background work, tracked from enqueue to its end."""

    __tablename__ = "job"
    __table_args__ = (
        # The relay and the sweeper look for Queued and Running rows only.
        Index("ix_job_status_run_after", "status", "run_after"),
        Index("ix_job_user_id_created_at", "user_id", "created_at"),
    )

    name: Mapped[str] = mapped_column(String(140))
    """Dotted task name from the registry, e.g. ``dues.generate``."""
    queue: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Keyword arguments of the task: ids and plain values, never secrets."""
    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    """Who started it: the task runs in this user's name and the notification goes to them."""
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    """Runs started so far (claims); a job may start ``max_retries + 1`` times."""
    max_retries: Mapped[int] = mapped_column(default=3)
    run_after: Mapped[dt.datetime | None]
    """Not to start before this moment (a delayed job, or a retry's backoff)."""
    lease_until: Mapped[dt.datetime | None]
    """A Running job still Running after this moment lost its worker; the sweeper takes it back."""
    dispatched_at: Mapped[dt.datetime | None]
    """When the job was handed to the engine; NULL while the relay still has to hand it over."""
    group_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("job_group.id"), index=True)
    """The group of follow-up jobs this job belongs to (:class:`JobGroup`): its user is notified
    once, when the group's last job ends, not of this job alone. NULL for a job of its own."""
    timeout: Mapped[int]
    """Seconds one attempt may run before it is stopped and counted as failed."""
    dedup_key: Mapped[str | None] = mapped_column(String(140))
    active_dedup_key: Mapped[str | None] = mapped_column(String(140), unique=True)
    """``dedup_key`` while Queued or Running, NULL after: a UNIQUE constraint on every engine
    makes the key unique among active jobs only (no partial indexes needed)."""
    worker: Mapped[str | None] = mapped_column(String(120))
    """``host:pid`` of the process running (or that last ran) the job."""
    cancel_requested_at: Mapped[dt.datetime | None]
    """When an administrator asked to cancel the job while it was Running; its worker then ends
    it Cancelled instead of Completed (jobs.heartbeat)."""
    cancel_requested_by: Mapped[str | None] = mapped_column(String(255))
    """The email of who asked, as the Cancelled job's error names them."""
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int | None]
    progress_total: Mapped[int | None]
    """How far a long task is (``jobs.progress.report_progress``): written by the heartbeat
    while it runs and at its end; NULL for a task that reports none."""
    # Set from the one clock, to the microsecond: "the 10 most recent" needs a strict order.
    created_at: Mapped[dt.datetime] = mapped_column(
        default=clock.now, server_default=func.current_timestamp()
    )
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class JobGroup(IdMixin, Base):
    """The follow-up jobs of one write (a payment submitted or cancelled), followed as one.

    Not the worker's commit group (several jobs run in one transaction, jobs.worker): a job group
    says whom to tell, and when. Its user has one notification, written by the job whose end
    brings ``jobs_open`` to zero (jobs.groups).
    """

    __tablename__ = "job_group"

    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    subject: Mapped[str] = mapped_column(String(200))
    """What the jobs follow, as the notification names it, e.g. ``Payment PAY-2026-00042``."""
    jobs_total: Mapped[int]
    jobs_open: Mapped[int]
    """Jobs of the group that have not ended (Completed, Failed or Cancelled); a retried job is
    open again."""
    jobs_failed: Mapped[int] = mapped_column(default=0)
    """Jobs of the group that ended Failed or Cancelled."""
    notified_at: Mapped[dt.datetime | None]
    """When the group's notification was written; NULL while jobs are open."""
    created_at: Mapped[dt.datetime] = mapped_column(
        default=clock.now, server_default=func.current_timestamp()
    )


class Notification(IdMixin, Base):
    """A message for one user, shown in the portal until read."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    indicator: Mapped[str] = mapped_column(String(10))
    job_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("job.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        default=clock.now, server_default=func.current_timestamp()
    )
    read_at: Mapped[dt.datetime | None]

"""Shapes of jobs and notifications as the API shows them; IBANs masked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from verenigingen.clock import UtcDateTime
from verenigingen.jobs.masking import mask_ibans, mask_text
from verenigingen.jobs.models import Job, Notification
from verenigingen.jobs.queries import JobStatusSummary


class JobProgressOut(BaseModel):
    """How far a long task is, as its last report said."""

    done: int
    total: int
    percent: float | None
    """``done`` of ``total`` in percent, one decimal; None while the total is 0."""

    @classmethod
    def of(cls, job: Job) -> JobProgressOut | None:
        if job.progress_total is None or job.progress_done is None:
            return None
        total, done = job.progress_total, job.progress_done
        percent = round(100 * done / total, 1) if total else None
        return cls(done=done, total=total, percent=percent)


class JobOut(BaseModel):
    id: int
    name: str
    queue: str
    params: dict[str, Any]
    user_id: int
    status: str
    attempts: int
    max_retries: int
    timeout: int
    run_after: UtcDateTime | None
    dedup_key: str | None
    result: Any | None
    error: str | None
    cancel_requested_at: UtcDateTime | None
    """Set when an administrator asked to cancel the job while it ran; a Running job with it is
    being stopped by its worker."""
    cancel_requested_by: str | None
    progress: JobProgressOut | None
    """How far the task is, for a task that reports it (a batch's processing, the dues run)."""
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            name=job.name,
            queue=job.queue,
            params=mask_ibans(job.params or {}),
            user_id=job.user_id,
            status=job.status,
            attempts=job.attempts,
            max_retries=job.max_retries,
            timeout=job.timeout,
            run_after=job.run_after,
            dedup_key=job.dedup_key,
            result=mask_ibans(job.result),
            error=mask_text(job.error) if job.error else None,
            cancel_requested_at=job.cancel_requested_at,
            cancel_requested_by=job.cancel_requested_by,
            progress=JobProgressOut.of(job),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobStatusOut(BaseModel):
    """A user's jobs of the last 7 days: counts per status, success rate, the 10 most recent."""

    user_id: int
    since: UtcDateTime
    counts: dict[str, int]
    total: int
    success_rate: float | None
    recent: list[JobOut]

    @classmethod
    def of(cls, summary: JobStatusSummary) -> JobStatusOut:
        return cls(
            user_id=summary.user_id,
            since=summary.since,
            counts=summary.counts,
            total=summary.total,
            success_rate=summary.success_rate,
            recent=[JobOut.of(job) for job in summary.recent],
        )


class NotificationOut(BaseModel):
    id: int
    subject: str
    message: str
    indicator: str
    job_id: int | None
    created_at: UtcDateTime
    read: bool

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            subject=notification.subject,
            message=mask_text(notification.message),
            indicator=notification.indicator,
            job_id=notification.job_id,
            created_at=notification.created_at,
            read=notification.read_at is not None,
        )


class NotificationsOut(BaseModel):
    items: list[NotificationOut]
    unread: int
    next_cursor: str | None = None
    """Pass as ``after`` for the next (older) page; None on the last page."""


class MarkedRead(BaseModel):
    marked: int

"""What may happen to a job after it was enqueued: a retry of a failed one, a cancel."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.jobs.errors import (
    DuplicateJob,
    JobChangedMeanwhile,
    JobNotFailed,
    JobNotQueued,
    JobOutOfRetries,
    RunningJobCancelForAdministrators,
)
from verenigingen.jobs.groups import job_ended, job_retried
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outbox import dispatch_after_commit
from verenigingen.jobs.queries import get_job


def retry_job(session: Session, user: User, job_id: int) -> Job:
    """Queue a Failed job again, now; owner or administrator.

    A job fails for good after ``max_retries + 1`` attempts, or at once on a domain error (bad
    input, no permission) that a retry with time to spare may get past once the data is fixed.
    So a retry is allowed only while attempts remain: past them, start a new job. A job of a
    job group opens its group again: its user is notified again when it ends.
    """
    job = get_job(session, user, job_id)
    if job.status != JobStatus.FAILED:
        raise JobNotFailed(f"job {job_id} is {job.status}; only a Failed job can be retried")
    if job.attempts > job.max_retries:
        raise JobOutOfRetries(
            f"job {job_id} has used all {job.attempts} attempts (max_retries "
            f"{job.max_retries}); start a new job instead"
        )
    if job.dedup_key is not None and session.scalar(
        select(Job.id).where(Job.active_dedup_key == job.dedup_key)
    ):
        raise DuplicateJob(f"another job with key {job.dedup_key!r} is already queued or running")
    now = clock.now()
    try:
        with session.begin_nested():
            changed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.FAILED.value)
                .values(
                    status=JobStatus.QUEUED.value,
                    run_after=None,
                    dispatched_at=now,
                    finished_at=None,
                    active_dedup_key=job.dedup_key,
                )
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        raise DuplicateJob(
            f"another job with key {job.dedup_key!r} is already queued or running"
        ) from None
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise JobChangedMeanwhile(f"job {job_id} changed meanwhile; look again")
    job_retried(session, job.group_id)
    session.refresh(job)
    dispatch_after_commit(session, job)
    return job


def cancel_job(session: Session, user: User, job_id: int) -> Job:
    """Cancel a job that has not ended; the job as it is after (say which happened by its
    status and ``cancel_requested_at``).

    * Queued (owner or administrator): Cancelled now.
    * Running (administrator only, else 403 ``running_job_cancel_for_administrators``): its
      cancel is requested, and the job stays Running until its worker, told by its heartbeat,
      stops the task, rolls its work back and ends it Cancelled. A job whose lease has passed has
      no worker left to do that: it is Cancelled now (the sweeper would otherwise retry it).
      Asking again while the request waits changes nothing.
    * Ended (Completed, Failed, Cancelled): 409 ``job_not_queued``.
    """
    job = get_job(session, user, job_id)
    if job.status != JobStatus.RUNNING:
        changed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.CANCELLED.value,
                finished_at=clock.now(),
                active_dedup_key=None,
                error=f"cancelled by {user.email}",
            )
            .execution_options(synchronize_session=False)
        )
        session.refresh(job)
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            job_ended(session, group_id=job.group_id, job_id=job.id, failed=True)
            return job
        if job.status != JobStatus.RUNNING:  # else a worker claimed it meanwhile
            raise JobNotQueued(
                f"job {job_id} is {job.status}; only a Queued or Running job can be cancelled"
            )
    return _cancel_running(session, user, job)


def _cancel_running(session: Session, user: User, job: Job) -> Job:
    if not user.is_administrator:
        raise RunningJobCancelForAdministrators(
            f"job {job.id} is Running; only an administrator may cancel a running job"
        )
    now = clock.now()
    running = (Job.id == job.id) & (Job.status == JobStatus.RUNNING.value)
    # Its worker is gone (the heartbeat stopped renewing the lease): nobody else will end it.
    forced = session.execute(
        update(Job)
        .where(running, Job.lease_until < now)
        .values(
            status=JobStatus.CANCELLED.value,
            finished_at=now,
            lease_until=None,
            active_dedup_key=None,
            cancel_requested_at=func.coalesce(Job.cancel_requested_at, now),
            cancel_requested_by=func.coalesce(Job.cancel_requested_by, user.email),
            error=f"cancelled by {user.email} (its worker was gone)",
        )
        .execution_options(synchronize_session=False)
    )
    if forced.rowcount == 1:  # type: ignore[attr-defined]
        job_ended(session, group_id=job.group_id, job_id=job.id, failed=True)
    else:
        session.execute(
            update(Job)
            .where(running, Job.cancel_requested_at.is_(None))
            .values(cancel_requested_at=now, cancel_requested_by=user.email)
            .execution_options(synchronize_session=False)
        )
    session.refresh(job)
    if job.status == JobStatus.RUNNING or job.cancel_requested_at is not None:
        return job
    # It ended meanwhile, on its own.
    raise JobNotQueued(
        f"job {job.id} is {job.status}; only a Queued or Running job can be cancelled"
    )


def supersede_failed(session: Session, job_ids: Collection[int], reason: str) -> int:
    """Mark Failed jobs whose work was done another way as Cancelled, so no retry repeats it;
    the number of jobs changed. A job retried meanwhile (no longer Failed) is left alone: the
    caller compares the count and looks again."""
    if not job_ids:
        return 0
    changed = session.execute(
        update(Job)
        .where(Job.id.in_(sorted(job_ids)), Job.status == JobStatus.FAILED.value)
        .values(
            status=JobStatus.CANCELLED.value,
            active_dedup_key=None,
            error=literal(f"{reason} (failed with: ") + func.coalesce(Job.error, "") + ")",
        )
        .execution_options(synchronize_session=False)
    )
    return int(changed.rowcount)  # type: ignore[attr-defined]

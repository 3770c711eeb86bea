"""Job groups: the follow-up jobs of one write, and the one notification their end leaves.

A payment submitted by direct debit leaves two jobs (the member's summary, the mandate's usage);
its treasurer wants to hear once that the payment's work is done, not once per job. The writer
opens a group (:func:`open_group`) with the number of its jobs, and each job carries the group's
id. A grouped job's end (Completed, Failed or Cancelled, wherever it is recorded: the worker, the
sweeper, a cancel) is noted on the session (:func:`job_ended`) and counted just before that
session commits: ``jobs_open`` goes down by one in a conditional UPDATE of the group's row, and
the transaction that brings it to zero, and only that one, writes the notification.

Why this is safe when two workers end the group's last two jobs at once: the UPDATE of the
group's row takes its row lock, so the second transaction waits for the first to commit and then
counts from what the first wrote (PostgreSQL and MariaDB at READ COMMITTED re-read the row; SQLite
has one writer). Exactly one of them sees zero. Counting at the commit, in the order of the
groups' ids, keeps the lock for the commit only, and two transactions that end jobs of the same
two groups take their locks in the same order (no deadlock). The job rows of the other workers
are never read under a lock.

A Failed job that is retried opens its group again (:func:`job_retried`); its new end notifies
the group's user again, with the new outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.jobs.models import Indicator, Job, JobGroup, JobStatus, Notification

_PENDING_ENDS = "verenigingen.jobs.group_ends"

MAX_FAILURES_NAMED = 5
"""A failed group's notification names at most this many of its failed jobs."""


def open_group(session: Session, *, user_id: int, subject: str, jobs: int) -> int:
    """A new group of ``jobs`` follow-up jobs for ``user_id``, named ``subject`` in its
    notification; its id, to put on each of its jobs (``enqueue_many(..., group_id=...)``)."""
    if jobs < 1:
        raise ValueError(f"a job group has at least one job, not {jobs}")
    result = session.connection().execute(
        insert(cast(Table, JobGroup.__table__)),
        {
            "user_id": user_id,
            "subject": subject[:200],
            "jobs_total": jobs,
            "jobs_open": jobs,
            "jobs_failed": 0,
            "created_at": clock.now(),
        },
    )
    group_id: int = result.inserted_primary_key[0]  # type: ignore[index]  # one row, one key
    return group_id


@dataclass(frozen=True)
class GroupedEnd:
    """One grouped job that ended in the session's transaction."""

    group_id: int
    job_id: int
    failed: bool
    """Failed or Cancelled (a Completed job is not)."""


def job_ended(session: Session, *, group_id: int | None, job_id: int, failed: bool) -> None:
    """Note that job ``job_id`` of ``group_id`` ended in ``session``'s transaction; it is counted
    just before that transaction commits (a rollback forgets it). Nothing for a job of no group.
    """
    if group_id is None:
        return
    pending: list[GroupedEnd] = session.info.setdefault(_PENDING_ENDS, [])
    pending.append(GroupedEnd(group_id, job_id, failed))


def group_of(session: Session, job_id: int) -> int | None:
    """The group of job ``job_id`` (None for a job of its own)."""
    return session.scalar(select(Job.group_id).where(Job.id == job_id))


def job_retried(session: Session, group_id: int | None) -> None:
    """A Failed job of ``group_id`` was queued again: the group is open again, and its end will
    be notified again."""
    if group_id is None:
        return
    session.execute(
        update(JobGroup)
        .where(JobGroup.id == group_id)
        .values(
            jobs_open=JobGroup.jobs_open + 1,
            jobs_failed=JobGroup.jobs_failed - 1,
            notified_at=None,
        )
        .execution_options(synchronize_session=False)
    )


def count_ends(session: Session, ends: Iterable[GroupedEnd]) -> list[int]:
    """Count ``ends`` on their groups, each group's row changed once, in the order of the
    groups' ids; notify the user of each group whose last job this was. The groups notified."""
    by_group: defaultdict[int, list[GroupedEnd]] = defaultdict(list)
    for end in ends:
        by_group[end.group_id].append(end)
    notified = []
    now = clock.now()
    for group_id in sorted(by_group):
        group_ends = by_group[group_id]
        session.execute(
            update(JobGroup)
            .where(JobGroup.id == group_id)
            .values(
                jobs_open=JobGroup.jobs_open - len(group_ends),
                jobs_failed=JobGroup.jobs_failed + sum(end.failed for end in group_ends),
            )
            .execution_options(synchronize_session=False)
        )
        # Of the transactions that counted this group's ends, only the one that saw zero.
        last = session.execute(
            update(JobGroup)
            .where(
                JobGroup.id == group_id,
                JobGroup.jobs_open <= 0,
                JobGroup.notified_at.is_(None),
            )
            .values(notified_at=now)
            .execution_options(synchronize_session=False)
        )
        if last.rowcount == 1:  # type: ignore[attr-defined]
            _notify_group(session, group_id, last_job_id=group_ends[-1].job_id)
            notified.append(group_id)
    return notified


def _notify_group(session: Session, group_id: int, *, last_job_id: int) -> None:
    group = session.execute(
        select(JobGroup.user_id, JobGroup.subject, JobGroup.jobs_total, JobGroup.jobs_failed).where(
            JobGroup.id == group_id
        )
    ).one()
    if group.jobs_failed == 0:
        what = (
            "its follow-up job"
            if group.jobs_total == 1
            else f"its {group.jobs_total} follow-up jobs"
        )
        values = {
            "subject": f"{group.subject}: done",
            "message": f"{group.subject}: {what} completed successfully",
            "indicator": Indicator.GREEN.value,
            "job_id": last_job_id,
        }
    else:
        failed = session.execute(
            select(Job.id, Job.name, Job.status)
            .where(
                Job.group_id == group_id,
                Job.status.in_([JobStatus.FAILED.value, JobStatus.CANCELLED.value]),
            )
            .order_by(Job.id)
        ).all()
        any_failed = any(job.status == JobStatus.FAILED for job in failed)
        named = "; ".join(
            f"job {job.id} '{job.name}' {job.status}" for job in failed[:MAX_FAILURES_NAMED]
        )
        more = (
            f" and {len(failed) - MAX_FAILURES_NAMED} more"
            if len(failed) > MAX_FAILURES_NAMED
            else ""
        )
        values = {
            "subject": f"{group.subject}: follow-up work failed",
            "message": (
                f"{group.subject}: {group.jobs_failed} of {group.jobs_total} follow-up jobs did "
                f"not complete: {named}{more}."
                + (" Administrator has been notified." if any_failed else "")
            ),
            "indicator": Indicator.RED.value,
            "job_id": failed[0].id if failed else last_job_id,
        }
    session.connection().execute(
        insert(cast(Table, Notification.__table__)),
        {"user_id": group.user_id, "created_at": clock.now(), **values},
    )


# A listener on the Session class, registered once (as the outbox's): for a session that ended
# no grouped job it looks up one key and returns.
@event.listens_for(Session, "before_commit")
def _count_pending_ends(session: Session) -> None:
    if _PENDING_ENDS not in session.info:
        return
    if session.get_nested_transaction() is not None:
        return  # a savepoint is released; the ends are counted at the real commit
    pending: list[GroupedEnd] = session.info.pop(_PENDING_ENDS, [])
    if pending:
        count_ends(session, pending)


@event.listens_for(Session, "after_rollback")
def _forget_pending_ends(session: Session) -> None:
    if _PENDING_ENDS in session.info and session.get_nested_transaction() is None:
        session.info.pop(_PENDING_ENDS, None)

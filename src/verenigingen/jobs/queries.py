"""What can be read about jobs: one job, and a user's recent jobs with their counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.db.ids import parse_record_id
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import NotFound
from verenigingen.jobs.models import Job, JobStatus

RECENT_DAYS = 7
RECENT_LIMIT = 10
MAX_LIST = 500


def get_job(session: Session, user: User, job_id: int) -> Job:
    """Job ``job_id``; a user sees its own jobs, an administrator every job."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.user_id != user.id and not user.is_administrator:
        raise NotOwnRecord(f"job {job_id} belongs to another user")
    return job


def _resolve_user(session: Session, user: User, wanted: int | str) -> int:
    text = str(wanted).strip()
    if text.isascii() and text.isdigit():  # an id; other digits (U+0661, U+00B9) are no id
        number = parse_record_id(text)
        if number == user.id:
            return user.id
        # Past the largest id no user exists: asked without binding what the driver cannot.
        condition = User.id == number if number is not None else false()
    else:
        if text.lower() == user.email:
            return user.id
        condition = User.email == text.lower()
    # Asking about anyone else is an administrator's right, whether that user exists or not.
    if not user.is_administrator:
        raise NotOwnRecord("only an administrator may see another user's jobs")
    target = session.scalar(select(User.id).where(condition))
    if target is None:
        raise NotFound(f"no user {text}")
    return target


@dataclass
class JobStatusSummary:
    """The plan's ``get_user_job_status``: a user's jobs of the last seven days."""

    user_id: int
    since: dt.datetime
    counts: dict[str, int]
    total: int
    success_rate: float | None
    """Completed / (Completed + Failed); None while nothing has ended."""
    recent: list[Job] = field(default_factory=list)


def job_status(
    session: Session, user: User, *, for_user: int | str | None = None
) -> JobStatusSummary:
    """Counts per status, success rate and the 10 most recent jobs of the last 7 days.

    ``for_user`` (an id or an email) asks about another user: administrators only.
    """
    target = user.id if for_user is None else _resolve_user(session, user, for_user)
    since = clock.now() - dt.timedelta(days=RECENT_DAYS)
    in_period = (Job.user_id == target) & (Job.created_at >= since)
    counted = dict(
        session.execute(
            select(Job.status, func.count()).where(in_period).group_by(Job.status)
        ).all()
    )
    counts = {status.value: int(counted.get(status.value, 0)) for status in JobStatus}
    ended = counts[JobStatus.COMPLETED] + counts[JobStatus.FAILED]
    recent = session.scalars(
        select(Job)
        .where(in_period)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(RECENT_LIMIT)
    ).all()
    return JobStatusSummary(
        user_id=target,
        since=since,
        counts=counts,
        total=sum(counts.values()),
        success_rate=round(counts[JobStatus.COMPLETED] / ended, 4) if ended else None,
        recent=list(recent),
    )


def list_jobs(
    session: Session,
    *,
    status: JobStatus | None = None,
    user_id: int | None = None,
    name: str | None = None,
    limit: int = 50,
) -> list[Job]:
    """Jobs newest first, for operators (the CLI); no permission narrowing."""
    query = select(Job)
    if status is not None:
        query = query.where(Job.status == status.value)
    if user_id is not None:
        query = query.where(Job.user_id == user_id)
    if name is not None:
        query = query.where(Job.name == name)
    return list(session.scalars(query.order_by(Job.id.desc()).limit(min(limit, MAX_LIST))).all())


JOB_ORDER = Keyset("jobs", (Job.id,), descending=True)
"""Newest first, on the primary key."""


def page_jobs(
    session: Session,
    user: User,
    *,
    status: JobStatus | None = None,
    name: str | None = None,
    page: PageRequest = PageRequest(),
) -> KeysetPage[Job]:
    """A page of jobs, newest first, of ``status`` and task ``name`` when given: every user's
    for an administrator, the user's own for anyone else (as :func:`get_job` decides). One
    statement (two with ``page.count``); 422 for a bad page size or cursor."""
    page.check()
    query = select(Job)
    if not user.is_administrator:
        query = query.where(Job.user_id == user.id)
    if status is not None:
        query = query.where(Job.status == status.value)
    if name is not None:
        query = query.where(Job.name == name)
    return keyset_page(session, query, JOB_ORDER, page)

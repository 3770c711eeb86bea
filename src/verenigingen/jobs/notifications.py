"""Notifications: what a job's end tells its user, and the user's inbox."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import Role, User
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import NotFound
from verenigingen.jobs.models import Indicator, Notification

MAX_LIST = 200


def completed_message(job_name: str) -> str:
    return f"Job '{job_name}' completed successfully"


def failed_message(job_name: str) -> str:
    return f"Job '{job_name}' failed. Administrator has been notified."


# Every completed job writes one: a Core INSERT built once (no RETURNING, no unit of work) is
# a fraction of the CPU of adding an ORM object and flushing it (bench/jobs.py).
_INSERT_COMPLETED = insert(cast(Table, Notification.__table__)).values(
    user_id=bindparam("user_id"),
    subject=bindparam("subject"),
    message=bindparam("message"),
    indicator=Indicator.GREEN.value,
    job_id=bindparam("job_id"),
    created_at=bindparam("created_at"),
)


def completed_notification(job_name: str) -> dict[str, str]:
    """Subject and message of a completed job's notification."""
    return {"subject": f"Job completed: {job_name}", "message": completed_message(job_name)}


def notify_job_completed(session: Session, *, job_id: int, job_name: str, user_id: int) -> None:
    """The user's one notification of a completed job (in the job's final transaction).

    On PostgreSQL the worker writes it in the statement that completes the job instead
    (jobs.claims_postgresql), with :func:`completed_notification`.
    """
    session.connection().execute(
        _INSERT_COMPLETED,
        {
            "user_id": user_id,
            **completed_notification(job_name),
            "job_id": job_id,
            "created_at": clock.now(),
        },
    )


def notify_job_failed(
    session: Session,
    *,
    job_id: int,
    job_name: str,
    user_id: int,
    error: str,
    notify_user: bool = True,
) -> None:
    """The user's one notification of a failed job, and one for each other administrator.

    ``notify_user`` False: the administrators' only (the job's group tells its user,
    jobs.groups)."""
    if notify_user:
        session.add(
            Notification(
                user_id=user_id,
                subject=f"Job failed: {job_name}",
                message=failed_message(job_name),
                indicator=Indicator.RED.value,
                job_id=job_id,
            )
        )
    administrators = session.scalars(
        select(User.id).where(
            User.role == Role.ADMINISTRATOR, User.enabled.is_(True), User.id != user_id
        )
    ).all()
    for administrator_id in administrators:
        session.add(
            Notification(
                user_id=administrator_id,
                subject=f"Job failed: {job_name}",
                message=f"Job {job_id} '{job_name}' of user {user_id} failed: {error}",
                indicator=Indicator.RED.value,
                job_id=job_id,
            )
        )


NOTIFICATION_ORDER = Keyset(
    "notifications", (Notification.created_at, Notification.id), descending=True
)
"""Newest first: ``ix_notification_user_id_created_at`` serves it within a user's."""


def list_notifications(
    session: Session, user: User, *, unread_only: bool = False, limit: int = 50
) -> tuple[list[Notification], int]:
    """The user's notifications, newest first, and how many of them are unread."""
    page, unread = notification_page(
        session, user, unread_only=unread_only, page=PageRequest(limit)
    )
    return page.items, unread


def notification_page(
    session: Session, user: User, *, unread_only: bool = False, page: PageRequest = PageRequest()
) -> tuple[KeysetPage[Notification], int]:
    """A page of the user's notifications, newest first (``page.after`` the previous page's
    cursor), and how many of all of them are unread; a forged cursor is a 422."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    items = keyset_page(session, query, NOTIFICATION_ORDER, page)
    return items, unread_count(session, user)


def unread_count(session: Session, user: User) -> int:
    """How many of the user's notifications are unread: one statement."""
    unread = session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )
    return unread or 0


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of the user's own notifications read (reading it twice changes nothing)."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(f"no notification {notification_id}")
    if notification.user_id != user.id:
        raise NotOwnRecord(f"notification {notification_id} belongs to another user")
    if notification.read_at is None:
        notification.read_at = clock.now()
        session.flush()
    return notification


def mark_all_read(session: Session, user: User) -> int:
    """Mark every unread notification of the user read; returns how many."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

"""/api/v1/notifications: the acting user's inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from verenigingen.db.ids import RecordId
from verenigingen.jobs import notifications
from verenigingen.jobs.schemas import MarkedRead, NotificationOut, NotificationsOut
from verenigingen.web.deps import CurrentUser, SessionDep
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    prefix="/notifications",
    tags=["notifications"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 422)},
)


@router.get("")
def list_notifications(
    session: SessionDep,
    user: CurrentUser,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=notifications.MAX_LIST)] = 50,
) -> NotificationsOut:
    """Newest first; ``?unread=true`` for the unread ones only."""
    items, unread_count = notifications.list_notifications(
        session, user, unread_only=unread, limit=limit
    )
    return NotificationsOut(items=[NotificationOut.of(item) for item in items], unread=unread_count)


@router.post("/read")
def mark_all_read(session: SessionDep, user: CurrentUser) -> MarkedRead:
    return MarkedRead(marked=notifications.mark_all_read(session, user))


@router.post("/{notification_id}/read")
def mark_read(session: SessionDep, user: CurrentUser, notification_id: RecordId) -> NotificationOut:
    return NotificationOut.of(notifications.mark_read(session, user, notification_id))

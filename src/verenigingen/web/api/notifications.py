"""/api/v1/notifications: the acting user's inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from verenigingen.db.ids import RecordId
from verenigingen.db.paging import MAX_CURSOR_LENGTH, PageRequest
from verenigingen.jobs import notifications
from verenigingen.jobs.schemas import MarkedRead, NotificationOut, NotificationsOut
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
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
    after: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page"),
    ] = None,
) -> NotificationsOut:
    """Newest first, a page at a time; ``?unread=true`` for the unread ones only."""
    page, unread_count = notifications.notification_page(
        session, user, unread_only=unread, page=PageRequest(limit, after=after)
    )
    return NotificationsOut(
        items=[NotificationOut.of(item) for item in page.items],
        unread=unread_count,
        next_cursor=page.next_cursor,
    )


@router.post("/read")
def mark_all_read(session: SessionDep, user: CurrentUser) -> MarkedRead:
    return MarkedRead(marked=notifications.mark_all_read(session, user))


@router.post("/{notification_id}/read")
def mark_read(session: SessionDep, user: CurrentUser, notification_id: RecordId) -> NotificationOut:
    return NotificationOut.of(notifications.mark_read(session, user, notification_id))

"""The portal's notifications: the signed-in user's inbox, newest first, with a button to mark
one read and one to mark all read (``jobs.notifications``, as ``/api/v1/notifications``).

Another user's notification is the 403 page, an unknown one the 404 page.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.db.ids import RecordId
from verenigingen.jobs import notifications
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.forms import N_, flash, flash_message
from verenigingen.web.pages.portal import PORTAL_NAV, require_portal_role
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

PAGE_SIZE = 50
ALL_READ = flash_message("notifications_read", "success", N_("All notifications are marked read."))


@router.get("/portal/notifications")
def inbox(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The newest notifications and the unread count: two statements after the sign-in's."""
    require_portal_role(viewer)
    items, unread = notifications.list_notifications(session, viewer, limit=PAGE_SIZE)
    return render(
        request,
        "portal/notifications.html",
        {"items": items, "unread": unread, "nav": PORTAL_NAV},
    )


@router.post("/portal/notifications/{notification_id}/read")
def mark_read(
    request: Request, session: SessionDep, viewer: SignedIn, notification_id: RecordId
) -> Response:
    require_portal_role(viewer)
    notifications.mark_read(session, viewer, notification_id)
    return RedirectResponse("/portal/notifications", status_code=303)


@router.post("/portal/notifications/read")
def mark_all_read(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    require_portal_role(viewer)
    notifications.mark_all_read(session, viewer)
    response = RedirectResponse("/portal/notifications", status_code=303)
    flash(response, request, ALL_READ)
    return response

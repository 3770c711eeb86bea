"""The desk's notifications: the signed-in staff user's inbox, newest first, a page at a time
by cursor (``jobs.notifications.notification_page``, as ``GET /api/v1/notifications``), with a
button to mark one read and one to mark all read; the same service as the portal's inbox.

Long work (a dues run, a SEPA batch's processing, a statement import, a validation run) ends
with a notification to the user who started it, written in the job's final transaction, and a
failed job tells every administrator too: this page is where the desk reads them. The desk's
menu shows how many are unread, fetched apart by htmx (``/desk/notifications/unread``) so that
no other page pays for the count.

Another user's notification is the 403 page, an unknown one the 404 page.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.jobs import notifications
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

ALL_READ = flash_message(
    "desk_notifications_read", "success", N_("All notifications are marked read.")
)


@router.get("/desk/notifications")
def inbox(
    request: Request, session: SessionDep, viewer: SignedIn, after: Cursor = None
) -> Response:
    """A page of the user's notifications and how many are unread: three statements on every
    page (the sign-in, the page, the unread count). A forged cursor is the 422 page."""
    require_desk_role(viewer)
    found, unread = notifications.notification_page(
        session, viewer, page=PageRequest(PAGE_SIZE, after=after)
    )
    return render(
        request,
        "desk/notifications.html",
        {
            "items": found.items,
            "unread": unread,
            "next_cursor": found.next_cursor,
            "after": after,
            "filters": {},
            "nav": desk_nav(viewer),
        },
    )


@router.get("/desk/notifications/unread")
def unread(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The menu's count of unread notifications, as a fragment (htmx): two statements."""
    require_desk_role(viewer)
    count = notifications.unread_count(session, viewer)
    return render(request, "desk/notifications_unread.html", {"unread": count})


@router.post("/desk/notifications/{notification_id}/read")
def mark_read(
    request: Request, session: SessionDep, viewer: SignedIn, notification_id: RecordId
) -> Response:
    require_desk_role(viewer)
    notifications.mark_read(session, viewer, notification_id)
    return RedirectResponse("/desk/notifications", status_code=303)


@router.post("/desk/notifications/read")
def mark_all_read(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    require_desk_role(viewer)
    notifications.mark_all_read(session, viewer)
    response = RedirectResponse("/desk/notifications", status_code=303)
    flash(response, request, ALL_READ)
    return response

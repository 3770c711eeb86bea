"""The way in: ``/`` sends each user to its home, the desk's landing page, the language choice."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.auth.models import Role
from verenigingen.auth.permissions import Permission, has_permission
from verenigingen.web.deps import SessionDep
from verenigingen.web.i18n import supported
from verenigingen.web.pages.desk import desk_nav
from verenigingen.web.pages.forms import LANGUAGE_CHANGED, N_, flash
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import (
    LANGUAGE_COOKIE,
    SignedIn,
    Viewer,
    home_of,
    local_path,
    set_cookie,
)
from verenigingen.web.pages.templating import render

router = page_router()

LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600

ROLE_LABELS = {
    Role.ADMINISTRATOR: N_("Administrator"),
    Role.TREASURER: N_("Treasurer"),
    Role.MEMBERSHIP_SECRETARY: N_("Membership Secretary"),
    Role.MEMBER: N_("Member"),
}

# What each permission lets a role do through the API until the desk has pages for it.
DESK_TASKS: tuple[tuple[Permission, str], ...] = (
    (Permission.MEMBERS_READ, N_("look up members, their memberships and payment history")),
    (Permission.MEMBERS_WRITE, N_("approve or reject applications, renew and end memberships")),
    (Permission.BILLING_READ, N_("read invoices, credit notes and payments")),
    (Permission.BILLING_WRITE, N_("record payments, submit invoices and start the dues run")),
    (Permission.USERS_ADMIN, N_("manage users, tokens, runtime settings and indexes")),
)


@router.get("/")
def start(viewer: Viewer) -> Response:
    """A signed-in user to its home (portal or desk), everyone else to the sign-in page."""
    return RedirectResponse(home_of(viewer) if viewer else "/sign-in", status_code=303)


@router.get("/desk")
def desk(request: Request, viewer: SignedIn) -> Response:
    """The staff roles' landing page: what the role can do, and where (the desk's pages come
    later). A Member goes to the portal."""
    if viewer.role == Role.MEMBER:
        return RedirectResponse("/portal", status_code=303)
    tasks = [text for permission, text in DESK_TASKS if has_permission(viewer, permission)]
    return render(
        request,
        "desk.html",
        {"tasks": tasks, "role_label": ROLE_LABELS[Role(viewer.role)], "nav": desk_nav(viewer)},
    )


@router.post("/language")
def choose_language(
    request: Request,
    session: SessionDep,
    viewer: Viewer,
    language: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Show the pages in ``language`` from now on: the user's setting when signed in, and a
    cookie for this browser either way. An unknown language changes nothing."""
    target = local_path(next) or (home_of(viewer) if viewer else "/sign-in")
    response = RedirectResponse(target, status_code=303)
    chosen = supported(language)
    if chosen is None:
        return response
    if viewer is not None:
        viewer.locale = chosen
        session.flush()
    set_cookie(response, request, LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS)
    flash(response, request, LANGUAGE_CHANGED)
    return response

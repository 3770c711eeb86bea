"""Terminations at the desk: ending a member's membership from its page (a date and a reason,
the fields of the API's terminate body) through ``terminate_member`` (as ``POST
/api/v1/members/{id}/terminate``), and the list of terminated members, the latest termination
date first, with those dated ahead (still to take effect) on top.

Terminating is done in two steps, as a decision on an application: the form, then a page that
says what will happen (the memberships cancelled, the dues schedules stopped, invoices for
periods after the date credited) and asks for a confirmation. A date that cannot be read or a
rule the service refuses (before the member joined: 422; terminated already, or a member that
is not Active, Suspended or Expired: 409) shows the form again with the message; nothing is
written. Membership Secretary and Administrator only (``members.write``); the list is read by
everyone at the desk.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.errors import ValidationFailed
from verenigingen.members import errors as member_errors
from verenigingen.members.lists import list_terminations
from verenigingen.members.models import Member
from verenigingen.members.queries import get_member
from verenigingen.members.service import terminate_member
from verenigingen.members.service.changes import TERMINABLE
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.desk_applications import CONFIRMED, MAX_REASON, TOO_LONG, read_day
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

NOT_TERMINABLE = N_("This member cannot be terminated: %(reason)s")
BEFORE_MEMBER_SINCE = N_("The member joined on %(day)s: the termination date cannot lie before it.")
REFUSED = N_("Refused: %(reason)s")

TERMINATED = flash_message("member_terminated", "success", N_("The member is terminated."))

ConfirmField = Annotated[str, Form(max_length=10)]
DateField = Annotated[str, Form(max_length=40)]
ReasonField = Annotated[str, Form(max_length=1000)]


def _form_page(
    request: Request,
    viewer: User,
    member: Member,
    form: FormState,
    *,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "desk/terminate.html",
        {
            "member": member,
            "form": form,
            "terminable": member.status in TERMINABLE,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/members/{member_id}/terminate")
def termination_form(
    request: Request, session: SessionDep, viewer: SignedIn, member_id: RecordId
) -> Response:
    """The form: the termination date (today unless changed) and the reason. Two statements."""
    require_desk_role(viewer)
    require(viewer, Permission.MEMBERS_WRITE)
    member = get_member(session, viewer, member_id)
    form = FormState(values={"termination_date": clock.today().isoformat(), "reason": ""})
    return _form_page(request, viewer, member, form)


@router.post("/desk/members/{member_id}/terminate")
def terminate(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    member_id: RecordId,
    termination_date: DateField = "",
    reason: ReasonField = "",
    confirmed: ConfirmField = "",
) -> Response:
    """Without ``confirmed``: what the termination will do, to confirm. With it: the
    termination, then the member's page with a message. A bad date or reason, or a refused
    rule: the form again (422, or 409 for the member's status), nothing written."""
    require_desk_role(viewer)
    require(viewer, Permission.MEMBERS_WRITE)
    member = get_member(session, viewer, member_id)
    form = FormState(values={"termination_date": termination_date, "reason": reason})
    day = read_day(form, "termination_date")
    cleaned = reason.strip()
    if len(cleaned) > MAX_REASON:
        form.add_error("reason", TOO_LONG, max=MAX_REASON)
    if not form.valid:
        return _form_page(request, viewer, member, form, status_code=422)
    if confirmed != CONFIRMED:
        return render(
            request,
            "desk/terminate_confirm.html",
            {
                "member": member,
                "form": form,
                "day": day or clock.today(),
                "nav": desk_nav(viewer),
            },
        )
    try:
        with session.begin_nested():
            terminate_member(
                session, viewer, member.id, termination_date=day, reason=cleaned or None
            )
    except (member_errors.MemberAlreadyTerminated, member_errors.MemberNotTerminable) as refusal:
        session.refresh(member)
        form.add_error("", NOT_TERMINABLE, reason=refusal.detail)
        return _form_page(request, viewer, member, form, status_code=409)
    except member_errors.TerminationBeforeMemberSince:
        session.refresh(member)
        form.add_error("termination_date", BEFORE_MEMBER_SINCE, day=member.member_since)
        return _form_page(request, viewer, member, form, status_code=422)
    except ValidationFailed as refusal:
        form.add_error("", REFUSED, reason=refusal.detail)
        return _form_page(request, viewer, member, form, status_code=422)
    response = RedirectResponse(f"/desk/members/{member.id}", status_code=303)
    flash(response, request, TERMINATED)
    return response


@router.get("/desk/terminations")
def terminations(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    after: Cursor = None,
    count: Annotated[bool, Query()] = False,
) -> Response:
    """The terminated members, the latest termination date first, a page at a time: two
    statements (the sign-in and the page), three with ``count``. A forged cursor: the 422
    page."""
    require_desk_role(viewer)
    found = list_terminations(session, viewer, PageRequest(PAGE_SIZE, after=after, count=count))
    return render(
        request,
        "desk/terminations.html",
        {
            "members": found.items,
            "total": found.total,
            "today": clock.today(),
            "next_cursor": found.next_cursor,
            "after": after,
            "filters": {},
            "nav": desk_nav(viewer),
        },
    )

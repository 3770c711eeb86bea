"""The applications at the desk: those waiting for a decision, oldest first, and for each the
choice to approve it (membership type, dues rate, start date: the fields of the API's approve
body) or to reject it with a reason, through the members services (``approve_member``,
``reject_member``, as ``POST /api/v1/members/{id}/approve`` and ``/reject``).

A decision is made in two steps: the form sends it, a page says what will happen and asks for a
confirmation, and only the confirmed form writes. A field that cannot be read re-renders the
application's page (422) with the error under it and what was typed kept; a rule the service
refuses (a rate below the type's minimum, an application decided meanwhile: 409) does the same
with the rule's message, and nothing is written: the decision runs in a savepoint that the
refusal rolls back.

The desk's menu shows how many applications wait, fetched apart by htmx
(``/desk/applications/waiting``: one count on the status index) so that no other page pays for
it. Everyone at the desk reads the list (``members.read``); deciding is the Membership Secretary's
and the Administrator's (``members.write``): a Treasurer sees no forms and gets the 403 page.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, has_permission, require
from verenigingen.clock import EARLIEST_DAY, LATEST_DAY
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.errors import DomainError, ValidationFailed
from verenigingen.members import errors as member_errors
from verenigingen.members.lists import (
    count_applications,
    is_open_application,
    list_applications,
    membership_types,
)
from verenigingen.members.models import Member, MembershipType
from verenigingen.members.queries import get_member
from verenigingen.members.service import approve_member, reject_member
from verenigingen.money import parse_amount
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

CONFIRMED = "yes"
MAX_REASON = 255
"""As the API's ``reason`` and the member's ``rejection_reason`` column."""

BAD_AMOUNT = N_("Enter an amount greater than zero with at most two decimals, like 12.50.")
BAD_DATE = N_("Enter a date between 1900 and 2200, like 2026-03-02.")
BAD_CHOICE = N_("Choose one of the options.")
TOO_LONG = N_("At most %(max)s characters.")
REASON_REQUIRED = N_("Give the reason for the rejection: the applicant reads it.")
ALREADY_DECIDED = N_("This application is decided already: %(reason)s")
REFUSED = N_("Refused: %(reason)s")
RATE_BELOW_MINIMUM = N_("Below the minimum of this membership type: %(reason)s")

PERIOD_LABELS = (
    N_("Monthly"),
    N_("Quarterly"),
    N_("Semi-Annual"),
    N_("Annual"),
    N_("Lifetime"),
    N_("Custom"),
)
"""For the catalog: a membership type's billing period, as the pages show it."""
METHOD_LABELS = (N_("SEPA Direct Debit"), N_("Bank Transfer"), N_("Cash"), N_("Other"))
"""For the catalog: how an applicant chose to pay."""

APPROVED = flash_message("application_approved", "success", N_("The application is approved."))
REJECTED = flash_message("application_rejected", "success", N_("The application is rejected."))

ConfirmField = Annotated[str, Form(max_length=10)]
ShortField = Annotated[str, Form(max_length=40)]
ReasonField = Annotated[str, Form(max_length=1000)]


@router.get("/desk/applications")
def applications(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    after: Cursor = None,
    count: Annotated[bool, Query()] = False,
) -> Response:
    """The applications waiting for a decision, oldest first, a page at a time with their
    requested membership type and its fee: three statements (the sign-in, the page, the types),
    four with ``count``. A forged cursor: the 422 page."""
    require_desk_role(viewer)
    found = list_applications(session, viewer, PageRequest(PAGE_SIZE, after=after, count=count))
    types = membership_types(
        session, [member.requested_membership_type_id for member in found.items]
    )
    return render(
        request,
        "desk/applications.html",
        {
            "applications": found.items,
            "types": {membership_type.id: membership_type for membership_type in types},
            "total": found.total,
            "next_cursor": found.next_cursor,
            "after": after,
            "filters": {},
            "may_decide": has_permission(viewer, Permission.MEMBERS_WRITE),
            "nav": desk_nav(viewer),
        },
    )


@router.get("/desk/applications/count")
def application_count(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """How many applications wait, as a fragment the list loads when asked (htmx): two
    statements, the sign-in and the count."""
    require_desk_role(viewer)
    total = count_applications(session, viewer)
    return render(request, "desk/application_count.html", {"total": total})


@router.get("/desk/applications/waiting")
def applications_waiting(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The menu's badge: how many applications wait, fetched apart by htmx so that no other
    page pays for the count. Two statements, the sign-in and the count on the status index."""
    require_desk_role(viewer)
    waiting = count_applications(session, viewer)
    return render(request, "desk/applications_waiting.html", {"waiting": waiting})


def _application_page(
    request: Request,
    session: Session,
    viewer: User,
    member: Member,
    *,
    approve_form: FormState | None = None,
    reject_form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    types = membership_types(session)
    requested = member.requested_membership_type_id
    return render(
        request,
        "desk/application.html",
        {
            "member": member,
            "types": types,
            "requested": next((t for t in types if t.id == requested), None),
            "open": is_open_application(member),
            "may_decide": has_permission(viewer, Permission.MEMBERS_WRITE),
            "approve_form": approve_form or _approve_defaults(member),
            "reject_form": reject_form or FormState(),
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


def _approve_defaults(member: Member) -> FormState:
    requested = member.requested_membership_type_id
    return FormState(
        values={
            "membership_type_id": str(requested) if requested is not None else "",
            "dues_rate": "",
            "start_date": clock.today().isoformat(),
        }
    )


@router.get("/desk/applications/{member_id}")
def application(
    request: Request, session: SessionDep, viewer: SignedIn, member_id: RecordId
) -> Response:
    """One application: who applied, for what, and the approve and reject forms while it is
    open (to the roles that decide). Three statements: the sign-in, the member, the types."""
    require_desk_role(viewer)
    member = get_member(session, viewer, member_id)
    return _application_page(request, session, viewer, member)


@router.post("/desk/applications/{member_id}/approve")
def approve(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    member_id: RecordId,
    membership_type_id: ShortField = "",
    dues_rate: ShortField = "",
    start_date: ShortField = "",
    confirmed: ConfirmField = "",
) -> Response:
    """Without ``confirmed``: what the approval will do, to confirm. With it: the approval, then
    the list with a message. A field that cannot be read or a refused rule: the application's
    page again (422, or 409 when it was decided meanwhile), nothing written."""
    require_desk_role(viewer)
    require(viewer, Permission.MEMBERS_WRITE)
    member = get_member(session, viewer, member_id)
    form = FormState(
        values={
            "membership_type_id": membership_type_id,
            "dues_rate": dues_rate,
            "start_date": start_date,
        }
    )
    types = membership_types(session)
    chosen = _chosen_type(form, types, member)
    rate = read_amount(form, "dues_rate") if dues_rate.strip() else None
    day = read_day(form, "start_date")
    if chosen is None or not form.valid:
        return _application_page(
            request, session, viewer, member, approve_form=form, status_code=422
        )
    if not is_open_application(member):
        return _decided(request, session, viewer, member, form, approving=True)
    if confirmed != CONFIRMED:
        return render(
            request,
            "desk/application_confirm.html",
            {
                "member": member,
                "decision": "approve",
                "form": form,
                "membership_type": chosen,
                "rate": rate if rate is not None else chosen.amount,
                "start": day or clock.today(),
                "nav": desk_nav(viewer),
            },
        )
    try:
        with session.begin_nested():
            approve_member(
                session,
                viewer,
                member.id,
                membership_type_id=chosen.id,
                dues_rate=rate,
                start_date=day,
            )
    except member_errors.ApplicationAlreadyDecided as refusal:
        return _decided(request, session, viewer, member, form, approving=True, refusal=refusal)
    except member_errors.DuesRateBelowMinimum as refusal:
        form.add_error("dues_rate", RATE_BELOW_MINIMUM, reason=refusal.detail)
        return _application_page(
            request, session, viewer, member, approve_form=form, status_code=422
        )
    except (ValidationFailed, member_errors.MembershipTypeWithoutPeriod) as refusal:
        form.add_error("", REFUSED, reason=refusal.detail)
        return _application_page(
            request, session, viewer, member, approve_form=form, status_code=422
        )
    response = RedirectResponse("/desk/applications", status_code=303)
    flash(response, request, APPROVED)
    return response


@router.post("/desk/applications/{member_id}/reject")
def reject(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    member_id: RecordId,
    reason: ReasonField = "",
    confirmed: ConfirmField = "",
) -> Response:
    """Without ``confirmed``: the rejection and its reason, to confirm. With it: the rejection,
    then the list with a message. No reason, or one too long: the application's page again
    (422); decided meanwhile: 409. Nothing written either way."""
    require_desk_role(viewer)
    require(viewer, Permission.MEMBERS_WRITE)
    member = get_member(session, viewer, member_id)
    form = FormState(values={"reason": reason})
    cleaned = reason.strip()
    if not cleaned:
        form.add_error("reason", REASON_REQUIRED)
    elif len(cleaned) > MAX_REASON:
        form.add_error("reason", TOO_LONG, max=MAX_REASON)
    if not form.valid:
        return _application_page(
            request, session, viewer, member, reject_form=form, status_code=422
        )
    if not is_open_application(member):
        return _decided(request, session, viewer, member, form, approving=False)
    if confirmed != CONFIRMED:
        return render(
            request,
            "desk/application_confirm.html",
            {"member": member, "decision": "reject", "form": form, "nav": desk_nav(viewer)},
        )
    try:
        with session.begin_nested():
            reject_member(session, viewer, member.id, cleaned)
    except member_errors.ApplicationAlreadyDecided as refusal:
        return _decided(request, session, viewer, member, form, approving=False, refusal=refusal)
    except ValidationFailed as refusal:
        form.add_error("reason", REFUSED, reason=refusal.detail)
        return _application_page(
            request, session, viewer, member, reject_form=form, status_code=422
        )
    response = RedirectResponse("/desk/applications", status_code=303)
    flash(response, request, REJECTED)
    return response


def _decided(
    request: Request,
    session: Session,
    viewer: User,
    member: Member,
    form: FormState,
    *,
    approving: bool,
    refusal: DomainError | None = None,
) -> Response:
    """The application's page (409) saying it was decided already: the service's own message
    when it refused, else the same rule's words with the member's status."""
    session.refresh(member)
    detail = (
        refusal.detail
        if refusal is not None
        else f"{member.member_id} has status {member.status}, application "
        f"{member.application_status}"
    )
    form.add_error("", ALREADY_DECIDED, reason=detail)
    forms = {"approve_form": form} if approving else {"reject_form": form}
    return _application_page(request, session, viewer, member, status_code=409, **forms)


def _chosen_type(
    form: FormState, types: list[MembershipType], member: Member
) -> MembershipType | None:
    """The membership type chosen (its id), the requested one when none; None with an error."""
    text = form.value("membership_type_id").strip()
    wanted = member.requested_membership_type_id if not text else None
    if text:
        wanted = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
    chosen = next((t for t in types if t.id == wanted), None) if wanted is not None else None
    if chosen is None:
        form.add_error("membership_type_id", BAD_CHOICE)
    return chosen


def read_amount(form: FormState, name: str) -> Decimal | None:
    """An amount as people type it (``12.50``, ``12,50`` or ``12``); None with an error."""
    cleaned = form.value(name).strip()
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return parse_amount(cleaned, field=name)
    except ValidationFailed:
        form.add_error(name, BAD_AMOUNT)
        return None


def read_day(form: FormState, name: str) -> dt.date | None:
    """A day from a date field (``2026-03-02``); None when empty (today) or with an error."""
    text = form.value(name).strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        form.add_error(name, BAD_DATE)
        return None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        form.add_error(name, BAD_DATE)
        return None
    return day

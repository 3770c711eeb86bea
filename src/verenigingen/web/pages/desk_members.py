"""The desk's members: a search over name, member id, email and IBAN end with a status filter,
a page at a time (``members.search``), and a member's page: memberships, the payment history
(the history read model through its cache, as the portal and the API read it), the financial
summary and the SEPA mandates; to the roles that change members, the form that terminates one
(``desk_terminations``) or the link to decide on its application (``desk_applications``).

IBANs are shown whole only to the roles that collect by direct debit (``sees_whole_ibans``), as
the API shows them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from verenigingen import clock
from verenigingen.auth.permissions import Permission, has_permission, sees_whole_ibans
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.history import service as history
from verenigingen.history.schemas import PaymentHistory
from verenigingen.iban import mask_iban
from verenigingen.members.models import MemberStatus
from verenigingen.members.queries import get_member, list_memberships
from verenigingen.members.search import MAX_SEARCH_LENGTH, MemberSearch, search_members
from verenigingen.members.service.changes import TERMINABLE
from verenigingen.sepa.service import list_mandates
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.forms import FormState
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

HISTORY_ROWS = 10
"""Invoices of the history on a member's page (the member's own history pages further back)."""

MEMBERSHIP_ROWS = 10

SearchText = Annotated[str, Query(max_length=MAX_SEARCH_LENGTH)]
StatusFilter = Annotated[str, Query(max_length=20)]


@router.get("/desk/members")
def members(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    q: SearchText = "",
    status: StatusFilter = "",
    after: Cursor = None,
) -> Response:
    """Members by name, narrowed by the search ``q`` and ``status``, a page at a time with a
    "Next" link (keyset): two statements, the sign-in and the page, on every page. An unknown
    status, a forged cursor or control characters in the search: the 422 page."""
    require_desk_role(viewer)
    search = MemberSearch(text=q, status=status or None)
    found = search_members(session, viewer, search, PageRequest(PAGE_SIZE, after=after))
    return render(
        request,
        "desk/members.html",
        {
            "members": found.items,
            "next_cursor": found.next_cursor,
            "q": q,
            "status": status,
            "statuses": [member_status.value for member_status in MemberStatus],
            "after": after,
            "filters": {name: value for name, value in (("q", q), ("status", status)) if value},
            "nav": desk_nav(viewer),
        },
    )


@router.get("/desk/members/{member_id}")
def member(
    request: Request, session: SessionDep, viewer: SignedIn, member_id: RecordId
) -> Response:
    """One member: details, memberships, the newest invoices of its history with their payments,
    the financial summary and the mandates. An unknown member is the 404 page."""
    require_desk_role(viewer)
    record = get_member(session, viewer, member_id)
    memberships = list_memberships(
        session, viewer, member_id, page=PageRequest(MEMBERSHIP_ROWS)
    ).items
    history_text = history.payment_history_text(session, viewer, member_id, limit=HISTORY_ROWS)
    summary = history.financial_summary(session, viewer, member_id)
    mandates = list_mandates(session, viewer, member_id)
    whole_ibans = sees_whole_ibans(viewer)
    return render(
        request,
        "desk/member.html",
        {
            "member": record,
            "memberships": memberships,
            "history": PaymentHistory.model_validate_json(history_text.text),
            "summary": summary,
            "mandates": mandates,
            "shown_iban": (lambda iban: iban) if whole_ibans else mask_iban,
            "may_register_payment": has_permission(viewer, Permission.BILLING_WRITE),
            "may_change_members": has_permission(viewer, Permission.MEMBERS_WRITE),
            "terminable": record.status in TERMINABLE,
            "termination": FormState(values={"termination_date": clock.today().isoformat()}),
            "nav": desk_nav(viewer),
        },
    )

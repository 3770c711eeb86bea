"""The portal's payment history: the member's invoices with their payments, newest first, a page
at a time (the cursor of ``GET /api/v1/members/{id}/payment-history``).

The page reads the history read model through its cache, the same call the API makes
(``history.service.payment_history_text``): a warm page is the sign-in's statement, the login's
member id and the cache's one; a cold page the history's three instead of the cache's one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from verenigingen.auth.errors import LoginNotLinkedToMember
from verenigingen.billing.models import InvoiceStatus
from verenigingen.db.ids import RecordId
from verenigingen.history import service
from verenigingen.history.schemas import PaymentHistory
from verenigingen.members.models import Member
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.forms import N_
from verenigingen.web.pages.portal import PORTAL_NAV
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

PAGE_SIZE = 20
Cursor = Annotated[str | None, Query(max_length=200)]

INVOICE_STATUS_LABELS = {
    # For the catalog; the page translates the status it shows: _(invoice.status).
    InvoiceStatus.DRAFT: N_("Draft"),
    InvoiceStatus.UNPAID: N_("Unpaid"),
    InvoiceStatus.PARTLY_PAID: N_("Partly Paid"),
    InvoiceStatus.PAID: N_("Paid"),
    InvoiceStatus.OVERDUE: N_("Overdue"),
    InvoiceStatus.CANCELLED: N_("Cancelled"),
    InvoiceStatus.RETURN: N_("Return"),
    InvoiceStatus.CREDIT_NOTE_ISSUED: N_("Credit Note Issued"),
}


@router.get("/portal/history")
def own_history(
    request: Request, session: SessionDep, viewer: SignedIn, before: Cursor = None
) -> Response:
    """The signed-in member's own history (a login without a member: the 403 page)."""
    member_id = session.scalar(select(Member.id).where(Member.user_id == viewer.id))
    if member_id is None:
        raise LoginNotLinkedToMember("this login is not linked to a member")
    return _history_page(request, session, viewer, member_id, before)


@router.get("/portal/members/{member_id}/history")
def member_history(
    request: Request, session: SessionDep, viewer: SignedIn, member_id: RecordId,
    before: Cursor = None,
) -> Response:  # fmt: skip
    """A member's history by id: a Member gets its own, another's is the 403 page."""
    return _history_page(request, session, viewer, member_id, before)


def _history_page(
    request: Request, session: SessionDep, viewer: SignedIn, member_id: int, before: str | None
) -> Response:
    text = service.payment_history_text(
        session, viewer, member_id, limit=PAGE_SIZE, before=before
    ).text
    history = PaymentHistory.model_validate_json(text)
    return render(
        request,
        "portal/history.html",
        {"history": history, "before": before, "nav": PORTAL_NAV},
    )

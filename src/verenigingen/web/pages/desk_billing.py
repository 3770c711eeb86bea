"""The desk's invoices and payments: the ledger's lists with filters, a page at a time
(``billing.queries.list_invoices`` and ``list_payments``, keyset-paged newest first, as
``GET /api/v1/invoices`` and ``/payments``). Every amount is the ledger's: grand total,
outstanding, paid and unallocated as stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.permissions import Permission, has_permission
from verenigingen.billing.models import DocStatus, InvoiceStatus
from verenigingen.billing.queries import PAYMENT_DOCSTATUS_BY_STATUS, list_invoices, list_payments
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.members.models import Customer
from verenigingen.members.queries import get_member
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import PAGE_SIZE, Cursor, desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

StatusFilter = Annotated[str, Query(max_length=30)]

PAYMENT_STATUS_LABELS = (N_("Draft"), N_("Submitted"), N_("Cancelled"))
"""For the catalog; the page translates the status it shows."""


DOCSTATUS_LABELS = {
    docstatus.value: name for name, docstatus in PAYMENT_DOCSTATUS_BY_STATUS.items()
}


def customer_names(session: Session, customer_ids: set[int]) -> dict[int, str]:
    """The names of the customers a page shows, in one statement (none for an empty page)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids))
    ).all()
    return {row.id: row.name for row in rows}


def _filters(**values: Any) -> dict[str, str]:
    """The list's filters that are set, for the "Next" link (an empty one is left out)."""
    return {name: str(value) for name, value in values.items() if value not in (None, "")}


@router.get("/desk/invoices")
def invoices(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    status: StatusFilter = "",
    member_id: RecordId | None = None,
    after: Cursor = None,
) -> Response:
    """Invoices and credit notes, newest first, of one status and one member when asked: four
    statements on every page (the sign-in, the page, its lines, its customers' names). An
    unknown status or a forged cursor is the 422 page."""
    require_desk_role(viewer)
    found = list_invoices(
        session,
        viewer,
        status=status or None,
        member_id=member_id,
        page=PageRequest(PAGE_SIZE, after=after),
    )
    return render(
        request,
        "desk/invoices.html",
        {
            "invoices": found.items,
            "names": customer_names(session, {invoice.customer_id for invoice in found.items}),
            "next_cursor": found.next_cursor,
            "after": after,
            "status": status,
            "member_id": member_id,
            "statuses": [invoice_status.value for invoice_status in InvoiceStatus],
            "filters": _filters(status=status, member_id=member_id),
            "nav": desk_nav(viewer),
        },
    )


@router.get("/desk/payments")
def payments(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    status: StatusFilter = "",
    member_id: RecordId | None = None,
    after: Cursor = None,
) -> Response:
    """Payments, newest first, of one status (Draft, Submitted, Cancelled) and one member's
    customer when asked, each with a button that asks to cancel it (its confirmation page) for
    the roles that may: four statements on every page (the sign-in, the page, its
    allocations, its customers' names), five with a member (its customer). An unknown member
    is the 404 page."""
    require_desk_role(viewer)
    customer_id = get_member(session, viewer, member_id).customer_id if member_id else None
    found = (
        list_payments(
            session,
            viewer,
            status=status or None,
            customer_id=customer_id,
            page=PageRequest(PAGE_SIZE, after=after),
        )
        if member_id is None or customer_id is not None
        else None  # a member without a customer has no payments
    )
    rows = found.items if found else []
    return render(
        request,
        "desk/payments.html",
        {
            "payments": rows,
            "names": customer_names(session, {payment.customer_id for payment in rows}),
            "docstatus_labels": DOCSTATUS_LABELS,
            "next_cursor": found.next_cursor if found else None,
            "after": after,
            "status": status,
            "member_id": member_id,
            "statuses": list(PAYMENT_DOCSTATUS_BY_STATUS),
            "filters": _filters(status=status, member_id=member_id),
            "may_cancel": has_permission(viewer, Permission.BILLING_WRITE),
            "cancelled": DocStatus.CANCELLED,
            "nav": desk_nav(viewer),
        },
    )

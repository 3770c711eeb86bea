"""The portal's invoices: the member's own invoices and credit notes, newest first, a page at a
time (``billing.queries.list_invoices``, as ``GET /api/v1/invoices``), and a printable page per
invoice (``billing.queries.get_invoice``, as ``GET /api/v1/invoices/{id}``).

A Member sees only its customer's invoices (``members.scope``): another member's invoice is the
403 page, an unknown one the 404 page, whether asked for by id in the address bar or not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from verenigingen.billing.queries import get_invoice, list_invoices
from verenigingen.db.ids import RecordId
from verenigingen.db.paging import PageRequest
from verenigingen.history.overview import member_overview
from verenigingen.members.models import Customer
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.portal import PORTAL_NAV, require_portal_role
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

PAGE_SIZE = 20
MAX_PAGE = 10_000
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/portal/invoices")
def invoices(
    request: Request, session: SessionDep, viewer: SignedIn, page: PageNumber = 1
) -> Response:
    """A page of the member's invoices with their status and outstanding amount, under the
    totals of the dashboard (outstanding, overdue count): seven statements whatever the number
    of invoices (the sign-in, the overview's two, the scope, the count, the page, its lines),
    eight before the member's first financial summary is written."""
    require_portal_role(viewer)
    overview = member_overview(session, viewer)
    found = list_invoices(
        session, viewer, page=PageRequest(PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, count=True)
    )
    rows, total = found.items, found.total or 0
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "portal/invoices.html",
        {
            "overview": overview,
            "invoices": rows,
            "total": total,
            "page_number": page,
            "pages": pages,
            "nav": PORTAL_NAV,
        },
    )


@router.get("/portal/invoices/{invoice_id}")
def invoice(
    request: Request, session: SessionDep, viewer: SignedIn, invoice_id: RecordId
) -> Response:
    """One invoice as a printable page: who it is addressed to, its lines, total, outstanding
    and due date. Another customer's invoice is the 403 page, an unknown one the 404 page."""
    require_portal_role(viewer)
    document = get_invoice(session, viewer, invoice_id)
    customer = session.get(Customer, document.customer_id)
    return render(
        request,
        "portal/invoice.html",
        {"invoice": document, "customer": customer, "nav": PORTAL_NAV},
    )

"""/api/v1/invoices"""

from __future__ import annotations

from fastapi import APIRouter

from verenigingen.billing import queries
from verenigingen.billing.models import InvoiceStatus
from verenigingen.billing.schemas import CreditNoteCreate, InvoiceCreate, InvoiceOut
from verenigingen.billing.service import credit_notes, invoices
from verenigingen.db.ids import RecordId
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/invoices",
    tags=["invoices"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("")
def list_invoices(
    session: SessionDep,
    user: CurrentUser,
    page: PageParams,
    status: InvoiceStatus | None = None,
    customer_id: RecordId | None = None,
    member_id: RecordId | None = None,
) -> Page[InvoiceOut]:
    """Newest first, a page at a time: ``after`` the previous page's ``next_cursor``."""
    found = queries.list_invoices(
        session, user, status=status, customer_id=customer_id, member_id=member_id, page=page
    )
    return Page[InvoiceOut].of(found, InvoiceOut.model_validate)


@router.get("/{invoice_id}")
def get_invoice(session: SessionDep, user: CurrentUser, invoice_id: RecordId) -> InvoiceOut:
    return InvoiceOut.model_validate(queries.get_invoice(session, user, invoice_id))


@router.post("", status_code=201)
def create_invoice(session: SessionDep, user: CurrentUser, body: InvoiceCreate) -> InvoiceOut:
    """Create a Draft invoice."""
    return InvoiceOut.model_validate(invoices.create_invoice(session, user, body))


@router.post("/{invoice_id}/submit")
def submit_invoice(session: SessionDep, user: CurrentUser, invoice_id: RecordId) -> InvoiceOut:
    return InvoiceOut.model_validate(invoices.submit_invoice(session, user, invoice_id))


@router.post("/{invoice_id}/cancel")
def cancel_invoice(session: SessionDep, user: CurrentUser, invoice_id: RecordId) -> InvoiceOut:
    """Cancel an invoice or a credit note (409 while payments or credit notes settle it)."""
    return InvoiceOut.model_validate(invoices.cancel_invoice(session, user, invoice_id))


@router.post("/{invoice_id}/credit-notes", status_code=201)
def create_credit_note(
    session: SessionDep, user: CurrentUser, invoice_id: RecordId, body: CreditNoteCreate
) -> InvoiceOut:
    """Credit part or all of what a submitted invoice still owes; returns the credit note."""
    credit_note = credit_notes.create_credit_note(session, user, invoice_id, body)
    return InvoiceOut.model_validate(credit_note)

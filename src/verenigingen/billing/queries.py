"""What can be read from the ledger. A Member (portal) sees only its own customer's documents.

Each list costs a fixed number of statements whatever its length: a count, the page, and one
``selectinload`` query for the children of the whole page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from verenigingen.auth.errors import LoginNotLinkedToMember, NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, is_member_role, require
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, Payment
from verenigingen.db.paging import check_page, count_rows
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.models import Customer
from verenigingen.members.ownership import own_member_ids

PAYMENT_DOCSTATUS_BY_STATUS: dict[str, DocStatus] = {
    "Draft": DocStatus.DRAFT,
    "Submitted": DocStatus.SUBMITTED,
    "Cancelled": DocStatus.CANCELLED,
}


def _own_customer_id(session: Session, user: User) -> int | None:
    """The customer a Member may read, or None for roles that read every customer."""
    if not is_member_role(user):
        return None
    _member_id, customer_id = own_member_ids(session, user)
    if customer_id is None:
        raise LoginNotLinkedToMember("this login is not linked to a member with a customer")
    return customer_id


def _narrow_customer(session: Session, user: User, customer_id: int | None) -> int | None:
    """The customer filter to apply: the Member's own, or what the caller asked for."""
    own = _own_customer_id(session, user)
    if own is None:
        return customer_id
    if customer_id is not None and customer_id != own:
        raise NotOwnRecord("a member may only read its own invoices and payments")
    return own


def list_invoices(
    session: Session,
    user: User,
    *,
    status: InvoiceStatus | str | None = None,
    customer_id: int | None = None,
    member_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Invoice], int]:
    """A page of invoices (with lines), newest first, and how many match in total."""
    require(user, Permission.BILLING_READ)
    check_page(limit, offset)
    customer_id = _narrow_customer(session, user, customer_id)
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        try:
            conditions.append(Invoice.status == InvoiceStatus(status).value)
        except ValueError:
            raise ValidationFailed(f"unknown invoice status {status!r}") from None
    if customer_id is not None:
        conditions.append(Invoice.customer_id == customer_id)
    if member_id is not None:
        conditions.append(Invoice.member_id == member_id)
    total = count_rows(session, select(Invoice.id).where(*conditions))
    invoices = session.scalars(
        select(Invoice)
        .where(*conditions)
        .options(selectinload(Invoice.lines))
        .order_by(Invoice.posting_date.desc(), Invoice.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(invoices), total


def get_invoice(session: Session, user: User, invoice_id: int) -> Invoice:
    """One invoice with its lines; 404 when unknown, 403 for another customer's to a Member."""
    require(user, Permission.BILLING_READ)
    invoice = session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).options(selectinload(Invoice.lines))
    )
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} does not exist")
    own = _own_customer_id(session, user)
    if own is not None and invoice.customer_id != own:
        raise NotOwnRecord("a member may only read its own invoices")
    return invoice


def list_payments(
    session: Session,
    user: User,
    *,
    status: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Payment], int]:
    """A page of payments (with allocations), newest first, and how many match in total.

    ``status`` is Draft, Submitted or Cancelled, as a Payment Entry shows it.
    """
    require(user, Permission.BILLING_READ)
    check_page(limit, offset)
    customer_id = _narrow_customer(session, user, customer_id)
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        docstatus = PAYMENT_DOCSTATUS_BY_STATUS.get(status)
        if docstatus is None:
            valid = ", ".join(PAYMENT_DOCSTATUS_BY_STATUS)
            raise ValidationFailed(f"unknown payment status {status!r}; choose one of: {valid}")
        conditions.append(Payment.docstatus == docstatus)
    if customer_id is not None:
        conditions.append(Payment.customer_id == customer_id)
    total = count_rows(session, select(Payment.id).where(*conditions))
    payments = session.scalars(
        select(Payment)
        .where(*conditions)
        .options(selectinload(Payment.allocations))
        .order_by(Payment.posting_date.desc(), Payment.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(payments), total


def get_payment(session: Session, user: User, payment_id: int) -> Payment:
    """One payment with its allocations; 404 when unknown, 403 for another's to a Member."""
    require(user, Permission.BILLING_READ)
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).options(selectinload(Payment.allocations))
    )
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    own = _own_customer_id(session, user)
    if own is not None and payment.customer_id != own:
        raise NotOwnRecord("a member may only read its own payments")
    return payment


@dataclass(frozen=True)
class CustomerLedger:
    """What one customer was billed and paid: the simple member payment history.

    Every allocation of the payments settles an invoice of the same customer (the allocation rule
    checks it), so the payments with their allocations are the whole story of the invoices.
    """

    customer_id: int
    invoices: list[Invoice]
    """Oldest first, credit notes included; without lines."""
    payments: list[Payment]
    """Oldest first, with their allocations loaded."""


def customer_ledger(session: Session, user: User, customer_id: int) -> CustomerLedger:
    """A customer's invoices and payments with their allocations, in at most three statements
    whatever their number: the invoices, the payments, and one ``selectinload`` for the
    allocations (sent only when there are payments).

    An unknown customer is a 404 (one more statement, only when the ledger comes back empty).
    """
    require(user, Permission.BILLING_READ)
    customer_id = _narrow_customer(session, user, customer_id) or customer_id
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.posting_date, Invoice.id)
    ).all()
    payments = session.scalars(
        select(Payment)
        .where(Payment.customer_id == customer_id)
        .options(selectinload(Payment.allocations))
        .order_by(Payment.posting_date, Payment.id)
    ).all()
    if not invoices and not payments and session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return CustomerLedger(customer_id, list(invoices), list(payments))

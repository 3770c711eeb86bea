"""What can be read from the ledger. A Member (portal) sees only its own customer's documents.

Each list costs a fixed number of statements whatever its length and the ledger's size: the
page (keyset-paged on an index, :mod:`verenigingen.db.paging`), one ``selectinload`` query for
the children of the whole page, and a count only when the client asks for one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, selectinload

from verenigingen.auth.errors import LoginNotLinkedToMember, NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.models import Customer, Member
from verenigingen.members.scope import ReadScope, read_scope

PAYMENT_DOCSTATUS_BY_STATUS: dict[str, DocStatus] = {
    "Draft": DocStatus.DRAFT,
    "Submitted": DocStatus.SUBMITTED,
    "Cancelled": DocStatus.CANCELLED,
}


INVOICE_ORDER = Keyset("invoices", (Invoice.posting_date, Invoice.id), descending=True)
"""Newest first: the index ``ix_invoice_posting_date_id`` serves it."""

PAYMENT_ORDER = Keyset("payments", (Payment.posting_date, Payment.id), descending=True)
"""Newest first: the index ``ix_payment_posting_date_id`` serves it."""


def readable_invoices(scope: ReadScope) -> Select[Invoice]:
    """Every invoice (and credit note) the scope may read: all of them, or its customer's."""
    statement = select(Invoice)
    if not scope.everything:
        statement = statement.where(Invoice.customer_id == _own_customer(scope))
    return statement


def readable_payments(scope: ReadScope) -> Select[Payment]:
    """Every payment the scope may read: all of them, or its customer's."""
    statement = select(Payment)
    if not scope.everything:
        statement = statement.where(Payment.customer_id == _own_customer(scope))
    return statement


def _own_customer(scope: ReadScope) -> int:
    if scope.customer_id is None:
        raise LoginNotLinkedToMember("this login is not linked to a member with a customer")
    return scope.customer_id


def _customer_filter(scope: ReadScope, customer_id: int | None) -> int | None:
    """The customer filter a list adds to its readable statement (a Member's is built in; asking
    for another customer's is a 403)."""
    if scope.everything:
        return customer_id
    if customer_id is not None and customer_id != _own_customer(scope):
        raise NotOwnRecord("a member may only read its own invoices and payments")
    return None


def list_invoices(
    session: Session,
    user: User,
    *,
    status: InvoiceStatus | str | None = None,
    customer_id: int | None = None,
    member_id: int | None = None,
    page: PageRequest = PageRequest(),
) -> KeysetPage[Invoice]:
    """A page of invoices (with lines), newest first; how many match only when asked.

    403 for another customer's to a Member; 422 for an unknown status or a bad page or cursor.
    """
    require(user, Permission.BILLING_READ)
    page.check()
    scope = read_scope(session, user)
    customer_id = _customer_filter(scope, customer_id)
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
    matching = readable_invoices(scope).where(*conditions)
    loads = [selectinload(Invoice.lines)]
    return keyset_page(session, matching, INVOICE_ORDER, page, loads=loads)


def get_invoice(session: Session, user: User, invoice_id: int) -> Invoice:
    """One invoice with its lines; 404 when unknown, 403 for another customer's to a Member."""
    require(user, Permission.BILLING_READ)
    invoice = session.scalar(
        select(Invoice).where(Invoice.id == invoice_id).options(selectinload(Invoice.lines))
    )
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} does not exist")
    if not read_scope(session, user).may_read_customer(invoice.customer_id):
        raise NotOwnRecord("a member may only read its own invoices")
    return invoice


def list_payments(
    session: Session,
    user: User,
    *,
    status: str | None = None,
    customer_id: int | None = None,
    page: PageRequest = PageRequest(),
) -> KeysetPage[Payment]:
    """A page of payments (with allocations), newest first; how many match only when asked.

    ``status`` is Draft, Submitted or Cancelled, as a Payment Entry shows it.
    """
    require(user, Permission.BILLING_READ)
    page.check()
    scope = read_scope(session, user)
    customer_id = _customer_filter(scope, customer_id)
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        docstatus = PAYMENT_DOCSTATUS_BY_STATUS.get(status)
        if docstatus is None:
            valid = ", ".join(PAYMENT_DOCSTATUS_BY_STATUS)
            raise ValidationFailed(f"unknown payment status {status!r}; choose one of: {valid}")
        conditions.append(Payment.docstatus == docstatus)
    if customer_id is not None:
        conditions.append(Payment.customer_id == customer_id)
    matching = readable_payments(scope).where(*conditions)
    loads = [selectinload(Payment.allocations)]
    return keyset_page(session, matching, PAYMENT_ORDER, page, loads=loads)


def get_payment(session: Session, user: User, payment_id: int) -> Payment:
    """One payment with its allocations; 404 when unknown, 403 for another's to a Member."""
    require(user, Permission.BILLING_READ)
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).options(selectinload(Payment.allocations))
    )
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    if not read_scope(session, user).may_read_customer(payment.customer_id):
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
    _customer_filter(read_scope(session, user), customer_id)  # a Member: its own customer only
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


@dataclass(frozen=True)
class SettlingPayment:
    """A payment's allocation to one invoice, with what a reader of the invoice needs of the
    payment: its number, day, how it was paid and whether it still counts."""

    payment_id: int
    number: str
    posting_date: dt.date
    mode_of_payment: str
    docstatus: int
    allocated_amount: Decimal


@dataclass(frozen=True)
class InvoiceDetail:
    """One invoice as the desk shows it: the document with its lines, the payments allocated to
    it (cancelled ones too, marked so) and the credit notes against it, oldest first."""

    invoice: Invoice
    customer_name: str
    payments: list[SettlingPayment]
    credit_notes: list[Invoice]
    """Without lines; cancelled ones too."""

    @property
    def settled(self) -> bool:
        """A submitted payment or credit note still settles it: it cannot be cancelled."""
        return any(payment.docstatus == DocStatus.SUBMITTED for payment in self.payments) or any(
            note.docstatus == DocStatus.SUBMITTED for note in self.credit_notes
        )


def invoice_detail(session: Session, user: User, invoice_id: int) -> InvoiceDetail:
    """:func:`get_invoice` with its customer's name, allocations and credit notes: five
    statements whatever the ledger's size (the invoice with its name, its lines, the
    allocations with their payments, the credit notes, each by an index on the invoice)."""
    require(user, Permission.BILLING_READ)
    row = session.execute(
        select(Invoice, Customer.name)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.id == invoice_id)
        .options(selectinload(Invoice.lines))
    ).first()
    if row is None:
        raise NotFound(f"invoice {invoice_id} does not exist")
    invoice: Invoice = row[0]
    if not read_scope(session, user).may_read_customer(invoice.customer_id):
        raise NotOwnRecord("a member may only read its own invoices")
    settling = session.execute(
        select(
            Payment.id,
            Payment.number,
            Payment.posting_date,
            Payment.mode_of_payment,
            Payment.docstatus,
            PaymentAllocation.allocated_amount,
        )
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.invoice_id == invoice.id)
        .order_by(Payment.posting_date, Payment.id)
    ).all()
    credit_notes = session.scalars(
        select(Invoice)
        .where(Invoice.return_against_id == invoice.id, Invoice.is_return.is_(True))
        .order_by(Invoice.id)
    ).all()
    return InvoiceDetail(
        invoice=invoice,
        customer_name=row.name,
        payments=[
            SettlingPayment(
                payment_id=found.id,
                number=found.number,
                posting_date=found.posting_date,
                mode_of_payment=found.mode_of_payment,
                docstatus=found.docstatus,
                allocated_amount=found.allocated_amount,
            )
            for found in settling
        ],
        credit_notes=list(credit_notes),
    )


@dataclass(frozen=True)
class SettledInvoice:
    """An invoice a payment was allocated to, as the payment's reader sees it."""

    invoice_id: int
    number: str
    status: str
    outstanding_amount: Decimal
    allocated_amount: Decimal


MAX_PAYING_FOR = 20
"""Members of one customer a payment's page names (a family; an organisation paying for more
shows the first)."""


@dataclass(frozen=True)
class PayingFor:
    """A member whose dues the payment's customer pays."""

    member_id: int
    name: str


@dataclass(frozen=True)
class PaymentDetail:
    """One payment as the desk shows it: the document, its customer's name, the invoices it
    settles with their state now, and the members its customer pays for."""

    payment: Payment
    customer_name: str
    invoices: list[SettledInvoice]
    members: list[PayingFor]


def payment_detail(session: Session, user: User, payment_id: int) -> PaymentDetail:
    """:func:`get_payment` with its customer's name, its allocations' invoices and the
    members its customer pays for: three statements whatever the ledger's size."""
    require(user, Permission.BILLING_READ)
    row = session.execute(
        select(Payment, Customer.name)
        .join(Customer, Customer.id == Payment.customer_id)
        .where(Payment.id == payment_id)
    ).first()
    if row is None:
        raise NotFound(f"payment {payment_id} does not exist")
    payment: Payment = row[0]
    if not read_scope(session, user).may_read_customer(payment.customer_id):
        raise NotOwnRecord("a member may only read its own payments")
    settled = session.execute(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.status,
            Invoice.outstanding_amount,
            PaymentAllocation.allocated_amount,
        )
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .where(PaymentAllocation.payment_id == payment.id)
        .order_by(PaymentAllocation.id)
    ).all()
    members = session.execute(
        select(Member.id, Member.first_name, Member.last_name)
        .where(Member.customer_id == payment.customer_id)
        .order_by(Member.id)
        .limit(MAX_PAYING_FOR)
    ).all()
    return PaymentDetail(
        payment=payment,
        customer_name=row.name,
        invoices=[
            SettledInvoice(
                invoice_id=found.id,
                number=found.number,
                status=found.status,
                outstanding_amount=found.outstanding_amount,
                allocated_amount=found.allocated_amount,
            )
            for found in settled
        ],
        members=[
            PayingFor(member_id=found.id, name=f"{found.first_name} {found.last_name}")
            for found in members
        ],
    )

"""A small real ledger (a customer, one submitted invoice, payments through the billing services)
that cache tests read through the cache, and a clock the tests can move."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.billing.schemas import AllocationIn, InvoiceCreate, InvoiceLineIn, PaymentCreate
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.cache import bump_tags
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.members.models import Customer


class MovableClock:
    """The cache's clock in tests: time moves only when the test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Ledger:
    treasurer_id: int
    customer_id: int
    invoice_id: int

    @property
    def tags(self) -> list[str]:
        return [f"customer:{self.customer_id}"]

    @property
    def key(self) -> str:
        return str(self.customer_id)


def make_ledger(engine: Engine, amount: str = "100.00") -> Ledger:
    """A customer with one submitted invoice of ``amount``, committed."""
    with unit_of_work(make_session_factory(engine)) as session:
        tag = uuid.uuid4().hex[:8]
        treasurer = create_user(session, f"treasurer.{tag}@example.org", Role.TREASURER)
        customer = Customer(debtor_number=f"DEB-{tag}", name=f"Customer {tag}")
        session.add(customer)
        session.flush()
        invoice = create_invoice(
            session,
            treasurer,
            InvoiceCreate(
                customer_id=customer.id,
                lines=[InvoiceLineIn(description="Contributie", rate=Decimal(amount))],
            ),
        )
        submit_invoice(session, treasurer, invoice.id)
        return Ledger(treasurer.id, customer.id, invoice.id)


def pay(session: Session, ledger: Ledger, amount: str) -> None:
    """A payment allocated to the ledger's invoice, with the bump that belongs to it (rule 5)."""
    treasurer = session.get_one(User, ledger.treasurer_id)
    payment = create_payment(
        session,
        treasurer,
        PaymentCreate(
            customer_id=ledger.customer_id,
            paid_amount=Decimal(amount),
            allocations=[
                AllocationIn(invoice_id=ledger.invoice_id, allocated_amount=Decimal(amount))
            ],
        ),
    )
    submit_payment(session, treasurer, payment.id)
    bump_tags(session, ledger.tags)


def outstanding(session: Session, ledger: Ledger) -> Decimal:
    """What the ledger says is still owed: the value the cached read models are made of."""
    value = session.scalar(
        select(Invoice.outstanding_amount).where(Invoice.id == ledger.invoice_id)
    )
    assert value is not None
    return value

"""Ledger test factories: customers and members as rows, invoices and payments via services."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import AuditEvent, Invoice, Payment, PaymentAllocation
from verenigingen.billing.schemas import (
    AllocationIn,
    CreditNoteCreate,
    InvoiceCreate,
    InvoiceLineIn,
    PaymentCreate,
)
from verenigingen.billing.service.credit_notes import create_credit_note
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.db.naming import NamingSeries
from verenigingen.members.models import Customer, Member

_sequence = itertools.count(1)


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


class LedgerFactory:
    """Builds ledger records for one session, acting as ``user`` (a Treasurer or Administrator)."""

    def __init__(self, session: Session, user: User) -> None:
        self.session = session
        self.user = user

    def customer(self, name: str | None = None) -> Customer:
        tag = f"{next(_sequence)}-{uuid.uuid4().hex[:6]}"
        customer = Customer(debtor_number=f"DEB-{tag}", name=name or f"Customer {tag}")
        self.session.add(customer)
        self.session.flush()
        return customer

    def member(self, customer: Customer | None, user: User | None = None) -> Member:
        tag = f"{next(_sequence)}-{uuid.uuid4().hex[:6]}"
        member = Member(
            member_id=f"Assoc-Member-2026-01-{tag}",
            first_name="Jan",
            last_name=f"Lid {tag}",
            email=f"lid{tag}@example.org",
            customer_id=customer.id if customer else None,
            user_id=user.id if user else None,
        )
        self.session.add(member)
        self.session.flush()
        return member

    def invoice(
        self,
        customer: Customer,
        amount: str | Decimal = "100.00",
        *,
        submit: bool = True,
        member: Member | None = None,
        posting_date: dt.date | None = None,
        due_date: dt.date | None = None,
    ) -> Invoice:
        invoice = create_invoice(
            self.session,
            self.user,
            InvoiceCreate(
                customer_id=customer.id,
                member_id=member.id if member else None,
                posting_date=posting_date,
                due_date=due_date,
                lines=[InvoiceLineIn(description="Contributie", rate=Decimal(str(amount)))],
            ),
        )
        if submit:
            invoice = submit_invoice(self.session, self.user, invoice.id)
        return invoice

    def payment(
        self,
        customer: Customer,
        amount: str | Decimal,
        allocations: list[tuple[Invoice, str | Decimal]] | None = None,
        *,
        submit: bool = True,
        **fields: Any,
    ) -> Payment:
        payment = create_payment(
            self.session,
            self.user,
            PaymentCreate(
                customer_id=customer.id,
                paid_amount=Decimal(str(amount)),
                allocations=None
                if allocations is None
                else [
                    AllocationIn(invoice_id=invoice.id, allocated_amount=Decimal(str(share)))
                    for invoice, share in allocations
                ],
                **fields,
            ),
        )
        if submit:
            payment = submit_payment(self.session, self.user, payment.id)
        return payment

    def credit_note(
        self, invoice: Invoice, amount: str | Decimal | None = None, reason: str = "Correctie"
    ) -> Invoice:
        return create_credit_note(
            self.session,
            self.user,
            invoice.id,
            CreditNoteCreate(
                amount=None if amount is None else Decimal(str(amount)),
                reason=reason,
            ),
        )


def ledger_snapshot(session: Session) -> dict[str, Any]:
    """Everything a failed operation must leave as it was."""
    return {
        "invoices": session.execute(
            select(
                Invoice.id,
                Invoice.docstatus,
                Invoice.status,
                Invoice.outstanding_amount,
                Invoice.grand_total,
            ).order_by(Invoice.id)
        ).all(),
        "payments": session.execute(
            select(Payment.id, Payment.docstatus, Payment.unallocated_amount).order_by(Payment.id)
        ).all(),
        "allocations": session.execute(
            select(
                PaymentAllocation.payment_id,
                PaymentAllocation.invoice_id,
                PaymentAllocation.allocated_amount,
            ).order_by(PaymentAllocation.id)
        ).all(),
        "audit_events": session.scalar(select(func.count()).select_from(AuditEvent)),
        "series": session.execute(
            select(NamingSeries.prefix, NamingSeries.current).order_by(NamingSeries.prefix)
        ).all(),
    }

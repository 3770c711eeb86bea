"""Cancelling many payments at once: the invoices owe again, drafts and cancelled ones handled,
an unknown payment refuses all, and the statements do not grow with the number of payments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billing_factories import LedgerFactory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import AuditEvent, DocStatus, Invoice, InvoiceStatus, Payment
from verenigingen.billing.service.bulk_cancellations import cancel_payments
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.errors import NotFound, PermissionDenied
from verenigingen.perf.capture import capture


@pytest.fixture
def ledger(session: Session, treasurer: User) -> LedgerFactory:
    return LedgerFactory(session, treasurer)


def paid_invoices(ledger: LedgerFactory, count: int) -> list[tuple[Invoice, Payment]]:
    pairs = []
    for _ in range(count):
        customer = ledger.customer()
        ledger.member(customer)
        invoice = ledger.invoice(customer, "30.00")
        pairs.append((invoice, ledger.payment(customer, "30.00", [(invoice, "30.00")])))
    return pairs


def test_each_invoice_owes_again_and_every_payment_is_audited(
    session: Session, ledger: LedgerFactory, treasurer: User
) -> None:
    pairs = paid_invoices(ledger, 3)
    customer = ledger.customer()
    draft = ledger.payment(customer, "5.00", [], submit=False)
    gone = pairs[2][1]
    cancel_payment(session, treasurer, gone.id)
    audits = session.scalar(select(func.count(AuditEvent.id))) or 0
    ids = [payment.id for _, payment in pairs] + [draft.id]
    cancelled = cancel_payments(session, treasurer, ids)
    assert cancelled == sorted([pairs[0][1].id, pairs[1][1].id, draft.id])  # not the gone one
    session.expire_all()
    invoices = [session.get_one(Invoice, invoice.id) for invoice, _ in pairs]
    assert [(i.status, i.outstanding_amount) for i in invoices] == [
        (InvoiceStatus.UNPAID, Decimal("30.00"))
    ] * 3
    assert {session.get_one(Payment, i).docstatus for i in ids} == {DocStatus.CANCELLED}
    # Two submitted payments: a reversal and a cancellation each; the draft: its cancellation.
    assert (session.scalar(select(func.count(AuditEvent.id))) or 0) - audits == 5


def test_an_unknown_payment_refuses_all_and_a_member_may_not(
    session: Session, ledger: LedgerFactory, treasurer: User, member_user: User
) -> None:
    ((invoice, payment),) = paid_invoices(ledger, 1)
    with pytest.raises(NotFound, match="payment 999999"):
        cancel_payments(session, treasurer, [payment.id, 999999])
    with pytest.raises(PermissionDenied):
        cancel_payments(session, member_user, [payment.id])
    session.expire_all()
    assert session.get_one(Invoice, invoice.id).status == InvoiceStatus.PAID
    assert cancel_payments(session, treasurer, []) == []


def test_the_statements_do_not_grow_with_the_payments(
    session: Session, ledger: LedgerFactory, treasurer: User
) -> None:
    few = [payment.id for _, payment in paid_invoices(ledger, 2)]
    many = [payment.id for _, payment in paid_invoices(ledger, 8)]
    with capture() as small:
        cancel_payments(session, treasurer, few)
    with capture() as large:
        cancel_payments(session, treasurer, many)
    assert large.count == small.count

"""The whole ledger flow on SQLite, PostgreSQL and MariaDB: every query the services send runs."""

from __future__ import annotations

import datetime as dt

import pytest
from billing_factories import D, LedgerFactory
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing import queries
from verenigingen.billing.errors import InvoiceStillSettled
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus
from verenigingen.billing.service.invoices import cancel_invoice, refresh_overdue
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.db.paging import PageRequest


def _reload(session: Session, invoice: Invoice) -> Invoice:
    session.expire_all()
    return session.get_one(Invoice, invoice.id)


def test_ledger_flow(any_session: Session) -> None:
    session = any_session
    treasurer = create_user(session, "kas@example.org", Role.TREASURER)
    ledger = LedgerFactory(session, treasurer)
    customer = ledger.customer()
    member = ledger.member(customer)
    first = ledger.invoice(customer, "100.00", member=member, due_date=dt.date(2026, 3, 10))
    second = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 3, 20))

    note = ledger.credit_note(first, "25.00")
    payment = ledger.payment(customer, "100.00")  # oldest first: 75.00 + 25.00
    assert [(a.invoice_id, a.allocated_amount) for a in payment.allocations] == [
        (first.id, D("75.00")),
        (second.id, D("25.00")),
    ]
    assert _reload(session, first).status == InvoiceStatus.CREDIT_NOTE_ISSUED
    assert _reload(session, second).status == InvoiceStatus.PARTLY_PAID

    with pytest.raises(InvoiceStillSettled, match="cancel those first"):
        cancel_invoice(session, treasurer, first.id)

    with clock.frozen(dt.date(2026, 3, 15)):
        cancel_payment(session, treasurer, payment.id)
    # The restored statuses follow the rule on the day of the cancellation.
    assert _reload(session, first).status == InvoiceStatus.OVERDUE
    assert _reload(session, second).status == InvoiceStatus.UNPAID
    with clock.frozen(dt.date(2026, 3, 25)):
        # The server databases live for the whole test session and hold invoices that other
        # tests committed (the concurrency races), so only a lower bound holds here; the exact
        # count is checked on SQLite in test_billing_invoices.
        assert refresh_overdue(session) >= 1
    assert _reload(session, second).status == InvoiceStatus.OVERDUE
    assert _reload(session, first).outstanding_amount == D("75.00")

    cancel_invoice(session, treasurer, note.id)
    assert _reload(session, first).outstanding_amount == D("100.00")
    assert cancel_invoice(session, treasurer, first.id).docstatus == DocStatus.CANCELLED

    page = queries.list_invoices(
        session, treasurer, customer_id=customer.id, page=PageRequest(2, count=True)
    )
    assert (page.total, len(page.items), all(item.lines for item in page.items)) == (3, 2, True)
    payments = queries.list_payments(session, treasurer, customer_id=customer.id).items
    assert [len(p.allocations) for p in payments] == [2]

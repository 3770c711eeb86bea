import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.errors import (
    AllocationExceedsOutstanding,
    AllocationsExceedPaidAmount,
    AllocationToAnotherCustomer,
    InvoiceNotSubmitted,
)
from verenigingen.billing.models import (
    AuditEvent,
    DocStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
from verenigingen.errors import AmountTooPrecise, NotFound, PermissionDenied
from verenigingen.members.models import Customer
from verenigingen.perf.capture import capture

TODAY = dt.date(2026, 3, 1)


def _customer(session: Session, number: int) -> Customer:
    customer = Customer(debtor_number=f"BULK-{number}", name=f"Klant {number}")
    session.add(customer)
    session.flush()
    return customer


def _invoice(
    session: Session, customer: Customer, total: str, *, docstatus: int = 1, due: dt.date = TODAY
) -> Invoice:
    invoice = Invoice(
        number=f"T-{customer.id}-{session.scalar(select(func.count(Invoice.id)))}",
        customer_id=customer.id,
        posting_date=TODAY - dt.timedelta(days=20),
        due_date=due,
        grand_total=Decimal(total),
        outstanding_amount=Decimal(total),
        status=InvoiceStatus.UNPAID if docstatus == 1 else InvoiceStatus.DRAFT,
        docstatus=docstatus,
    )
    session.add(invoice)
    session.flush()
    return invoice


def _counts(session: Session) -> tuple[int | None, int | None, int | None]:
    return (
        session.scalar(select(func.count(Payment.id))),
        session.scalar(select(func.count(PaymentAllocation.id))),
        session.scalar(select(func.count(AuditEvent.id))),
    )


def test_records_payments_allocations_status_and_audit(session: Session, treasurer: User) -> None:
    customer = _customer(session, 1)
    first = _invoice(session, customer, "30.00")
    second = _invoice(session, customer, "20.00", due=TODAY - dt.timedelta(days=1))
    ids = record_payments(
        session,
        treasurer,
        [
            ReceivedPayment(
                customer.id,
                TODAY,
                Decimal("40.00"),
                allocations=[(first.id, Decimal("30.00")), (second.id, Decimal("5.00"))],
            ),
            ReceivedPayment(customer.id, TODAY, Decimal("10.00")),
        ],
    )
    session.expire_all()
    assert [
        p.unallocated_amount
        for p in session.scalars(select(Payment).where(Payment.id.in_(ids)).order_by(Payment.id))
    ] == [Decimal("5.00"), Decimal("10.00")]
    assert (first.outstanding_amount, first.status) == (Decimal("0.00"), InvoiceStatus.PAID)
    assert (second.outstanding_amount, second.status) == (Decimal("15.00"), InvoiceStatus.OVERDUE)
    assert session.scalars(select(AuditEvent.event)).all() == ["payment.submitted"] * 2


def test_batch_takes_the_same_statements_at_any_size(session: Session, treasurer: User) -> None:
    def run(size: int) -> int:
        customer = _customer(session, 100 + size)
        invoices = [_invoice(session, customer, "12.50") for _ in range(size)]
        payments = [
            ReceivedPayment(
                customer.id, TODAY, Decimal("12.50"), allocations=[(inv.id, Decimal("12.50"))]
            )
            for inv in invoices
        ]
        with capture() as log:
            record_payments(session, treasurer, payments)
        return log.count

    run(1)  # the first payment of the year creates its naming series
    # lock, credit-note check, naming series (read, update), payments, allocations,
    # invoice updates (one executemany), audit; the history pipeline: the customers' members,
    # one tag bump, one INSERT of the jobs (here only analytics: the customer has no members)
    assert run(3) == run(60) == 11


@pytest.mark.parametrize(
    ("allocation", "error", "message"),
    [
        ("unknown", NotFound, "does not exist"),
        ("other_customer", AllocationToAnotherCustomer, "another customer"),
        ("draft", InvoiceNotSubmitted, "is a draft"),
        ("too_much", AllocationExceedsOutstanding, "exceeds its outstanding amount 20.00"),
        ("three_decimals", AmountTooPrecise, "at most two decimals"),
        ("over_paid", AllocationsExceedPaidAmount, "exceed the paid amount"),
    ],
)
def test_bad_allocations_write_nothing(
    session: Session, treasurer: User, allocation: str, error: type[Exception], message: str
) -> None:
    customer, other = _customer(session, 2), _customer(session, 3)
    open_invoice = _invoice(session, customer, "25.00")
    target, amount, paid = {
        "unknown": (999_999, Decimal("1.00"), Decimal("1.00")),
        "other_customer": (_invoice(session, other, "25.00").id, Decimal("1.00"), Decimal("1.00")),
        "draft": (
            _invoice(session, customer, "25.00", docstatus=DocStatus.DRAFT).id,
            Decimal("1.00"),
            Decimal("1.00"),
        ),
        "too_much": (open_invoice.id, Decimal("25.01"), Decimal("30.00")),
        "three_decimals": (open_invoice.id, Decimal("1.005"), Decimal("2.00")),
        "over_paid": (open_invoice.id, Decimal("20.00"), Decimal("10.00")),
    }[allocation]
    before = _counts(session)
    good = ReceivedPayment(
        customer.id, TODAY, Decimal("5.00"), allocations=[(open_invoice.id, Decimal("5.00"))]
    )
    bad = ReceivedPayment(customer.id, TODAY, paid, allocations=[(target, amount)])
    with pytest.raises(error, match=message):
        record_payments(session, treasurer, [good, bad])
    session.expire_all()
    assert _counts(session) == before
    assert session.get(Invoice, open_invoice.id).outstanding_amount == Decimal("25.00")


def test_members_may_not_record_payments(session: Session, member_user: User) -> None:
    with pytest.raises(PermissionDenied):
        record_payments(session, member_user, [])


def test_bulk_recording_on_every_engine(any_session: Session, treasurer: User) -> None:
    customer = _customer(any_session, 7)
    invoices = [_invoice(any_session, customer, "10.00") for _ in range(4)]
    payments = [
        ReceivedPayment(
            customer.id,
            TODAY,
            Decimal("10.00"),
            reference_no=f"R{i}",
            allocations=[(invoice.id, Decimal("10.00"))],
        )
        for i, invoice in enumerate(invoices)
    ]
    ids = record_payments(any_session, treasurer, payments)
    any_session.expire_all()
    rows = any_session.execute(
        select(Payment.reference_no, PaymentAllocation.invoice_id)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(Payment.id.in_(ids))
        .order_by(Payment.id)
    ).all()
    # Each returned id belongs to the payment at the same position, whatever order RETURNING gave.
    assert [tuple(row) for row in rows] == [(f"R{i}", inv.id) for i, inv in enumerate(invoices)]
    assert {inv.status for inv in invoices} == {InvoiceStatus.PAID}

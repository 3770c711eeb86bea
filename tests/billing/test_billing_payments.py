"""Payments: explicit and oldest-first allocations, submit, cancel, refusals that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from billing_factories import D, LedgerFactory, ledger_snapshot
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.errors import (
    AllocationExceedsOutstanding,
    AllocationsExceedPaidAmount,
    AllocationToAnotherCustomer,
    AllocationToCreditNote,
    InvoiceAllocatedTwice,
    InvoiceNotSubmitted,
    PaymentAlreadyCancelled,
    PaymentNotDraft,
    PaymentTypeCannotSettle,
)
from verenigingen.billing.models import (
    AuditEvent,
    DocStatus,
    Invoice,
    InvoiceStatus,
    ModeOfPayment,
    PaymentType,
)
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.invoices import cancel_invoice
from verenigingen.billing.service.payments import cancel_payment, create_payment, submit_payment
from verenigingen.errors import (
    AmountNotANumber,
    AmountNotFinite,
    AmountNotPositive,
    AmountTooPrecise,
    DomainError,
    NotFound,
    PermissionDenied,
)


def _reload(session: Session, invoice: Invoice) -> Invoice:
    session.expire_all()
    reloaded = session.get(Invoice, invoice.id)
    assert reloaded is not None
    return reloaded


def test_draft_payment_plans_allocations_without_touching_invoices(
    session: Session, ledger: LedgerFactory, frozen_today: dt.date
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")

    payment = ledger.payment(
        customer,
        "60.00",
        [(invoice, "45.00")],
        submit=False,
        mode_of_payment=ModeOfPayment.IDEAL,
        reference_no="iDEAL-1",
    )

    assert payment.number == f"ACC-PAY-{frozen_today.year}-00001"
    assert (payment.docstatus, payment.paid_amount, payment.unallocated_amount) == (
        DocStatus.DRAFT,
        D("60.00"),
        D("15.00"),
    )
    assert (payment.mode_of_payment, payment.payment_type) == ("iDEAL", "Receive")
    assert [(a.invoice_id, a.allocated_amount) for a in payment.allocations] == [
        (invoice.id, D("45.00"))
    ]
    reloaded = _reload(session, invoice)
    assert (reloaded.outstanding_amount, reloaded.status) == (D("100.00"), InvoiceStatus.UNPAID)


def test_submit_payment_settles_invoices_and_audits(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    first = ledger.invoice(customer, "100.00")
    second = ledger.invoice(customer, "30.00")
    payment = ledger.payment(customer, "70.00", [(first, "40.00"), (second, "30.00")], submit=False)

    submitted = submit_payment(session, treasurer, payment.id)

    assert submitted.docstatus == DocStatus.SUBMITTED
    assert submitted.unallocated_amount == D("0.00")
    first, second = _reload(session, first), _reload(session, second)
    assert (first.outstanding_amount, first.status) == (D("60.00"), InvoiceStatus.PARTLY_PAID)
    assert (second.outstanding_amount, second.status) == (D("0.00"), InvoiceStatus.PAID)
    events = session.execute(
        select(AuditEvent.event, AuditEvent.entity_id, AuditEvent.amount)
        .where(AuditEvent.event.in_(["payment.submitted", "allocation.applied"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [tuple(event) for event in events] == [
        ("payment.submitted", payment.id, D("70.00")),
        ("allocation.applied", first.id, D("40.00")),
        ("allocation.applied", second.id, D("30.00")),
    ]


def test_automatic_allocation_settles_oldest_due_first(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    due_10 = ledger.invoice(customer, "100.00", due_date=dt.date(2026, 3, 10))
    due_5 = ledger.invoice(customer, "100.00", due_date=dt.date(2026, 3, 5))
    due_20 = ledger.invoice(customer, "100.00", due_date=dt.date(2026, 3, 20))
    ledger.invoice(customer, "100.00", submit=False, due_date=dt.date(2026, 3, 3))  # a draft
    others = ledger.invoice(ledger.customer(), "100.00", due_date=dt.date(2026, 3, 3))

    payment = ledger.payment(customer, "250.00")

    assert [(a.invoice_id, a.allocated_amount) for a in payment.allocations] == [
        (due_5.id, D("100.00")),
        (due_10.id, D("100.00")),
        (due_20.id, D("50.00")),
    ]
    assert payment.unallocated_amount == D("0.00")
    assert _reload(session, due_20).status == InvoiceStatus.PARTLY_PAID
    assert _reload(session, others).outstanding_amount == D("100.00")


def test_automatic_allocation_keeps_the_surplus_unallocated(ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "80.00")
    payment = ledger.payment(customer, "100.00")
    assert [(a.invoice_id, a.allocated_amount) for a in payment.allocations] == [
        (invoice.id, D("80.00"))
    ]
    assert payment.unallocated_amount == D("20.00")


def test_empty_allocations_keep_the_whole_payment_unallocated(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "80.00")
    payment = ledger.payment(customer, "50.00", [])
    assert (payment.allocations, payment.unallocated_amount) == ([], D("50.00"))
    assert _reload(session, invoice).outstanding_amount == D("80.00")


def test_payment_after_a_credit_note_shows_credit_note_issued(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    ledger.credit_note(invoice, "40.00")
    ledger.payment(customer, "60.00", [(invoice, "60.00")])
    reloaded = _reload(session, invoice)
    assert (reloaded.outstanding_amount, reloaded.status) == (
        D("0.00"),
        InvoiceStatus.CREDIT_NOTE_ISSUED,
    )


class TestRefusedAllocations:
    """Each refusal raises its domain error and leaves every row as it was."""

    @pytest.fixture
    def setup(self, ledger: LedgerFactory) -> dict[str, object]:
        customer = ledger.customer()
        open_invoice = ledger.invoice(customer, "100.00")
        cancelled = ledger.invoice(customer, "100.00")
        cancel_invoice(ledger.session, ledger.user, cancelled.id)
        credited = ledger.invoice(customer, "100.00")
        return {
            "customer": customer,
            "open": open_invoice,
            "draft": ledger.invoice(customer, "100.00", submit=False),
            "cancelled": cancelled,
            "return": ledger.credit_note(credited, "10.00"),
            "foreign": ledger.invoice(ledger.customer(), "100.00"),
        }

    @pytest.mark.parametrize(
        ("target", "paid", "allocated", "error", "message"),
        [
            ("open", "150.00", "120.00", AllocationExceedsOutstanding, "exceeds its outstanding"),
            ("open", "50.00", "60.00", AllocationsExceedPaidAmount, "more than the paid amount"),
            ("draft", "50.00", "50.00", InvoiceNotSubmitted, "is a draft"),
            ("cancelled", "50.00", "50.00", InvoiceNotSubmitted, "is cancelled"),
            ("return", "5.00", "5.00", AllocationToCreditNote, "is a credit note"),
            ("foreign", "50.00", "50.00", AllocationToAnotherCustomer, "another customer"),
        ],
    )
    def test_refused(
        self,
        session: Session,
        treasurer: User,
        setup: dict[str, object],
        target: str,
        paid: str,
        allocated: str,
        error: type[Exception],
        message: str,
    ) -> None:
        customer, invoice = setup["customer"], setup[target]
        assert isinstance(invoice, Invoice)
        before = ledger_snapshot(session)
        with pytest.raises(error, match=message):
            create_payment(
                session,
                treasurer,
                PaymentCreate(
                    customer_id=customer.id,  # type: ignore[attr-defined]
                    paid_amount=D(paid),
                    allocations=[
                        AllocationIn(invoice_id=invoice.id, allocated_amount=D(allocated))
                    ],
                ),
            )
        assert ledger_snapshot(session) == before

    def test_unknown_invoice_is_not_found(
        self, session: Session, treasurer: User, setup: dict[str, object]
    ) -> None:
        before = ledger_snapshot(session)
        with pytest.raises(NotFound, match="invoice 987654"):
            create_payment(
                session,
                treasurer,
                PaymentCreate(
                    customer_id=setup["customer"].id,  # type: ignore[attr-defined]
                    paid_amount=D(10),
                    allocations=[AllocationIn(invoice_id=987_654, allocated_amount=D(10))],
                ),
            )
        assert ledger_snapshot(session) == before

    def test_same_invoice_twice_is_refused(
        self, session: Session, treasurer: User, setup: dict[str, object]
    ) -> None:
        invoice = setup["open"]
        assert isinstance(invoice, Invoice)
        before = ledger_snapshot(session)
        with pytest.raises(InvoiceAllocatedTwice, match="only once"):
            create_payment(
                session,
                treasurer,
                PaymentCreate(
                    customer_id=invoice.customer_id,
                    paid_amount=D(20),
                    allocations=[
                        AllocationIn(invoice_id=invoice.id, allocated_amount=D(10)),
                        AllocationIn(invoice_id=invoice.id, allocated_amount=D(10)),
                    ],
                ),
            )
        assert ledger_snapshot(session) == before

    def test_pay_type_cannot_settle_invoices(
        self, session: Session, treasurer: User, setup: dict[str, object]
    ) -> None:
        invoice = setup["open"]
        assert isinstance(invoice, Invoice)
        before = ledger_snapshot(session)
        with pytest.raises(PaymentTypeCannotSettle, match="Pay payment cannot settle"):
            create_payment(
                session,
                treasurer,
                PaymentCreate(
                    customer_id=invoice.customer_id,
                    paid_amount=D(20),
                    payment_type=PaymentType.PAY,
                    allocations=[AllocationIn(invoice_id=invoice.id, allocated_amount=D(10))],
                ),
            )
        assert ledger_snapshot(session) == before


def test_unknown_customer_is_not_found(session: Session, treasurer: User) -> None:
    before = ledger_snapshot(session)
    with pytest.raises(NotFound, match="customer 31337"):
        create_payment(session, treasurer, PaymentCreate(customer_id=31337, paid_amount=D(5)))
    assert ledger_snapshot(session) == before


@pytest.mark.parametrize(
    ("amount", "error", "message"),
    [
        ("-10", AmountNotPositive, "greater than zero"),
        (-10, AmountNotPositive, "greater than zero"),
        ("0", AmountNotPositive, "greater than zero"),
        ("10.005", AmountTooPrecise, "at most two decimals"),
        (10.005, AmountTooPrecise, "at most two decimals"),
        ("ten", AmountNotANumber, "must be a number"),
        (True, AmountNotANumber, "must be a number"),
        (float("nan"), AmountNotFinite, "finite"),
        (float("inf"), AmountNotFinite, "finite"),
        ("NaN", AmountNotANumber, "such as 12.50"),
    ],
)
def test_bad_paid_amounts_are_refused(
    amount: object, error: type[DomainError], message: str
) -> None:
    with pytest.raises(error, match=f"paid_amount.*{message}|{message}"):
        PaymentCreate.model_validate({"customer_id": 1, "paid_amount": amount})


def test_bad_allocated_amounts_are_refused() -> None:
    with pytest.raises(AmountTooPrecise, match="allocated_amount must have at most two decimals"):
        AllocationIn.model_validate({"invoice_id": 1, "allocated_amount": "1.234"})


def test_float_amounts_with_two_decimals_are_exact() -> None:
    assert PaymentCreate.model_validate({"customer_id": 1, "paid_amount": 10.1}).paid_amount == D(
        "10.10"
    )


def test_submit_twice_and_cancel_twice_conflict(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    payment = ledger.payment(customer, "40.00", [(invoice, "40.00")])
    before = ledger_snapshot(session)
    with pytest.raises(PaymentNotDraft, match="already submitted"):
        submit_payment(session, treasurer, payment.id)
    assert ledger_snapshot(session) == before

    cancel_payment(session, treasurer, payment.id)
    before = ledger_snapshot(session)
    with pytest.raises(PaymentAlreadyCancelled, match="already cancelled"):
        cancel_payment(session, treasurer, payment.id)
    with pytest.raises(PaymentNotDraft, match="already cancelled"):
        submit_payment(session, treasurer, payment.id)
    assert ledger_snapshot(session) == before


def test_unknown_payment_is_not_found(session: Session, treasurer: User) -> None:
    with pytest.raises(NotFound):
        submit_payment(session, treasurer, 55_555)
    with pytest.raises(NotFound):
        cancel_payment(session, treasurer, 55_555)


def test_stale_draft_is_refused_at_submit(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    first = ledger.payment(customer, "80.00", [(invoice, "80.00")], submit=False)
    second = ledger.payment(customer, "80.00", [(invoice, "80.00")], submit=False)
    submit_payment(session, treasurer, first.id)
    before = ledger_snapshot(session)

    with pytest.raises(
        AllocationExceedsOutstanding, match=r"exceeds its outstanding amount 20\.00"
    ):
        submit_payment(session, treasurer, second.id)

    assert ledger_snapshot(session) == before
    assert _reload(session, invoice).outstanding_amount == D("20.00")


def test_draft_allocated_to_an_invoice_cancelled_since_is_refused(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    draft = ledger.payment(customer, "50.00", [(invoice, "50.00")], submit=False)
    cancel_invoice(session, treasurer, invoice.id)
    before = ledger_snapshot(session)
    with pytest.raises(InvoiceNotSubmitted, match="is cancelled"):
        submit_payment(session, treasurer, draft.id)
    assert ledger_snapshot(session) == before


def test_cancel_submitted_payment_restores_outstanding_and_status(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    paid = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 3, 10))
    partly = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 4, 10))
    payment = ledger.payment(customer, "70.00", [(paid, "50.00"), (partly, "20.00")])
    assert _reload(session, paid).status == InvoiceStatus.PAID

    # After the due date the restored invoice is Overdue, not Unpaid: status follows the rule.
    with clock.frozen(dt.date(2026, 3, 20)):
        cancelled = cancel_payment(session, treasurer, payment.id)

    assert cancelled.docstatus == DocStatus.CANCELLED
    paid, partly = _reload(session, paid), _reload(session, partly)
    assert (paid.outstanding_amount, paid.status) == (D("50.00"), InvoiceStatus.OVERDUE)
    assert (partly.outstanding_amount, partly.status) == (D("50.00"), InvoiceStatus.UNPAID)
    reversed_events = session.scalars(
        select(AuditEvent.amount)
        .where(AuditEvent.event == "allocation.reversed")
        .order_by(AuditEvent.amount)
    ).all()
    assert reversed_events == [D("20.00"), D("50.00")]
    assert session.scalar(
        select(AuditEvent.amount).where(AuditEvent.event == "payment.cancelled")
    ) == D("70.00")


def test_cancel_draft_payment_touches_no_invoice(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    draft = ledger.payment(customer, "40.00", [(invoice, "40.00")], submit=False)
    cancelled = cancel_payment(session, treasurer, draft.id)
    assert cancelled.docstatus == DocStatus.CANCELLED
    assert _reload(session, invoice).outstanding_amount == D("100.00")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MEMBERSHIP_SECRETARY])
def test_only_billing_writers_record_payments(
    session: Session, ledger: LedgerFactory, role: Role
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    draft = ledger.payment(customer, "40.00", [(invoice, "40.00")], submit=False)
    reader = create_user(session, "lezer@example.org", role)
    before = ledger_snapshot(session)
    with pytest.raises(PermissionDenied):
        create_payment(session, reader, PaymentCreate(customer_id=customer.id, paid_amount=D(5)))
    with pytest.raises(PermissionDenied):
        submit_payment(session, reader, draft.id)
    with pytest.raises(PermissionDenied):
        cancel_payment(session, reader, draft.id)
    assert ledger_snapshot(session) == before

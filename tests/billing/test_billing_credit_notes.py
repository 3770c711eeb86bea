"""Credit notes: negative returns that lower what the original owes, and their cancellation."""

from __future__ import annotations

import pytest
from billing_factories import D, LedgerFactory, ledger_snapshot
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.errors import (
    CreditExceedsOutstanding,
    CreditNoteNotCreditable,
    InvoiceAlreadyCancelled,
    InvoiceNotSubmitted,
    NothingOutstandingToCredit,
)
from verenigingen.billing.models import AuditEvent, DocStatus, Invoice, InvoiceStatus
from verenigingen.billing.schemas import CreditNoteCreate
from verenigingen.billing.service.credit_notes import create_credit_note
from verenigingen.billing.service.invoices import cancel_invoice
from verenigingen.errors import AmountNotPositive, AmountTooPrecise, DomainError, NotFound


def _reload(session: Session, invoice: Invoice) -> Invoice:
    session.expire_all()
    reloaded = session.get(Invoice, invoice.id)
    assert reloaded is not None
    return reloaded


def test_full_credit_note_settles_the_original(session: Session, ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = ledger.invoice(customer, "100.00", member=member)

    credit_note = ledger.credit_note(invoice, reason="Lid overleden")

    assert credit_note.is_return
    assert credit_note.return_against_id == invoice.id
    assert (credit_note.grand_total, credit_note.outstanding_amount) == (D("-100.00"), D("0.00"))
    assert (credit_note.docstatus, credit_note.status) == (
        DocStatus.SUBMITTED,
        InvoiceStatus.RETURN,
    )
    assert (credit_note.customer_id, credit_note.member_id) == (customer.id, member.id)
    assert credit_note.remarks == "Lid overleden"
    assert [(line.quantity, line.rate, line.amount) for line in credit_note.lines] == [
        (D("-1.00"), D("100.00"), D("-100.00"))
    ]
    original = _reload(session, invoice)
    assert (original.outstanding_amount, original.status) == (
        D("0.00"),
        InvoiceStatus.CREDIT_NOTE_ISSUED,
    )
    event = session.scalar(select(AuditEvent).where(AuditEvent.event == "credit_note.submitted"))
    assert event is not None
    assert (event.entity_id, event.amount) == (credit_note.id, D("-100.00"))


def test_partial_credit_note_lowers_outstanding(session: Session, ledger: LedgerFactory) -> None:
    invoice = ledger.invoice(ledger.customer(), "100.00")
    ledger.credit_note(invoice, "30.00")
    original = _reload(session, invoice)
    assert (original.outstanding_amount, original.status) == (D("70.00"), InvoiceStatus.PARTLY_PAID)


def test_credit_note_for_the_rest_after_a_payment(session: Session, ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    ledger.payment(customer, "60.00", [(invoice, "60.00")])
    credit_note = ledger.credit_note(invoice)
    assert credit_note.grand_total == D("-40.00")
    assert _reload(session, invoice).status == InvoiceStatus.CREDIT_NOTE_ISSUED


def test_credit_note_larger_than_outstanding_is_refused(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    ledger.payment(customer, "70.00", [(invoice, "70.00")])
    before = ledger_snapshot(session)
    with pytest.raises(CreditExceedsOutstanding, match=r"exceeds the outstanding amount 30\.00"):
        create_credit_note(
            session, treasurer, invoice.id, CreditNoteCreate(amount=D("30.01"), reason="x")
        )
    assert ledger_snapshot(session) == before


def test_nothing_outstanding_is_a_conflict(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    ledger.payment(customer, "100.00", [(invoice, "100.00")])
    before = ledger_snapshot(session)
    with pytest.raises(NothingOutstandingToCredit, match="nothing outstanding"):
        create_credit_note(session, treasurer, invoice.id, CreditNoteCreate(reason="x"))
    assert ledger_snapshot(session) == before


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("draft", InvoiceNotSubmitted, "is a draft"),
        ("cancelled", InvoiceNotSubmitted, "is cancelled"),
        ("return", CreditNoteNotCreditable, "is a credit note"),
    ],
)
def test_only_submitted_invoices_can_be_credited(
    session: Session,
    treasurer: User,
    ledger: LedgerFactory,
    target: str,
    error: type[DomainError],
    message: str,
) -> None:
    customer = ledger.customer()
    if target == "draft":
        invoice = ledger.invoice(customer, submit=False)
    elif target == "cancelled":
        invoice = cancel_invoice(session, treasurer, ledger.invoice(customer).id)
    else:
        invoice = ledger.credit_note(ledger.invoice(customer), "5.00")
    before = ledger_snapshot(session)
    with pytest.raises(error, match=message):
        create_credit_note(session, treasurer, invoice.id, CreditNoteCreate(reason="x"))
    assert ledger_snapshot(session) == before


def test_unknown_invoice_is_not_found(session: Session, treasurer: User) -> None:
    with pytest.raises(NotFound):
        create_credit_note(session, treasurer, 777_777, CreditNoteCreate(reason="x"))


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"amount": "-1", "reason": "x"}, AmountNotPositive, "greater than zero"),
        ({"amount": "1.001", "reason": "x"}, AmountTooPrecise, "at most two decimals"),
    ],
)
def test_bad_credit_amounts_are_refused(
    body: dict[str, object], error: type[DomainError], message: str
) -> None:
    with pytest.raises(error, match=message):
        CreditNoteCreate.model_validate(body)


def test_explicit_null_amount_means_everything() -> None:
    assert CreditNoteCreate.model_validate({"amount": None, "reason": "x"}).amount is None


def test_cancelling_a_credit_note_restores_the_original(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    invoice = ledger.invoice(ledger.customer(), "100.00")
    first = ledger.credit_note(invoice, "30.00")
    second = ledger.credit_note(invoice, "70.00")
    assert _reload(session, invoice).status == InvoiceStatus.CREDIT_NOTE_ISSUED

    cancelled = cancel_invoice(session, treasurer, second.id)
    assert (cancelled.docstatus, cancelled.status) == (DocStatus.CANCELLED, InvoiceStatus.CANCELLED)
    original = _reload(session, invoice)
    assert (original.outstanding_amount, original.status) == (D("70.00"), InvoiceStatus.PARTLY_PAID)

    cancel_invoice(session, treasurer, first.id)
    original = _reload(session, invoice)
    assert (original.outstanding_amount, original.status) == (D("100.00"), InvoiceStatus.UNPAID)
    assert session.scalar(
        select(AuditEvent.amount).where(
            AuditEvent.event == "credit_note.cancelled", AuditEvent.entity_id == first.id
        )
    ) == D("-30.00")

    before = ledger_snapshot(session)
    with pytest.raises(InvoiceAlreadyCancelled, match="already cancelled"):
        cancel_invoice(session, treasurer, first.id)
    assert ledger_snapshot(session) == before

    # With every credit note cancelled, the original may be cancelled too.
    assert cancel_invoice(session, treasurer, invoice.id).status == InvoiceStatus.CANCELLED


def test_cancelled_credit_note_reopens_an_invoice_settled_by_payment_and_credit(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    first = ledger.credit_note(invoice, "10.00")
    ledger.credit_note(invoice, "10.00")
    ledger.payment(customer, "80.00", [(invoice, "80.00")])
    assert _reload(session, invoice).status == InvoiceStatus.CREDIT_NOTE_ISSUED
    cancel_invoice(session, treasurer, first.id)
    original = _reload(session, invoice)
    assert (original.outstanding_amount, original.status) == (D("10.00"), InvoiceStatus.PARTLY_PAID)

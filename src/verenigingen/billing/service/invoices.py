"""Invoices: create a draft, submit it (now it is owed), cancel it, age open ones to Overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_event
from verenigingen.billing.errors import (
    CoverageEndBeforeStart,
    DueDateBeforePostingDate,
    InvoiceAlreadyCancelled,
    InvoiceNotDraft,
    InvoiceStillSettled,
    InvoiceTotalNotPositive,
    MemberNotBilledToCustomer,
    OutstandingExceedsTotal,
)
from verenigingen.billing.events import (
    CreditNoteCancelled,
    InvoiceCancelled,
    InvoicesTurnedOverdue,
    InvoiceSubmitted,
)
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from verenigingen.billing.numbering import next_invoice_numbers
from verenigingen.billing.schemas import InvoiceCreate
from verenigingen.billing.service.allocation import (
    OPEN_STATUSES,
    describe,
    lock_invoice,
    refresh_status,
)
from verenigingen.errors import AmountTooLarge, NotFound
from verenigingen.members.models import Customer, Member
from verenigingen.money import MAX_AMOUNT, ZERO, round_money

PAYMENT_TERM_DAYS = 14
"""Default days between posting and due date: the customary term for Dutch consumer invoices."""


def create_invoice(session: Session, user: User, data: InvoiceCreate) -> Invoice:
    """Create a Draft invoice with its lines; nothing is owed until it is submitted.

    The customer must exist (404); a member, when given, must exist and be paid for by that
    customer; ``due_date`` may not precede ``posting_date``; coverage must not end before it starts.
    """
    require(user, Permission.BILLING_WRITE)
    posting_date = data.posting_date or clock.today()
    due_date = data.due_date or posting_date + dt.timedelta(days=PAYMENT_TERM_DAYS)
    if due_date < posting_date:
        raise DueDateBeforePostingDate(
            f"due_date {due_date.isoformat()} is before posting_date {posting_date.isoformat()}"
        )
    if data.coverage_start and data.coverage_end and data.coverage_end < data.coverage_start:
        raise CoverageEndBeforeStart("coverage_end is before coverage_start")
    if session.get(Customer, data.customer_id) is None:
        raise NotFound(f"customer {data.customer_id} does not exist")
    if data.member_id is not None:
        member_customer = session.execute(
            select(Member.customer_id).where(Member.id == data.member_id)
        ).first()
        if member_customer is None:
            raise NotFound(f"member {data.member_id} does not exist")
        if member_customer.customer_id != data.customer_id:
            raise MemberNotBilledToCustomer(
                f"member {data.member_id} is not billed to customer {data.customer_id}"
            )
    lines = [
        InvoiceLine(
            idx=index,
            description=line.description,
            quantity=line.quantity,
            rate=line.rate,
            amount=round_money(line.quantity * line.rate),
        )
        for index, line in enumerate(data.lines, start=1)
    ]
    for line in lines:
        if line.amount > MAX_AMOUNT:
            raise AmountTooLarge(
                f"line {line.idx} comes to {line.amount}: an amount is at most {MAX_AMOUNT}"
            )
    grand_total = sum((line.amount for line in lines), ZERO)
    if grand_total <= ZERO:
        raise InvoiceTotalNotPositive("the invoice total must be greater than zero")
    if grand_total > MAX_AMOUNT:
        raise AmountTooLarge(f"the invoice comes to {grand_total}: a total is at most {MAX_AMOUNT}")

    # Everything is checked: from here on the invoice is written.
    (number,) = next_invoice_numbers(session, posting_date)
    invoice = Invoice(
        number=number,
        customer_id=data.customer_id,
        member_id=data.member_id,
        dues_schedule_id=data.dues_schedule_id,
        posting_date=posting_date,
        due_date=due_date,
        coverage_start=data.coverage_start,
        coverage_end=data.coverage_end,
        grand_total=grand_total,
        # Nothing is owed on a draft; submit sets the outstanding amount.
        outstanding_amount=ZERO,
        status=InvoiceStatus.DRAFT,
        docstatus=DocStatus.DRAFT,
        is_return=False,
        remarks=data.remarks,
        lines=lines,
    )
    session.add(invoice)
    session.flush()
    return invoice


def submit_invoice(session: Session, user: User, invoice_id: int) -> Invoice:
    """Submit a Draft invoice: the customer now owes its grand total. Twice → 409."""
    require(user, Permission.BILLING_WRITE)
    invoice = lock_invoice(session, invoice_id, with_lines=True)
    if invoice.docstatus != DocStatus.DRAFT:
        state = "submitted" if invoice.docstatus == DocStatus.SUBMITTED else "cancelled"
        raise InvoiceNotDraft(f"{describe(invoice)} is already {state}")
    invoice.docstatus = DocStatus.SUBMITTED
    invoice.outstanding_amount = invoice.grand_total
    refresh_status(invoice, has_credit_notes=False)
    record_money_event(
        session,
        user,
        "invoice.submitted",
        "invoice",
        invoice.id,
        invoice.grand_total,
        {"number": invoice.number, "customer_id": invoice.customer_id},
    )
    events.record(
        session,
        InvoiceSubmitted(
            user=user,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            grand_total=invoice.grand_total,
            posting_date=invoice.posting_date,
        ),
    )
    session.flush()
    return invoice


def cancel_invoice(session: Session, user: User, invoice_id: int) -> Invoice:
    """Cancel an invoice or a credit note.

    A submitted invoice can be cancelled only when no submitted payment is allocated to it and no
    submitted credit note stands against it (409 naming them: cancel those first). Cancelling a
    credit note gives its amount back to the original's outstanding. A draft simply becomes
    Cancelled. Cancelling twice → 409.
    """
    require(user, Permission.BILLING_WRITE)
    invoice = lock_invoice(session, invoice_id, with_lines=True)
    if invoice.docstatus == DocStatus.CANCELLED:
        raise InvoiceAlreadyCancelled(f"{describe(invoice)} is already cancelled")
    cancelled: InvoiceCancelled | CreditNoteCancelled | None = None
    if invoice.docstatus == DocStatus.SUBMITTED:
        if invoice.is_return:
            original = _restore_original(session, invoice)
            cancelled = CreditNoteCancelled(
                user=user,
                credit_note_id=invoice.id,
                original_invoice_id=original.id,
                customer_id=invoice.customer_id,
                amount=-invoice.grand_total,
                original_posting_date=original.posting_date,
            )
        else:
            _ensure_nothing_settles(session, invoice)
            cancelled = InvoiceCancelled(
                user=user,
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                grand_total=invoice.grand_total,
                outstanding_amount=invoice.outstanding_amount,
                posting_date=invoice.posting_date,
            )
    was_submitted = cancelled is not None
    invoice.docstatus = DocStatus.CANCELLED
    # A cancelled document owes nothing; keeping the old figure would count it in open totals.
    invoice.outstanding_amount = ZERO
    refresh_status(invoice, has_credit_notes=False)
    event = "credit_note.cancelled" if invoice.is_return else "invoice.cancelled"
    record_money_event(
        session,
        user,
        event,
        "invoice",
        invoice.id,
        invoice.grand_total,
        {"number": invoice.number, "was_submitted": was_submitted},
    )
    if cancelled is not None:
        # A draft never reached the ledger: nothing to invalidate or to update in the background.
        events.record(session, cancelled)
    session.flush()
    return invoice


def _ensure_nothing_settles(session: Session, invoice: Invoice) -> None:
    """409 when submitted payments or credit notes still settle ``invoice``."""
    payment_numbers = session.scalars(
        select(Payment.number)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            PaymentAllocation.invoice_id == invoice.id,
            Payment.docstatus == DocStatus.SUBMITTED,
        )
        .order_by(Payment.id)
    ).all()
    credit_note_numbers = session.scalars(
        select(Invoice.number)
        .where(
            Invoice.return_against_id == invoice.id,
            Invoice.is_return.is_(True),
            Invoice.docstatus == DocStatus.SUBMITTED,
        )
        .order_by(Invoice.id)
    ).all()
    blockers = []
    if payment_numbers:
        blockers.append(f"payments {', '.join(payment_numbers)}")
    if credit_note_numbers:
        blockers.append(f"credit notes {', '.join(credit_note_numbers)}")
    if blockers:
        raise InvoiceStillSettled(
            f"{describe(invoice)} is settled by submitted {' and '.join(blockers)}; "
            "cancel those first"
        )


def _restore_original(session: Session, credit_note: Invoice) -> Invoice:
    """Give a cancelled credit note's amount back to the outstanding of the invoice it credited."""
    assert credit_note.return_against_id is not None  # a submitted credit note always has one
    original = lock_invoice(session, credit_note.return_against_id)
    amount = -credit_note.grand_total
    original.outstanding_amount += amount
    if original.outstanding_amount > original.grand_total:
        # Only reachable if the ledger was edited outside these services; refuse to make it worse.
        raise OutstandingExceedsTotal(
            f"{describe(original)} would owe more than its total; the ledger is damaged"
        )
    # The credit note being cancelled is still submitted in the database; look for the others.
    others = session.scalar(
        select(Invoice.id)
        .where(
            Invoice.return_against_id == original.id,
            Invoice.is_return.is_(True),
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.id != credit_note.id,
        )
        .limit(1)
    )
    refresh_status(original, has_credit_notes=others is not None)
    return original


def refresh_overdue(session: Session, today: dt.date | None = None) -> int:
    """Move Unpaid and Partly Paid invoices past their due date to Overdue in one UPDATE.

    Returns the number of invoices that turned Overdue. Meant for the daily job; no user.
    The customers whose invoices turn are read first so that their cache tags are bumped in
    the same transaction: a cached history never shows Unpaid once the day says Overdue.
    """
    day = today or clock.today()
    turning = (
        Invoice.docstatus == DocStatus.SUBMITTED,
        Invoice.is_return.is_(False),
        Invoice.status.in_([status.value for status in OPEN_STATUSES]),
        Invoice.due_date < day,
        Invoice.outstanding_amount > 0,
    )
    customer_ids = session.scalars(select(Invoice.customer_id).where(*turning).distinct()).all()
    if not customer_ids:
        return 0
    result = session.execute(
        update(Invoice)
        .where(*turning)
        .values(status=InvoiceStatus.OVERDUE.value)
        .execution_options(synchronize_session="fetch")
    )
    events.record(session, InvoicesTurnedOverdue(user=None, customer_ids=frozenset(customer_ids)))
    return cast(CursorResult[Any], result).rowcount

"""Credit notes: an Invoice with ``is_return`` and a negative total that lowers what is owed.

As in ERPNext, a credit note is created and submitted in one step; it is cancelled through
:func:`verenigingen.billing.service.invoices.cancel_invoice`, which gives its amount back.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.billing.audit import record_money_event
from verenigingen.billing.errors import (
    CreditExceedsOutstanding,
    CreditNoteNotCreditable,
    InvoiceNotSubmitted,
    NothingOutstandingToCredit,
)
from verenigingen.billing.events import CreditNoteSubmitted
from verenigingen.billing.models import DocStatus, Invoice, InvoiceLine, InvoiceStatus
from verenigingen.billing.numbering import next_invoice_numbers
from verenigingen.billing.schemas import CreditNoteCreate
from verenigingen.billing.service.allocation import describe, lock_invoice, refresh_status
from verenigingen.money import ZERO


def create_credit_note(
    session: Session, user: User, invoice_id: int, data: CreditNoteCreate
) -> Invoice:
    """Credit ``data.amount`` (default: all that is outstanding) of a submitted invoice.

    The original must be submitted and not itself a credit note (409); the amount may not exceed
    its outstanding amount (422). The credit note is submitted at once (status Return) and the
    original's outstanding drops by the amount; at zero it shows Credit Note Issued.
    """
    require(user, Permission.BILLING_WRITE)
    return credit_invoice(session, user, invoice_id, data)


def credit_invoice(
    session: Session, user: User, invoice_id: int, data: CreditNoteCreate
) -> Invoice:
    """:func:`create_credit_note` without the permission check, for the ledger's own rules (a
    termination credits the periods after it, whoever was allowed to terminate)."""
    # Locked so that a payment submitted at the same time cannot take the same outstanding amount.
    original = lock_invoice(session, invoice_id)
    if original.is_return:
        raise CreditNoteNotCreditable(
            f"{describe(original)} is a credit note itself; credit the original invoice"
        )
    if original.docstatus != DocStatus.SUBMITTED:
        state = "a draft" if original.docstatus == DocStatus.DRAFT else "cancelled"
        raise InvoiceNotSubmitted(
            f"{describe(original)} is {state}; only submitted invoices can be credited"
        )
    amount = data.amount if data.amount is not None else original.outstanding_amount
    if amount <= ZERO:
        raise NothingOutstandingToCredit(f"{describe(original)} has nothing outstanding to credit")
    if amount > original.outstanding_amount:
        raise CreditExceedsOutstanding(
            f"credit amount {amount} exceeds the outstanding amount "
            f"{original.outstanding_amount} of {describe(original)}"
        )

    today = clock.today()
    (number,) = next_invoice_numbers(session, today)
    credit_note = Invoice(
        number=number,
        customer_id=original.customer_id,
        member_id=original.member_id,
        posting_date=today,
        due_date=today,
        coverage_start=original.coverage_start,
        coverage_end=original.coverage_end,
        grand_total=-amount,
        # A credit note is never owed by or to anyone through outstanding: it settles the original.
        outstanding_amount=ZERO,
        docstatus=DocStatus.SUBMITTED,
        status=InvoiceStatus.RETURN,
        is_return=True,
        return_against_id=original.id,
        remarks=data.reason,
        # ERPNext style: a returned quantity is negative, the rate stays positive.
        lines=[
            InvoiceLine(
                idx=1,
                description=f"Credit for {original.number}: {data.reason}"[:255],
                quantity=Decimal("-1.00"),
                rate=amount,
                amount=-amount,
            )
        ],
    )
    session.add(credit_note)
    original.outstanding_amount -= amount
    refresh_status(original, has_credit_notes=True)
    session.flush()
    record_money_event(
        session,
        user,
        "credit_note.submitted",
        "invoice",
        credit_note.id,
        credit_note.grand_total,
        {"number": credit_note.number, "return_against_id": original.id, "reason": data.reason},
    )
    events.record(
        session,
        CreditNoteSubmitted(
            user=user,
            credit_note_id=credit_note.id,
            original_invoice_id=original.id,
            customer_id=original.customer_id,
            amount=amount,
            original_posting_date=original.posting_date,
        ),
    )
    session.flush()
    return credit_note

"""How billing follows the members domain: a terminated member owes nothing for later periods."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.billing.schemas import CreditNoteCreate
from verenigingen.billing.service.credit_notes import credit_invoice
from verenigingen.events import FollowUps, subscriber
from verenigingen.members.events import MemberTerminated
from verenigingen.money import ZERO


@subscriber(MemberTerminated)
def credit_periods_after_termination(session: Session, event: MemberTerminated) -> FollowUps:
    """Credit what is still open on the member's invoices for periods that start after the
    termination date (dues billed ahead of time). What was already paid stays paid: a refund is
    the treasurer's decision, not a rule. A period that began on or before the date is owed."""
    if event.user is None:
        return []
    invoice_ids = session.scalars(
        select(Invoice.id)
        .where(
            Invoice.member_id == event.member_id,
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.coverage_start > event.termination_date,
            Invoice.outstanding_amount > ZERO,
        )
        .order_by(Invoice.coverage_start, Invoice.id)
    ).all()
    reason = f"Lidmaatschap beëindigd per {event.termination_date:%d-%m-%Y}"
    for invoice_id in invoice_ids:
        credit_invoice(session, event.user, invoice_id, CreditNoteCreate(reason=reason))
    return []

"""How the SEPA domain follows the ledger: a direct-debit payment is a use of its mandate."""

from __future__ import annotations

from sqlalchemy.orm import Session

from verenigingen.billing.events import (
    PaymentCancelled,
    PaymentChange,
    PaymentsCancelled,
    PaymentsRecorded,
    PaymentSubmitted,
)
from verenigingen.billing.models import ModeOfPayment
from verenigingen.events import FollowUps, subscriber
from verenigingen.jobs import JobRequest
from verenigingen.sepa import tasks
from verenigingen.sepa.usage import mark_returned


@subscriber(PaymentSubmitted)
def payment_submitted(session: Session, event: PaymentSubmitted) -> FollowUps:
    return _usage_request(event, cancelled=False)


@subscriber(PaymentCancelled)
def payment_cancelled(session: Session, event: PaymentCancelled) -> FollowUps:
    return _usage_request(event, cancelled=True)


def _usage_request(event: PaymentChange, *, cancelled: bool) -> FollowUps:
    # Only a member's customer has mandates; the usage row is written after commit (a job).
    if event.mode_of_payment != ModeOfPayment.SEPA_DIRECT_DEBIT or not event.member_ids:
        return []
    params = {"payment_id": event.payment_id, "cancelled": cancelled}
    return [JobRequest(tasks.RECORD_MANDATE_USAGE, params)]


@subscriber(PaymentsRecorded)
def payments_recorded(session: Session, event: PaymentsRecorded) -> FollowUps:
    # Payments recorded in bulk are collections too: one job for all of them.
    if not event.direct_debit_payment_ids:
        return []
    params = {"payment_ids": list(event.direct_debit_payment_ids)}
    return [JobRequest(tasks.RECORD_MANDATE_USAGES, params)]


@subscriber(PaymentsCancelled)
def payments_cancelled(session: Session, event: PaymentsCancelled) -> FollowUps:
    # Collections cancelled in bulk were returned: their usages at once, in one UPDATE (the
    # returns import then adds the reason code).
    if event.direct_debit_payment_ids:
        mark_returned(session, event.direct_debit_payment_ids)
    return []

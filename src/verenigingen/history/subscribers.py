"""How the history read model follows the ledger: cache tags and a single write's analytics at
once, the summary (and a bulk write's analytics) by job.

Every subscriber bumps the tags of the customers and members whose history the event changes, in
the writer's transaction, so that no cached history outlives the write; adds a single write's
change to the monthly payment analytics there too (a delta: one UPDATE a month); and returns
the jobs that bring the member financial summary up to date after commit.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from verenigingen.billing.events import (
    CreditNoteCancelled,
    CreditNoteSubmitted,
    InvoiceCancelled,
    InvoicesTurnedOverdue,
    InvoiceSubmitted,
    PaymentCancelled,
    PaymentsCancelled,
    PaymentsRecorded,
    PaymentSubmitted,
)
from verenigingen.cache.tags import bump_tags
from verenigingen.dues.events import DuesBilled
from verenigingen.events import FollowUps, subscriber
from verenigingen.history import pipeline
from verenigingen.history.analytics import MonthDelta, first_of_month
from verenigingen.history.pipeline import PipelinePolicy, SummaryDelta, month_of
from verenigingen.sepa.events import MandateChanged, MandatesChanged
from verenigingen.settings import runtime_of


@subscriber(PaymentSubmitted)
def payment_submitted(session: Session, event: PaymentSubmitted) -> FollowUps:
    policy = PipelinePolicy.of(runtime_of(session))
    return pipeline.after_payment(session, event, cancelled=False, policy=policy)


@subscriber(PaymentCancelled)
def payment_cancelled(session: Session, event: PaymentCancelled) -> FollowUps:
    policy = PipelinePolicy.of(runtime_of(session))
    return pipeline.after_payment(session, event, cancelled=True, policy=policy)


@subscriber(InvoiceSubmitted)
def invoice_submitted(session: Session, event: InvoiceSubmitted) -> FollowUps:
    total = event.grand_total
    delta = SummaryDelta(invoices=1, invoiced=total, outstanding=total)
    month = MonthDelta(first_of_month(event.posting_date), invoiced=total)
    return pipeline.after_invoice(session, event.customer_id, delta, month)


@subscriber(InvoiceCancelled)
def invoice_cancelled(session: Session, event: InvoiceCancelled) -> FollowUps:
    delta = SummaryDelta(
        invoices=-1, invoiced=-event.grand_total, outstanding=-event.outstanding_amount
    )
    month = MonthDelta(
        first_of_month(event.posting_date),
        invoiced=-event.grand_total,
        collected=-(event.grand_total - event.outstanding_amount),
    )
    return pipeline.after_invoice(session, event.customer_id, delta, month)


@subscriber(CreditNoteSubmitted)
def credit_note_submitted(session: Session, event: CreditNoteSubmitted) -> FollowUps:
    delta = SummaryDelta(credited=event.amount, outstanding=-event.amount)
    month = MonthDelta(first_of_month(event.original_posting_date), collected=event.amount)
    return pipeline.after_invoice(session, event.customer_id, delta, month)


@subscriber(CreditNoteCancelled)
def credit_note_cancelled(session: Session, event: CreditNoteCancelled) -> FollowUps:
    # The credit is gone and the original owes it again.
    delta = SummaryDelta(credited=-event.amount, outstanding=event.amount)
    month = MonthDelta(first_of_month(event.original_posting_date), collected=-event.amount)
    return pipeline.after_invoice(session, event.customer_id, delta, month)


@subscriber(PaymentsRecorded)
def payments_recorded(session: Session, event: PaymentsRecorded) -> FollowUps:
    months = {month_of(day) for day in event.posting_dates}
    return pipeline.after_bulk(session, event.customer_ids, months, with_jobs=True)


@subscriber(PaymentsCancelled)
def payments_cancelled(session: Session, event: PaymentsCancelled) -> FollowUps:
    months = {month_of(day) for day in event.posting_dates}
    return pipeline.after_bulk(session, event.customer_ids, months, with_jobs=True)


@subscriber(DuesBilled)
def dues_billed(session: Session, event: DuesBilled) -> FollowUps:
    months = [month_of(event.posting_date)]
    return pipeline.after_bulk(
        session, event.customer_ids, months, with_jobs=event.user is not None
    )


@subscriber(InvoicesTurnedOverdue)
def invoices_turned_overdue(session: Session, event: InvoicesTurnedOverdue) -> FollowUps:
    # A status change only: the summary's amounts stay, the cached histories must not.
    return pipeline.after_bulk(session, event.customer_ids, [], with_jobs=False)


@subscriber(MandateChanged)
def mandate_changed(session: Session, event: MandateChanged) -> FollowUps:
    # A history lists the member's mandates and the mandate covering each invoice.
    bump_tags(session, [f"member:{event.member_id}"])
    return []


@subscriber(MandatesChanged)
def mandates_changed(session: Session, event: MandatesChanged) -> FollowUps:
    bump_tags(session, sorted(f"member:{member_id}" for member_id in event.member_ids))
    return []

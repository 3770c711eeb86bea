"""What a ledger event leaves behind in its own transaction: cache tag bumps, the monthly
analytics' deltas, and the jobs.

The history's subscribers (:mod:`verenigingen.history.subscribers`) call these when billing or
dues records an event, after the ledger's critical work (rules, allocations, outstanding,
status, audit). Each bumps the tags at once, adds a single write's change to the analytics of
its months (one UPDATE a month, whatever the size of the ledger), and returns the jobs that
keep the summary up to date (and, after a bulk write, recompute its months' analytics); the
event platform enqueues them with the other subscribers' jobs in one INSERT. A rolled-back
write leaves neither bumps, deltas nor jobs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.billing.events import PaymentChange
from verenigingen.billing.models import PaymentType
from verenigingen.cache.tags import bump_tags
from verenigingen.history import analytics, tasks
from verenigingen.history.analytics import MonthDelta, first_of_month
from verenigingen.jobs import JobRequest
from verenigingen.members.models import Member
from verenigingen.money import ZERO
from verenigingen.settings import RuntimeValues


@dataclass(frozen=True)
class PipelinePolicy:
    """When a payment refreshes the member summary, and when it recalculates it from scratch
    (runtime settings: an administrator may change them while the processes run)."""

    refresh_above: Decimal = Decimal("100.00")
    recalculate_invoices: int = 5
    recalculate_above: Decimal = Decimal("500.00")

    @classmethod
    def of(cls, values: RuntimeValues) -> PipelinePolicy:
        return cls(
            values.history_refresh_above,
            values.history_recalculate_invoices,
            values.history_recalculate_above,
        )


@dataclass(frozen=True)
class SummaryDelta:
    """How one ledger event changes the financial summary of a customer's members."""

    invoices: int = 0
    invoiced: Decimal = ZERO
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    outstanding: Decimal = ZERO

    def params(self) -> dict[str, Any]:
        # Strings, not floats: the job table stores JSON and money stays exact (rule 3).
        return {
            "invoices": self.invoices,
            "invoiced": str(self.invoiced),
            "credited": str(self.credited),
            "paid": str(self.paid),
            "outstanding": str(self.outstanding),
        }

    def negated(self) -> SummaryDelta:
        return SummaryDelta(
            -self.invoices, -self.invoiced, -self.credited, -self.paid, -self.outstanding
        )


def cache_tags(customer_id: int, member_ids: Iterable[int]) -> list[str]:
    """The tags a change of this customer's ledger invalidates: the customer and its members."""
    return [f"customer:{customer_id}", *(f"member:{member_id}" for member_id in member_ids)]


def member_ids_of(session: Session, customer_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Member.id).where(Member.customer_id == customer_id).order_by(Member.id)
        )
    )


def month_of(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def payment_delta(event: PaymentChange) -> SummaryDelta:
    """The summary change of submitting the payment (cancelling it is the negation)."""
    if event.payment_type == PaymentType.RECEIVE:
        return SummaryDelta(paid=event.paid_amount, outstanding=-event.allocated_amount)
    if event.payment_type == PaymentType.PAY:
        return SummaryDelta(paid=-event.paid_amount)
    return SummaryDelta()


def after_payment(
    session: Session, event: PaymentChange, *, cancelled: bool, policy: PipelinePolicy
) -> list[JobRequest]:
    """Bump the tags of a payment submitted (or a submitted one cancelled); its jobs to enqueue.

    The summary is refreshed for Receive and Pay payments, and for any payment above
    ``policy.refresh_above``; a payment touching more than ``recalculate_invoices`` invoices or
    above ``recalculate_above`` recalculates it from the ledger instead of applying a delta.
    """
    bump_tags(session, cache_tags(event.customer_id, event.member_ids))
    requests: list[JobRequest] = []
    refresh = (
        event.payment_type in (PaymentType.RECEIVE, PaymentType.PAY)
        or event.paid_amount > policy.refresh_above
    )
    if refresh and event.member_ids:
        if (
            event.invoice_count > policy.recalculate_invoices
            or event.paid_amount > policy.recalculate_above
        ):
            requests.append(recalculate_request(event.customer_id))
        else:
            delta = payment_delta(event)
            requests.append(
                delta_request(event.customer_id, delta.negated() if cancelled else delta)
            )
    deltas = payment_month_deltas(event)
    analytics.apply_deltas(session, [d.negated() for d in deltas] if cancelled else deltas)
    return requests


def payment_month_deltas(event: PaymentChange) -> list[MonthDelta]:
    """The analytics change of submitting the payment (cancelling it is the negation): a payment
    in its own month, and what it settled in the months its invoices were posted in."""
    received = event.paid_amount if event.payment_type == PaymentType.RECEIVE else ZERO
    refunded = event.paid_amount if event.payment_type == PaymentType.PAY else ZERO
    month = first_of_month(event.posting_date)
    deltas = [MonthDelta(month, payment_count=1, received=received, refunded=refunded)]
    deltas += [MonthDelta(first_of_month(day), collected=amount) for day, amount in event.settled]
    return deltas


def after_invoice(
    session: Session, customer_id: int, delta: SummaryDelta, month_delta: MonthDelta
) -> list[JobRequest]:
    """Bump the tags of an invoice or credit note submitted or cancelled, add its change to the
    analytics of its month; its summary job to enqueue."""
    member_ids = member_ids_of(session, customer_id)
    bump_tags(session, cache_tags(customer_id, member_ids))
    analytics.apply_deltas(session, [month_delta])
    if member_ids and delta != SummaryDelta():
        return [delta_request(customer_id, delta)]
    return []


def delta_request(customer_id: int, delta: SummaryDelta) -> JobRequest:
    return JobRequest(tasks.APPLY_SUMMARY_DELTA, {"customer_id": customer_id, **delta.params()})


def recalculate_request(customer_id: int) -> JobRequest:
    return JobRequest(tasks.RECALCULATE_SUMMARY, {"customer_id": customer_id})


BULK_RECALCULATION_BATCH = 25
"""Customers per recalculation job after a bulk write: one job and one dispatch per batch,
not one per customer (a dues run over 10,000 schedules would otherwise queue 10,000 jobs). The
job rebuilds them set-based (history.summary_bulk), committing per ``SUMMARY_CHUNK`` customers
(history.tasks), so requests are not kept waiting behind it."""


def bulk_recalculation_requests(customer_ids: Sequence[int]) -> list[JobRequest]:
    return [
        JobRequest(
            tasks.RECALCULATE_SUMMARIES,
            {"customer_ids": list(customer_ids[start : start + BULK_RECALCULATION_BATCH])},
        )
        for start in range(0, len(customer_ids), BULK_RECALCULATION_BATCH)
    ]


def analytics_request(months: Sequence[str]) -> JobRequest:
    return JobRequest(tasks.UPDATE_PAYMENT_ANALYTICS, {"months": list(months)})


def after_bulk(
    session: Session, customer_ids: Iterable[int], months: Iterable[str], *, with_jobs: bool
) -> list[JobRequest]:
    """Bump the tags of a bulk write (a dues run, a payment batch); its jobs to enqueue.

    Three statements whatever the batch size: the customers' members, one tag bump, one INSERT
    of the jobs (a recalculation per batch of customers and one analytics job). Without jobs (a
    system run with no user) the tags are still bumped; the summaries then wait for the next
    job or ``recalculate_all``.
    """
    customers = sorted(set(customer_ids))
    if not customers:
        return []
    rows = session.execute(
        select(Member.customer_id, Member.id).where(Member.customer_id.in_(customers))
    ).all()
    tags = [f"customer:{customer_id}" for customer_id in customers]
    tags += [f"member:{row.id}" for row in rows]
    bump_tags(session, tags)
    if not with_jobs:
        return []
    with_members = sorted({row.customer_id for row in rows if row.customer_id is not None})
    requests = bulk_recalculation_requests(with_members)
    requests.append(analytics_request(sorted(set(months))))
    return requests

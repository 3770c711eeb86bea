"""The member financial summary: kept by deltas, rebuilt from the ledger, never a lost update.

Every ledger event that matters enqueues one job for its customer: a delta
(``history.apply_summary_delta``) or, for a large payment, a recalculation
(``history.recalculate_summary``). Two rules keep the rows exact whatever order the jobs run in:

1. **Optimistic writes.** A writer reads a row's ``version`` and updates with
   ``WHERE version = :seen``; zero rows means another job got there first, so it reads again
   (with a row lock, which on READ COMMITTED returns the latest row) and retries.
2. **A recalculation does not count an event twice.** A delta job commits its delta and its
   ``Completed`` status in one transaction, and its row was committed with the ledger event.
   So in one snapshot, the events whose delta is not yet in the summary are exactly those whose
   delta job is still Queued or Running. A recalculation reads, in one statement (one snapshot),
   the ledger totals and those pending deltas, and writes ledger minus pending; each pending
   job then adds its own delta once. The versions are read before that statement, so a delta
   committed in between makes the recalculation's write miss and retry.
3. **A delta the ledger already counts never runs again.** A delta job that failed for good is
   not pending, so a recalculation (or a new row built from the ledger) counts its event. The
   same statement returns those Failed jobs, and the writer marks them superseded (Cancelled,
   so they cannot be retried) before it writes; a retry that got in first makes the job pending
   again, and the writer reads again.

Overdue count and last payment date are not additive; every writer takes them from the same
snapshot of the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen import events
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, Payment, PaymentType
from verenigingen.history.models import MemberFinancialSummary, PaymentStatus
from verenigingen.jobs.models import ACTIVE_STATUSES, Job, JobStatus
from verenigingen.jobs.service import supersede_failed
from verenigingen.members.models import Member
from verenigingen.money import ZERO

APPLY_SUMMARY_DELTA = "history.apply_summary_delta"
MAX_ATTEMPTS = 5
SUPERSEDED_REASON = (
    "superseded: the member summary was rebuilt from the ledger, which counts this event; "
    "a retry would count it twice"
)


class SummaryConflict(RuntimeError):
    """Other writers kept winning; the job runner retries the job in a new transaction."""


@dataclass(frozen=True)
class Figures:
    """The summary of one customer's ledger (the same for each member it pays for)."""

    invoice_count: int = 0
    total_invoiced: Decimal = ZERO
    total_credited: Decimal = ZERO
    total_paid: Decimal = ZERO
    outstanding: Decimal = ZERO
    overdue_count: int = 0
    last_payment_date: dt.date | None = None

    @property
    def payment_status(self) -> PaymentStatus:
        if self.invoice_count == 0:
            return PaymentStatus.NO_INVOICES
        if self.overdue_count > 0:
            return PaymentStatus.OVERDUE
        if self.outstanding > ZERO:
            return PaymentStatus.UNPAID
        return PaymentStatus.PAID

    def plus(self, delta: dict[str, Any]) -> Figures:
        return replace(
            self,
            invoice_count=self.invoice_count + int(delta.get("invoices", 0)),
            total_invoiced=self.total_invoiced + Decimal(delta.get("invoiced", "0")),
            total_credited=self.total_credited + Decimal(delta.get("credited", "0")),
            total_paid=self.total_paid + Decimal(delta.get("paid", "0")),
            outstanding=self.outstanding + Decimal(delta.get("outstanding", "0")),
        )

    def minus(self, delta: dict[str, Any]) -> Figures:
        negated = {
            key: -Decimal(str(value)) for key, value in delta.items() if key != "customer_id"
        }
        return self.plus(negated)

    def values(self) -> dict[str, Any]:
        return {
            "invoice_count": self.invoice_count,
            "total_invoiced": self.total_invoiced,
            "total_credited": self.total_credited,
            "total_paid": self.total_paid,
            "outstanding": self.outstanding,
            "overdue_count": self.overdue_count,
            "last_payment_date": self.last_payment_date,
            "payment_status": self.payment_status.value,
        }

    @classmethod
    def of(cls, row: MemberFinancialSummary) -> Figures:
        return cls(
            row.invoice_count,
            row.total_invoiced,
            row.total_credited,
            row.total_paid,
            row.outstanding,
            row.overdue_count,
            row.last_payment_date,
        )


def invoice_totals() -> list[Any]:
    """A customer's submitted invoices as aggregate columns: how many, invoiced, credited (credit
    notes), outstanding and how many are overdue (``_ledger_statement``, ``summary_bulk``)."""
    is_invoice = Invoice.is_return.is_(False)
    overdue = and_(is_invoice, Invoice.status == InvoiceStatus.OVERDUE.value)
    return [
        func.count(case((is_invoice, 1))).label("invoice_count"),
        func.sum(case((is_invoice, Invoice.grand_total))).label("invoiced"),
        func.sum(case((Invoice.is_return.is_(True), -Invoice.grand_total))).label("credited"),
        func.sum(case((is_invoice, Invoice.outstanding_amount))).label("outstanding"),
        func.count(case((overdue, 1))).label("overdue_count"),
    ]


def payment_totals() -> list[Any]:
    """A customer's submitted payments as aggregate columns: received, refunded and the day of
    the last payment received."""
    receive = Payment.payment_type == PaymentType.RECEIVE.value
    refund = Payment.payment_type == PaymentType.PAY.value
    return [
        func.sum(case((receive, Payment.paid_amount))).label("received"),
        func.sum(case((refund, Payment.paid_amount))).label("refunded"),
        func.max(case((receive, Payment.posting_date))).label("last_payment_date"),
    ]


def _ledger_statement(customer_id: int, *, with_pending: bool) -> Any:
    """One statement: the customer's ledger totals, and (outer-joined) its pending deltas."""
    # The customer id rides along as a constant column, so that the joins below say what they
    # join on (one aggregate row each, then the customer's pending jobs).
    customer = literal(customer_id).label("customer_id")
    invoice = (
        select(
            customer,
            *invoice_totals(),
        )
        .where(Invoice.customer_id == customer_id, Invoice.docstatus == DocStatus.SUBMITTED)
        .subquery()
    )
    payment = (
        select(literal(customer_id).label("customer_id"), *payment_totals())
        .where(Payment.customer_id == customer_id, Payment.docstatus == DocStatus.SUBMITTED)
        .subquery()
    )
    if not with_pending:
        columns = (literal(None).label("job_id"), literal(None).label("job_status"))
        return select(invoice, payment, *columns, literal(None).label("pending")).select_from(
            invoice.join(payment, payment.c.customer_id == invoice.c.customer_id)
        )
    # The customer's delta jobs that have not added their delta: pending ones (they will) and
    # failed ones (they will not, unless retried: see rule 3).
    statuses = [status.value for status in (*ACTIVE_STATUSES, JobStatus.FAILED)]
    return (
        select(
            invoice,
            payment,
            Job.id.label("job_id"),
            Job.status.label("job_status"),
            Job.params.label("pending"),
        )
        .select_from(invoice.join(payment, payment.c.customer_id == invoice.c.customer_id))
        .outerjoin(
            Job,
            and_(
                Job.name == APPLY_SUMMARY_DELTA,
                Job.status.in_(statuses),
                Job.params["customer_id"].as_integer() == invoice.c.customer_id,
            ),
        )
    )


@dataclass(frozen=True)
class LedgerSnapshot:
    figures: Figures
    """The ledger's figures without the deltas still pending."""
    failed_deltas: tuple[int, ...]
    """Delta jobs that failed for good: the figures count their events already."""


def ledger_figures(session: Session, customer_id: int, *, minus_pending: bool = False) -> Figures:
    """The summary recomputed from the ledger; with ``minus_pending``, without the deltas of the
    customer's delta jobs that have not run yet (so that they can still add them)."""
    return _ledger_snapshot(session, customer_id, minus_pending=minus_pending).figures


def _ledger_snapshot(session: Session, customer_id: int, *, minus_pending: bool) -> LedgerSnapshot:
    rows = session.execute(_ledger_statement(customer_id, with_pending=minus_pending)).all()
    first = rows[0]
    figures = Figures(
        invoice_count=int(first.invoice_count or 0),
        total_invoiced=Decimal(first.invoiced or ZERO),
        total_credited=Decimal(first.credited or ZERO),
        total_paid=Decimal(first.received or ZERO) - Decimal(first.refunded or ZERO),
        outstanding=Decimal(first.outstanding or ZERO),
        overdue_count=int(first.overdue_count or 0),
        last_payment_date=first.last_payment_date,
    )
    failed = []
    for row in rows:
        if row.job_status == JobStatus.FAILED:
            failed.append(int(row.job_id))
        elif row.pending is not None:
            figures = figures.minus(row.pending)
    return LedgerSnapshot(figures, tuple(failed))


def _member_ids(session: Session, customer_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Member.id).where(Member.customer_id == customer_id).order_by(Member.id)
        )
    )


def _rows(
    session: Session, member_ids: Sequence[int], *, lock: bool
) -> dict[int, MemberFinancialSummary]:
    statement = (
        select(MemberFinancialSummary)
        .where(MemberFinancialSummary.member_id.in_(member_ids))
        .execution_options(populate_existing=True)
    )
    if lock:
        statement = statement.with_for_update()
    return {row.member_id: row for row in session.scalars(statement)}


def _write(
    session: Session,
    customer_id: int,
    member_id: int,
    row: MemberFinancialSummary | None,
    figures: Figures,
) -> bool:
    """Insert or conditionally update one row; False when another writer changed it first."""
    if row is None:
        try:
            with session.begin_nested():
                session.execute(
                    insert(MemberFinancialSummary).values(
                        member_id=member_id, customer_id=customer_id, version=1, **figures.values()
                    )
                )
        except IntegrityError:
            return False  # a concurrent writer inserted it; read it and apply on top
        return True
    result = session.execute(
        update(MemberFinancialSummary)
        .where(
            MemberFinancialSummary.member_id == member_id,
            MemberFinancialSummary.version == row.version,
        )
        .values(customer_id=customer_id, version=row.version + 1, **figures.values())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def apply_delta(session: Session, customer_id: int, delta: dict[str, Any]) -> int:
    """Add one event's delta to the summary of each member of the customer; rows written.

    When a member has no row yet, every member's row is written from the ledger (minus the
    deltas still pending, this job's own included, since it is Running) plus this delta. Run
    inline, in the transaction of the write it follows (``defer_heavy_handlers`` off), there is
    no job of its own: the ledger minus the pending deltas counts this delta already.
    """
    return _update(session, customer_id, delta)


def recalculate(session: Session, customer_id: int) -> int:
    """Rebuild the summary of each member of the customer from the ledger; rows written."""
    return _update(session, customer_id, None)


def _update(session: Session, customer_id: int, delta: dict[str, Any] | None) -> int:
    member_ids = _member_ids(session, customer_id)
    if not member_ids:
        return 0
    # A delta job is Running, so the ledger snapshot leaves its delta out as pending; a delta
    # run inline has no job, and the snapshot holds it already.
    own_delta_pending = not events.runs_inline(session)
    remaining = set(member_ids)
    for attempt in range(MAX_ATTEMPTS):
        # Versions first, then the ledger: see rule 2 in the module docstring.
        rows = _rows(session, sorted(remaining), lock=attempt > 0)
        snapshot = _ledger_snapshot(session, customer_id, minus_pending=True)
        base = snapshot.figures
        # A member without a row gets one from the ledger; then every member of the customer
        # is written from it, so that none keeps counting without an event that a superseded
        # delta (rule 3) will now never add.
        from_ledger = delta is None or any(rows.get(m) is None for m in remaining)
        if from_ledger and snapshot.failed_deltas:
            superseded = supersede_failed(session, snapshot.failed_deltas, SUPERSEDED_REASON)
            if superseded != len(snapshot.failed_deltas):
                continue  # one was retried meanwhile: it is pending now, read again
        for member_id in sorted(remaining):
            row = rows.get(member_id)
            if delta is None:
                figures = base
            elif from_ledger or row is None:
                figures = base.plus(delta) if own_delta_pending else base
            else:
                # The delta's amounts on top of what the row holds; the non-additive figures
                # from the ledger snapshot just read.
                figures = replace(
                    Figures.of(row).plus(delta),
                    overdue_count=base.overdue_count,
                    last_payment_date=base.last_payment_date,
                )
            if _write(session, customer_id, member_id, row, figures):
                remaining.discard(member_id)
        if not remaining:
            return len(member_ids)
    raise SummaryConflict(
        f"the summary of customer {customer_id} kept changing; {len(remaining)} rows not written"
    )

"""The member summaries of many customers rebuilt from the ledger at once, in a constant number
of statements: after a bulk write (a dues run, a payment batch, the demo) and by
``history.recalculate_all``.

The same rules as :mod:`verenigingen.history.summary` (read its docstring): each row is written
only at the version read before the ledger, from the ledger minus the customer's pending delta
jobs, read in one statement (one snapshot), and failed delta jobs are superseded before the
write. Where one customer's rows cannot be written so (a concurrent writer changed a row, a
failed delta was retried meanwhile), the whole set falls back to the per-customer rebuild,
which retries: the rows already written are written again, with the same figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen.billing.models import DocStatus, Invoice, Payment
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary import (
    APPLY_SUMMARY_DELTA,
    SUPERSEDED_REASON,
    Figures,
    invoice_totals,
    payment_totals,
    recalculate,
)
from verenigingen.jobs.models import ACTIVE_STATUSES, Job, JobStatus
from verenigingen.jobs.service import supersede_failed
from verenigingen.members.models import Member
from verenigingen.money import ZERO

_SUMMARY = cast(Table, MemberFinancialSummary.__table__)
_FIGURE_COLUMNS = (
    "invoice_count",
    "total_invoiced",
    "total_credited",
    "total_paid",
    "outstanding",
    "overdue_count",
    "last_payment_date",
    "payment_status",
)
_UPDATE_AT_VERSION = (
    update(_SUMMARY)
    .where(
        _SUMMARY.c.member_id == bindparam("row_member_id"),
        _SUMMARY.c.version == bindparam("seen_version"),
    )
    .values(
        customer_id=bindparam("row_customer_id"),
        version=bindparam("new_version"),
        **{name: bindparam(f"new_{name}") for name in _FIGURE_COLUMNS},
    )
)


def recalculate_many(session: Session, customer_ids: Sequence[int]) -> int:
    """Rebuild the summaries of the members of ``customer_ids`` from the ledger; rows written.

    Five statements whatever the number of customers (members, versions, the ledger with the
    pending deltas, the new rows' INSERT, the UPDATE of the others as one executemany), and one
    more when failed delta jobs are superseded. Keep the set modest (a hundred customers or so):
    on SQLite the caller's transaction holds the write lock meanwhile.
    """
    customers = sorted(set(customer_ids))
    if not customers:
        return 0
    members: defaultdict[int, list[int]] = defaultdict(list)
    for row in session.execute(
        select(Member.customer_id, Member.id)
        .where(Member.customer_id.in_(customers))
        .order_by(Member.id)
    ):
        members[row.customer_id].append(row.id)
    if not members:
        return 0
    member_ids = [member_id for ids in members.values() for member_id in ids]
    # Versions first, then the ledger (summary.py, rule 2).
    versions: dict[int, int] = dict(
        session.execute(
            select(MemberFinancialSummary.member_id, MemberFinancialSummary.version).where(
                MemberFinancialSummary.member_id.in_(member_ids)
            )
        ).all()
    )
    figures, failed = _ledger_figures(session, sorted(members))
    if failed and supersede_failed(session, failed, SUPERSEDED_REASON) != len(failed):
        return _one_by_one(session, members)  # one was retried meanwhile: it is pending again
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for customer_id, ids in members.items():
        values = figures.get(customer_id, Figures()).values()
        for member_id in ids:
            seen = versions.get(member_id)
            if seen is None:
                new_rows.append(
                    {"member_id": member_id, "customer_id": customer_id, "version": 1, **values}
                )
            else:
                changed_rows.append(
                    {
                        "row_member_id": member_id,
                        "seen_version": seen,
                        "row_customer_id": customer_id,
                        "new_version": seen + 1,
                        **{f"new_{name}": value for name, value in values.items()},
                    }
                )
    if new_rows:
        try:
            with session.begin_nested():
                session.execute(insert(_SUMMARY), new_rows)
        except IntegrityError:
            return _one_by_one(session, members)  # a concurrent writer made one of them
    if changed_rows:
        written = session.connection().execute(_UPDATE_AT_VERSION, changed_rows)
        if written.rowcount != len(changed_rows):
            return _one_by_one(session, members)  # a concurrent writer changed one of them
    return len(member_ids)


def _one_by_one(session: Session, members: dict[int, list[int]]) -> int:
    return sum(recalculate(session, customer_id) for customer_id in sorted(members))


def _ledger_figures(
    session: Session, customer_ids: list[int]
) -> tuple[dict[int, Figures], list[int]]:
    """In one statement: each customer's ledger minus its pending deltas, and the failed delta
    jobs (whose events the ledger counts already)."""
    statuses = [status.value for status in (*ACTIVE_STATUSES, JobStatus.FAILED)]
    customers = (
        select(Member.customer_id.label("customer_id"))
        .where(Member.customer_id.in_(customer_ids))
        .group_by(Member.customer_id)
        .subquery()
    )
    invoice = (
        select(
            Invoice.customer_id.label("customer_id"),
            *invoice_totals(),
        )
        .where(Invoice.customer_id.in_(customer_ids), Invoice.docstatus == DocStatus.SUBMITTED)
        .group_by(Invoice.customer_id)
        .subquery()
    )
    payment = (
        select(Payment.customer_id.label("customer_id"), *payment_totals())
        .where(Payment.customer_id.in_(customer_ids), Payment.docstatus == DocStatus.SUBMITTED)
        .group_by(Payment.customer_id)
        .subquery()
    )
    deltas = (
        select(
            Job.id.label("job_id"),
            Job.status.label("job_status"),
            Job.params.label("pending"),
            Job.params["customer_id"].as_integer().label("customer_id"),
        )
        .where(Job.name == APPLY_SUMMARY_DELTA, Job.status.in_(statuses))
        .subquery()
    )
    rows = session.execute(
        select(
            customers.c.customer_id,
            invoice.c.invoice_count,
            invoice.c.invoiced,
            invoice.c.credited,
            invoice.c.outstanding,
            invoice.c.overdue_count,
            payment.c.received,
            payment.c.refunded,
            payment.c.last_payment_date,
            deltas.c.job_id,
            deltas.c.job_status,
            deltas.c.pending,
        )
        .select_from(customers)
        .outerjoin(invoice, invoice.c.customer_id == customers.c.customer_id)
        .outerjoin(payment, payment.c.customer_id == customers.c.customer_id)
        .outerjoin(deltas, deltas.c.customer_id == customers.c.customer_id)
        .order_by(customers.c.customer_id, deltas.c.job_id)
    ).all()
    figures: dict[int, Figures] = {}
    failed: list[int] = []
    for row in rows:
        customer_id = int(row.customer_id)
        if customer_id not in figures:
            figures[customer_id] = Figures(
                invoice_count=int(row.invoice_count or 0),
                total_invoiced=Decimal(row.invoiced or ZERO),
                total_credited=Decimal(row.credited or ZERO),
                total_paid=Decimal(row.received or ZERO) - Decimal(row.refunded or ZERO),
                outstanding=Decimal(row.outstanding or ZERO),
                overdue_count=int(row.overdue_count or 0),
                last_payment_date=row.last_payment_date,
            )
        if row.job_status == JobStatus.FAILED:
            failed.append(int(row.job_id))
        elif row.pending is not None:
            figures[customer_id] = figures[customer_id].minus(row.pending)
    return figures, failed

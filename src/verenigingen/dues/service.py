"""Dues generation: every due schedule gets its next invoice, in bulk and never twice.

A run works through the due schedules in batches of ``batch_size``, each batch in a constant
number of statements (select, number reservation, invoices, lines, schedules, audit events), so
10,000 schedules cost twenty batches, not 10,000 round trips.

Why a period is never billed twice:

* a run bills each schedule at most once (keyset over ids) and only when it was not billed
  today (``last_invoice_date < today``), so running twice the same day bills nothing;
* on PostgreSQL and MariaDB the due schedules are selected ``FOR UPDATE SKIP LOCKED``: a
  concurrent run skips the rows another is billing, and when it does reach a row after the other
  committed, the row is re-read and no longer due; SQLite serialises writers (BEGIN IMMEDIATE);
* the invoice table's UNIQUE(dues_schedule_id, coverage_start) is the last guard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Select, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require, require_any
from verenigingen.billing.models import Invoice
from verenigingen.clock import advance
from verenigingen.dues.errors import DuesScheduleWithoutPeriod, TooManyPeriodsAtOnce
from verenigingen.dues.invoicing import DuesCharge, insert_dues_invoices, period_description
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.models import Membership, MembershipType

MAX_PERIODS_AT_ONCE = 120
"""A renewal that would bill more periods than this at once is a mistake in its dates."""


class _days_before(FunctionElement[dt.date]):
    """``date_column`` minus ``days_column`` days, in each dialect's own date arithmetic."""

    type = Date()
    inherit_cache = True
    name = "days_before"


@compiles(_days_before, "postgresql")
def _days_before_postgresql(element: _days_before, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"({day} - {days})"


@compiles(_days_before, "mysql")
@compiles(_days_before, "mariadb")
def _days_before_mysql(element: _days_before, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"DATE_SUB({day}, INTERVAL {days} DAY)"


@compiles(_days_before, "sqlite")
def _days_before_sqlite(element: _days_before, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = (compiler.process(arg, **kw) for arg in element.clauses)
    # SQLite stores dates as ISO text; date() returns ISO text, which compares correctly.
    return f"date({day}, '-' || {days} || ' days')"


@dataclass
class DuesRunResult:
    schedules_billed: int = 0
    invoices_created: int = 0
    total_amount: Decimal = field(default_factory=lambda: Decimal("0.00"))
    batches: int = 0


def _due_schedules(today: dt.date, after_id: int, batch_size: int) -> Select[Any]:
    # The type name and the membership start (the period anchor) come from correlated
    # subqueries rather than a join: FOR UPDATE on a join would also lock the membership type
    # rows on MariaDB (it has no FOR UPDATE OF), and every concurrent run would skip them all.
    type_name = (
        select(MembershipType.name)
        .join(Membership, Membership.membership_type_id == MembershipType.id)
        .where(Membership.id == DuesSchedule.membership_id)
        .scalar_subquery()
    )
    anchor = (
        select(Membership.start_date)
        .where(Membership.id == DuesSchedule.membership_id)
        .scalar_subquery()
    )
    return (
        select(
            DuesSchedule.id,
            DuesSchedule.member_id,
            DuesSchedule.customer_id,
            DuesSchedule.billing_months,
            DuesSchedule.dues_rate,
            DuesSchedule.next_invoice_date,
            type_name.label("type_name"),
            anchor.label("anchor"),
        )
        .where(
            DuesSchedule.id > after_id,
            DuesSchedule.status == ScheduleStatus.ACTIVE,
            DuesSchedule.auto_generate.is_(True),
            DuesSchedule.billing_months > 0,
            _days_before(DuesSchedule.next_invoice_date, DuesSchedule.invoice_days_before) <= today,
            or_(
                DuesSchedule.end_date.is_(None),
                DuesSchedule.next_invoice_date < DuesSchedule.end_date,
            ),
            or_(DuesSchedule.last_invoice_date.is_(None), DuesSchedule.last_invoice_date < today),
        )
        .order_by(DuesSchedule.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


def _charge(
    *,
    schedule_id: int,
    member_id: int,
    customer_id: int,
    amount: Decimal,
    type_name: str,
    start: dt.date,
    next_start: dt.date,
) -> DuesCharge:
    end = next_start - dt.timedelta(days=1)
    return DuesCharge(
        customer_id=customer_id,
        member_id=member_id,
        dues_schedule_id=schedule_id,
        coverage_start=start,
        coverage_end=end,
        amount=amount,
        description=period_description(type_name, start, end),
    )


def generate_dues(
    session: Session,
    user: User,
    *,
    today: dt.date | None = None,
    batch_size: int = 500,
    after_batch: Callable[[], None] | None = None,
) -> DuesRunResult:
    """Bill every due schedule once: one submitted invoice each, next_invoice_date one period on.

    Due means: Active, auto_generate, ``next_invoice_date - invoice_days_before <= today``, the
    period starts before ``end_date`` (if any), and not billed already today. Never commits;
    the caller's transaction holds the row locks until it commits. The schedules are updated
    in bulk, so schedule objects already loaded in ``session`` keep their old dates until they
    are refreshed.

    ``after_batch`` is called after each batch but the last: the dues job commits the batch
    there (``jobs.commit_chunk``), or stops at a cancel request (it raises, and the batch in
    hand is rolled back).
    """
    require(user, Permission.BILLING_WRITE)
    if batch_size < 1:
        raise ValidationFailed(f"batch_size must be at least 1, got {batch_size}")
    today = today or clock.today()
    result = DuesRunResult()
    after_id = 0
    while True:
        rows = session.execute(_due_schedules(today, after_id, batch_size)).all()
        if not rows:
            break
        charges: list[DuesCharge] = []
        moves: list[dict[str, Any]] = []
        for row in rows:
            start: dt.date = row.next_invoice_date
            next_start = advance(row.anchor or start, start, row.billing_months)
            charges.append(
                _charge(
                    schedule_id=row.id,
                    member_id=row.member_id,
                    customer_id=row.customer_id,
                    amount=row.dues_rate,
                    type_name=row.type_name,
                    start=start,
                    next_start=next_start,
                )
            )
            moves.append(
                {"id": row.id, "next_invoice_date": next_start, "last_invoice_date": today}
            )
        insert_dues_invoices(session, user, charges, today)
        # ORM bulk UPDATE by primary key: one executemany for the whole batch.
        session.execute(update(DuesSchedule), moves)
        result.batches += 1
        result.schedules_billed += len(rows)
        result.invoices_created += len(charges)
        result.total_amount += sum((c.amount for c in charges), Decimal("0.00"))
        if len(rows) < batch_size:
            break  # a short batch was the last one; saves the empty select
        if after_batch is not None:
            after_batch()
        after_id = rows[-1].id
    return result


def bill_schedule_until(
    session: Session, user: User, schedule_id: int, until: dt.date
) -> list[Invoice]:
    """Bill every unbilled period of one schedule that starts before ``until`` (a renewal).

    Shares the invoice rows of the daily run, so a period billed here is never billed by the
    run again and the other way round. A schedule that is not Active bills nothing.
    """
    require_any(user, Permission.MEMBERS_WRITE, Permission.BILLING_WRITE)
    today = clock.today()
    schedule = session.scalar(
        select(DuesSchedule)
        .where(DuesSchedule.id == schedule_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if schedule is None:
        raise NotFound(f"no dues schedule with id {schedule_id}")
    if schedule.status != ScheduleStatus.ACTIVE:
        return []
    if schedule.billing_months < 1:
        raise DuesScheduleWithoutPeriod(f"dues schedule {schedule_id} has no billing period")
    context = session.execute(
        select(MembershipType.name, Membership.start_date)
        .join(Membership, Membership.membership_type_id == MembershipType.id)
        .where(Membership.id == schedule.membership_id)
    ).one()
    charges: list[DuesCharge] = []
    start = schedule.next_invoice_date
    limit = until if schedule.end_date is None else min(until, schedule.end_date)
    while start < limit:
        next_start = advance(context.start_date, start, schedule.billing_months)
        charges.append(
            _charge(
                schedule_id=schedule.id,
                member_id=schedule.member_id,
                customer_id=schedule.customer_id,
                amount=schedule.dues_rate,
                type_name=context.name,
                start=start,
                next_start=next_start,
            )
        )
        start = next_start
        if len(charges) > MAX_PERIODS_AT_ONCE:
            raise TooManyPeriodsAtOnce(
                f"billing dues schedule {schedule_id} until {until} would make more than "
                f"{MAX_PERIODS_AT_ONCE} invoices; check the dates"
            )
    if not charges:
        return []
    invoice_ids = insert_dues_invoices(session, user, charges, today)
    schedule.next_invoice_date = start
    schedule.last_invoice_date = today
    session.flush()
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(invoice_ids))
            .options(selectinload(Invoice.lines))
            .order_by(Invoice.coverage_start)
        )
    )

"""The daily dues run: what it bills, what it leaves alone, and how many statements it costs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from member_factories import bulk_schedules, make_active_member, make_type
from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.billing.models import AuditEvent, Invoice, InvoiceLine
from verenigingen.dues.errors import TooManyPeriodsAtOnce
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.dues.service import bill_schedule_until, generate_dues
from verenigingen.errors import NotFound, PermissionDenied, ValidationFailed
from verenigingen.members.models import BillingPeriod
from verenigingen.perf.capture import capture

TODAY = dt.date(2026, 11, 15)


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def all_invoices(session: Session) -> list[Invoice]:
    session.expire_all()
    return list(session.scalars(select(Invoice).order_by(Invoice.member_id, Invoice.id)))


def test_run_bills_each_due_schedule_once(any_session, admin):
    session = any_session
    monthly = make_type(session, name="Gewoon lid", amount="10.00")
    annual = make_type(session, name="Jaarlid", period=BillingPeriod.ANNUAL, amount="99.00")
    member_a, _, schedule_a = make_active_member(
        session, admin, monthly, start=dt.date(2026, 11, 1)
    )
    member_b, _, schedule_b = make_active_member(
        session, admin, annual, start=dt.date(2026, 12, 10), rate="80.50"
    )

    result = generate_dues(session, admin)

    assert (result.schedules_billed, result.invoices_created) == (2, 2)
    assert result.total_amount == Decimal("90.50")
    first, second = all_invoices(session)
    assert (first.member_id, first.customer_id, first.dues_schedule_id) == (
        member_a.id,
        member_a.customer_id,
        schedule_a.id,
    )
    assert (first.coverage_start, first.coverage_end) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
    )
    assert first.posting_date == TODAY
    assert first.due_date == TODAY + dt.timedelta(days=14)  # period already started
    assert (first.docstatus, first.status) == (1, "Unpaid")
    assert first.grand_total == first.outstanding_amount == Decimal("10.00")
    assert (second.coverage_start, second.coverage_end) == (
        dt.date(2026, 12, 10),
        dt.date(2027, 12, 9),
    )
    assert second.due_date == dt.date(2026, 12, 10)  # not due before the period starts
    assert second.grand_total == Decimal("80.50")
    assert first.number != second.number
    assert first.number.startswith("ACC-SINV-2026-")

    lines = list(session.scalars(select(InvoiceLine).order_by(InvoiceLine.invoice_id)))
    assert [line.description for line in lines] == [
        "Contributie Gewoon lid 01-11-2026 t/m 30-11-2026",
        "Contributie Jaarlid 10-12-2026 t/m 09-12-2027",
    ]
    assert [(line.quantity, line.amount) for line in lines] == [
        (Decimal("1.00"), Decimal("10.00")),
        (Decimal("1.00"), Decimal("80.50")),
    ]
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.event == "dues.generated")))
    assert sorted(e.entity_id for e in events) == sorted([first.id, second.id])
    assert {e.user_id for e in events} == {admin.id}

    schedule_a, schedule_b = (session.get(DuesSchedule, s.id) for s in (schedule_a, schedule_b))
    assert (schedule_a.next_invoice_date, schedule_a.last_invoice_date) == (
        dt.date(2026, 12, 1),
        TODAY,
    )
    assert schedule_b.next_invoice_date == dt.date(2027, 12, 10)
    assert member_b.customer_id == second.customer_id


def test_running_twice_the_same_day_bills_nothing_more(any_session, admin):
    session = any_session
    monthly = make_type(session)
    # Three periods behind: a run bills one of them, the next day's run the next one.
    make_active_member(session, admin, monthly, start=dt.date(2026, 9, 1))
    assert generate_dues(session, admin).invoices_created == 1
    assert generate_dues(session, admin).invoices_created == 0
    with clock.frozen(TODAY + dt.timedelta(days=1)):
        assert generate_dues(session, admin).invoices_created == 1
    starts = [invoice.coverage_start for invoice in all_invoices(session)]
    assert starts == [dt.date(2026, 9, 1), dt.date(2026, 10, 1)]


def test_what_is_not_due_is_not_billed(session, admin):
    monthly = make_type(session)
    make_active_member(session, admin, monthly, start=dt.date(2026, 12, 16))  # 31 days ahead
    make_active_member(session, admin, monthly, start=dt.date(2026, 12, 15))  # 30 days ahead
    _, _, paused = make_active_member(session, admin, monthly, start=TODAY)
    _, _, manual = make_active_member(session, admin, monthly, start=TODAY)
    _, _, ended = make_active_member(session, admin, monthly, start=TODAY)
    session.execute(
        update(DuesSchedule)
        .where(DuesSchedule.id == paused.id)
        .values(status=ScheduleStatus.PAUSED)
    )
    session.execute(
        update(DuesSchedule).where(DuesSchedule.id == manual.id).values(auto_generate=False)
    )
    session.execute(update(DuesSchedule).where(DuesSchedule.id == ended.id).values(end_date=TODAY))

    result = generate_dues(session, admin)

    assert result.invoices_created == 1
    (invoice,) = all_invoices(session)
    assert invoice.coverage_start == dt.date(2026, 12, 15)


def test_run_needs_billing_write(session, admin, membership_secretary):
    with pytest.raises(PermissionDenied):
        generate_dues(session, membership_secretary)
    with pytest.raises(ValidationFailed, match="batch_size"):
        generate_dues(session, admin, batch_size=0)


def test_bill_schedule_until(session, admin, member_user):
    quarterly = make_type(session, period=BillingPeriod.QUARTERLY, enforce=False)
    _, _, schedule = make_active_member(session, admin, quarterly, start=dt.date(2027, 1, 1))
    billed = bill_schedule_until(session, admin, schedule.id, dt.date(2027, 7, 2))
    assert [i.coverage_start for i in billed] == [
        dt.date(2027, 1, 1),
        dt.date(2027, 4, 1),
        dt.date(2027, 7, 1),
    ]
    assert [line.description for line in billed[0].lines] == [
        f"Contributie {quarterly.name} 01-01-2027 t/m 31-03-2027",
    ]
    assert bill_schedule_until(session, admin, schedule.id, dt.date(2027, 7, 2)) == []
    with pytest.raises(NotFound):
        bill_schedule_until(session, admin, 9999, TODAY)
    with pytest.raises(TooManyPeriodsAtOnce, match="more than"):
        bill_schedule_until(session, admin, schedule.id, dt.date(2080, 1, 1))
    with pytest.raises(PermissionDenied):
        bill_schedule_until(session, member_user, schedule.id, dt.date(2028, 1, 1))
    assert session.scalar(select(func.count()).select_from(Invoice)) == 3


# --- statement counts -----------------------------------------------------------------------


def statements_for(session: Session, user: User, schedules: int, batch_size: int) -> int:
    monthly = make_type(session)
    bulk_schedules(session, monthly, schedules, start=TODAY)
    session.flush()
    with capture() as log:
        result = generate_dues(session, user, batch_size=batch_size)
    assert result.invoices_created == schedules
    billed = session.scalar(select(func.count(func.distinct(Invoice.dues_schedule_id))))
    assert billed == schedules
    return log.count


# One batch: select due schedules, reserve invoice numbers (lock the series row and move it on,
# or create it the first time), insert invoices, lines and audit events, update the schedules;
# then the history pipeline: the customers' members, one tag bump, one INSERT of the jobs.
PER_BATCH = 10


@pytest.mark.parametrize("schedules", [20, 200])
def test_statement_count_does_not_grow_with_schedules(any_session, admin, schedules):
    assert statements_for(any_session, admin, schedules, batch_size=500) == PER_BATCH


def test_statement_count_grows_only_per_batch(any_session, admin):
    # 25 schedules in batches of 10: two full batches and a short one ends the run.
    assert statements_for(any_session, admin, 25, batch_size=10) == 3 * PER_BATCH


def test_exactly_full_batches_cost_one_empty_select(session, admin):
    assert statements_for(session, admin, 20, batch_size=10) == 2 * PER_BATCH + 1


def test_the_run_calls_after_batch_between_batches_and_stops_when_it_raises(session, admin):
    bulk_schedules(session, make_type(session), 25, start=TODAY)
    session.flush()
    calls: list[int] = []
    result = generate_dues(session, admin, batch_size=10, after_batch=lambda: calls.append(1))
    assert (result.batches, len(calls)) == (3, 2)  # not after the short last batch

    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    bulk_schedules(session, make_type(session, name="Tweede"), 25, start=TODAY)
    session.flush()
    with session.begin_nested(), pytest.raises(Stop):
        generate_dues(session, admin, batch_size=10, after_batch=stop)

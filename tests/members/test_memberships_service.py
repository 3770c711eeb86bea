"""Renewal dates, renewing (which bills) and cancelling memberships."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from member_factories import make_active_member, make_type
from verenigingen import clock
from verenigingen.billing.models import Invoice
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.dues.service import generate_dues
from verenigingen.errors import NotFound, PermissionDenied, ValidationFailed
from verenigingen.members.errors import (
    CancelledMembershipNotRenewable,
    LifetimeMembershipNotRenewable,
    LifetimeMembershipWithoutPeriodEnd,
    MembershipAlreadyCancelled,
    MembershipTypeWithoutPeriod,
)
from verenigingen.members.models import BillingPeriod, CancellationType, MembershipStatus
from verenigingen.members.service import cancel_membership, first_renewal_date, renew_membership

TODAY = dt.date(2026, 11, 15)


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def invoices(session: Session) -> list[Invoice]:
    return list(session.scalars(select(Invoice).order_by(Invoice.coverage_start)))


# --- renewal dates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "enforce", "custom", "start", "renewal"),
    [
        (BillingPeriod.MONTHLY, True, None, dt.date(2026, 1, 10), dt.date(2027, 1, 10)),
        (BillingPeriod.MONTHLY, False, None, dt.date(2026, 1, 10), dt.date(2026, 2, 10)),
        (BillingPeriod.QUARTERLY, False, None, dt.date(2026, 1, 10), dt.date(2026, 4, 10)),
        (BillingPeriod.QUARTERLY, True, None, dt.date(2026, 1, 10), dt.date(2027, 1, 10)),
        (BillingPeriod.SEMI_ANNUAL, False, None, dt.date(2026, 8, 31), dt.date(2027, 2, 28)),
        (BillingPeriod.ANNUAL, True, None, dt.date(2024, 2, 29), dt.date(2025, 2, 28)),
        (BillingPeriod.CUSTOM, True, 24, dt.date(2026, 1, 1), dt.date(2028, 1, 1)),
        (BillingPeriod.MONTHLY, False, None, dt.date(2026, 1, 31), dt.date(2026, 2, 28)),
        (BillingPeriod.LIFETIME, True, None, dt.date(2026, 1, 10), None),
    ],
)
def test_first_renewal_date(session, period, enforce, custom, start, renewal):
    membership_type = make_type(session, period=period, enforce=enforce, custom_months=custom)
    assert first_renewal_date(membership_type, start) == renewal


def test_custom_type_without_months_is_refused(session):
    membership_type = make_type(session, period=BillingPeriod.CUSTOM, custom_months=None)
    with pytest.raises(MembershipTypeWithoutPeriod, match="period length"):
        first_renewal_date(membership_type, TODAY)


# --- renewing -------------------------------------------------------------------------------


def test_renewal_extends_by_twelve_months_and_bills_each_period(session, admin):
    monthly = make_type(session, amount="5.00", enforce=True)
    _, membership, schedule = make_active_member(session, admin, monthly, start=dt.date(2026, 1, 1))
    renew_membership(session, admin, membership.id)

    assert membership.renewal_date == dt.date(2028, 1, 1)
    billed = invoices(session)
    # every monthly period from January 2026 up to (not including) the new renewal date
    assert len(billed) == 24
    assert billed[0].coverage_start == dt.date(2026, 1, 1)
    assert billed[0].coverage_end == dt.date(2026, 1, 31)
    assert billed[-1].coverage_start == dt.date(2027, 12, 1)
    assert billed[-1].coverage_end == dt.date(2027, 12, 31)
    assert {i.grand_total for i in billed} == {Decimal("5.00")}
    assert {i.dues_schedule_id for i in billed} == {schedule.id}
    session.refresh(schedule)
    assert schedule.next_invoice_date == dt.date(2028, 1, 1)
    assert schedule.last_invoice_date == TODAY


def test_renewal_after_the_daily_run_never_bills_a_period_twice(session, admin):
    quarterly = make_type(session, period=BillingPeriod.QUARTERLY, enforce=False)
    _, membership, _ = make_active_member(session, admin, quarterly, start=dt.date(2026, 12, 1))
    assert generate_dues(session, admin).invoices_created == 1  # Dec to Feb, 30 days ahead
    renew_membership(session, admin, membership.id)
    assert membership.renewal_date == dt.date(2027, 6, 1)
    starts = [i.coverage_start for i in invoices(session)]
    assert starts == [dt.date(2026, 12, 1), dt.date(2027, 3, 1)]
    with clock.frozen(dt.date(2027, 5, 15)):
        assert generate_dues(session, admin).invoices_created == 1  # June: beyond the renewal
    starts = [i.coverage_start for i in invoices(session)]
    assert starts == [dt.date(2026, 12, 1), dt.date(2027, 3, 1), dt.date(2027, 6, 1)]


def test_renewal_keeps_month_end_dates(session, admin):
    monthly = make_type(session, enforce=False)
    _, membership, _ = make_active_member(session, admin, monthly, start=dt.date(2026, 1, 31))
    assert membership.renewal_date == dt.date(2026, 2, 28)
    renew_membership(session, admin, membership.id)
    assert membership.renewal_date == dt.date(2026, 3, 31)
    renew_membership(session, admin, membership.id)
    assert membership.renewal_date == dt.date(2026, 4, 30)
    coverage = [(i.coverage_start, i.coverage_end) for i in invoices(session)]
    assert coverage == [
        (dt.date(2026, 1, 31), dt.date(2026, 2, 27)),
        (dt.date(2026, 2, 28), dt.date(2026, 3, 30)),
        (dt.date(2026, 3, 31), dt.date(2026, 4, 29)),
    ]


def test_renewing_lifetime_or_cancelled_membership_conflicts(session, admin):
    lifetime = make_type(session, period=BillingPeriod.LIFETIME, amount="300.00")
    _, forever, _ = make_active_member(session, admin, lifetime)
    with pytest.raises(LifetimeMembershipNotRenewable, match="lifetime"):
        renew_membership(session, admin, forever.id)

    annual = make_type(session, period=BillingPeriod.ANNUAL)
    _, membership, _ = make_active_member(session, admin, annual)
    cancel_membership(session, admin, membership.id, CancellationType.IMMEDIATE)
    before = len(invoices(session))
    with pytest.raises(CancelledMembershipNotRenewable, match="cancelled"):
        renew_membership(session, admin, membership.id)
    assert len(invoices(session)) == before
    with pytest.raises(NotFound):
        renew_membership(session, admin, 9999)


def test_renewing_needs_members_write(session, admin, treasurer):
    annual = make_type(session, period=BillingPeriod.ANNUAL)
    _, membership, _ = make_active_member(session, admin, annual)
    with pytest.raises(PermissionDenied):
        renew_membership(session, treasurer, membership.id)


# --- cancelling -----------------------------------------------------------------------------


def test_immediate_cancellation_stops_the_schedule(session, admin):
    monthly = make_type(session)
    _, membership, schedule = make_active_member(session, admin, monthly)
    cancel_membership(session, admin, membership.id, "Immediate")
    assert membership.status == MembershipStatus.CANCELLED
    assert (membership.cancellation_type, membership.cancellation_date) == ("Immediate", TODAY)
    session.refresh(schedule)
    assert schedule.status == ScheduleStatus.CANCELLED
    assert generate_dues(session, admin).invoices_created == 0


def test_end_of_period_cancellation_bills_until_the_renewal_date_only(session, admin):
    quarterly = make_type(session, period=BillingPeriod.QUARTERLY, enforce=False)
    _, membership, schedule = make_active_member(
        session, admin, quarterly, start=dt.date(2026, 12, 1)
    )
    cancel_membership(session, admin, membership.id, CancellationType.END_OF_PERIOD)
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.cancellation_date == membership.renewal_date == dt.date(2027, 3, 1)
    session.refresh(schedule)
    assert schedule.end_date == dt.date(2027, 3, 1)

    assert generate_dues(session, admin).invoices_created == 1  # the current quarter
    with clock.frozen(dt.date(2027, 2, 15)):
        assert generate_dues(session, admin).invoices_created == 0  # March starts at end_date
    assert [i.coverage_start for i in invoices(session)] == [dt.date(2026, 12, 1)]
    with pytest.raises(CancelledMembershipNotRenewable, match="end of its period"):
        renew_membership(session, admin, membership.id)


def test_cancelling_twice_conflicts(session, admin):
    monthly = make_type(session)
    _, immediate, _ = make_active_member(session, admin, monthly)
    cancel_membership(session, admin, immediate.id, CancellationType.IMMEDIATE)
    with pytest.raises(MembershipAlreadyCancelled, match="already cancelled"):
        cancel_membership(session, admin, immediate.id, CancellationType.IMMEDIATE)
    _, later, _ = make_active_member(session, admin, monthly)
    cancel_membership(session, admin, later.id, CancellationType.END_OF_PERIOD)
    with pytest.raises(MembershipAlreadyCancelled, match="already cancelled"):
        cancel_membership(session, admin, later.id, CancellationType.IMMEDIATE)
    assert later.status == MembershipStatus.ACTIVE


def test_bad_cancellation_type_or_lifetime_end_of_period(session, admin):
    lifetime = make_type(session, period=BillingPeriod.LIFETIME, amount="300.00")
    _, membership, _ = make_active_member(session, admin, lifetime)
    with pytest.raises(ValidationFailed, match="cancellation_type"):
        cancel_membership(session, admin, membership.id, "Tomorrow")
    with pytest.raises(LifetimeMembershipWithoutPeriodEnd, match="lifetime"):
        cancel_membership(session, admin, membership.id, CancellationType.END_OF_PERIOD)
    assert membership.cancellation_type is None
    cancel_membership(session, admin, membership.id, CancellationType.IMMEDIATE)
    assert membership.status == MembershipStatus.CANCELLED
    count = session.scalar(select(func.count()).select_from(DuesSchedule))
    assert count == 0


def test_end_of_period_cancellations_end_on_their_date(session, admin):
    from verenigingen.members.service.memberships import complete_end_of_period_cancellations

    quarterly = make_type(session, period=BillingPeriod.QUARTERLY, enforce=False)
    _, ending, ending_schedule = make_active_member(
        session, admin, quarterly, start=dt.date(2026, 12, 1)
    )
    _, staying, staying_schedule = make_active_member(
        session, admin, quarterly, start=dt.date(2026, 12, 1)
    )
    cancel_membership(session, admin, ending.id, CancellationType.END_OF_PERIOD)
    assert ending.cancellation_date == dt.date(2027, 3, 1)

    with clock.frozen(dt.date(2027, 2, 28)):  # the day before: still a member
        assert complete_end_of_period_cancellations(session, admin) == 0
    session.refresh(ending)
    assert ending.status == MembershipStatus.ACTIVE

    with clock.frozen(dt.date(2027, 3, 1)):
        assert complete_end_of_period_cancellations(session, admin) == 1
        assert complete_end_of_period_cancellations(session, admin) == 0  # twice: nothing new
    for record in (ending, ending_schedule, staying, staying_schedule):
        session.refresh(record)
    assert ending.status == MembershipStatus.CANCELLED
    assert ending.cancellation_type == CancellationType.END_OF_PERIOD
    assert ending_schedule.status == ScheduleStatus.CANCELLED
    assert staying.status == MembershipStatus.ACTIVE
    assert staying_schedule.status == ScheduleStatus.ACTIVE


def test_ending_cancelled_memberships_needs_members_write(session, treasurer):
    from verenigingen.members.service.memberships import complete_end_of_period_cancellations

    with pytest.raises(PermissionDenied):
        complete_end_of_period_cancellations(session, treasurer)

"""How dues follow the members domain: a new membership is billed, an ended one stops billing."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.dues.invoicing import DuesCharge, insert_dues_invoices, period_description
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.dues.service import bill_schedule_until
from verenigingen.events import FollowUps, subscriber
from verenigingen.members.events import (
    MembershipApproved,
    MembershipCancelled,
    MembershipRenewed,
    MembershipsEnded,
    MemberTerminated,
)
from verenigingen.members.models import BillingPeriod, MembershipType

INVOICE_DAYS_BEFORE = 30
"""A new schedule's invoice is made this many days before its period starts."""


@subscriber(MembershipApproved)
def bill_approved_membership(session: Session, event: MembershipApproved) -> FollowUps:
    """A periodic membership gets a dues schedule (the daily run bills it); a lifetime one its
    single invoice at once. A free membership (rate 0) is not billed."""
    if event.dues_rate <= 0:
        return []
    # Loaded by the approval a moment ago: the identity map answers without a query.
    membership_type = session.get(MembershipType, event.membership_type_id)
    assert membership_type is not None
    if membership_type.billing_period == BillingPeriod.LIFETIME:
        charge = DuesCharge(
            customer_id=event.customer_id,
            member_id=event.member_id,
            dues_schedule_id=None,
            coverage_start=event.start_date,
            coverage_end=None,
            amount=event.dues_rate,
            description=period_description(membership_type.name, event.start_date, None),
        )
        insert_dues_invoices(session, event.user, [charge], clock.today())
        return []
    assert membership_type.period_months is not None  # the approval checked the term
    session.add(
        DuesSchedule(
            membership_id=event.membership_id,
            member_id=event.member_id,
            customer_id=event.customer_id,
            billing_frequency=membership_type.billing_period,
            billing_months=membership_type.period_months,
            dues_rate=event.dues_rate,
            next_invoice_date=event.start_date,
            invoice_days_before=INVOICE_DAYS_BEFORE,
        )
    )
    return []


@subscriber(MembershipRenewed)
def bill_renewed_membership(session: Session, event: MembershipRenewed) -> FollowUps:
    """Bill every period of the membership's schedule that starts before the new renewal date."""
    schedule_id = session.scalar(
        select(DuesSchedule.id).where(DuesSchedule.membership_id == event.membership_id)
    )
    if schedule_id is not None and event.user is not None:
        bill_schedule_until(session, event.user, schedule_id, event.renewal_date)
    return []


@subscriber(MembershipCancelled)
def stop_cancelled_membership(session: Session, event: MembershipCancelled) -> FollowUps:
    """Immediate: the schedule is cancelled. End of Period: it bills no period from the end on."""
    schedule = update(DuesSchedule).where(DuesSchedule.membership_id == event.membership_id)
    if event.immediate:
        session.execute(schedule.values(status=ScheduleStatus.CANCELLED))
    else:
        session.execute(schedule.values(end_date=event.ends_on))
    return []


@subscriber(MembershipsEnded)
def stop_ended_memberships(session: Session, event: MembershipsEnded) -> FollowUps:
    session.execute(
        update(DuesSchedule)
        .where(DuesSchedule.membership_id.in_(event.membership_ids))
        .values(status=ScheduleStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    return []


@subscriber(MemberTerminated)
def stop_terminated_member(session: Session, event: MemberTerminated) -> FollowUps:
    session.execute(
        update(DuesSchedule)
        .where(
            DuesSchedule.member_id == event.member_id,
            DuesSchedule.status != ScheduleStatus.CANCELLED,
        )
        .values(status=ScheduleStatus.CANCELLED)
    )
    return []

"""Membership terms: how long a membership runs, renewal (which bills) and cancellation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from verenigingen import clock, events
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.clock import advance
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.errors import (
    CancelledMembershipNotRenewable,
    LifetimeMembershipNotRenewable,
    LifetimeMembershipWithoutPeriodEnd,
    MembershipAlreadyCancelled,
    MembershipTypeWithoutPeriod,
)
from verenigingen.members.events import MembershipCancelled, MembershipRenewed, MembershipsEnded
from verenigingen.members.models import (
    BillingPeriod,
    CancellationType,
    Membership,
    MembershipStatus,
    MembershipType,
)

MINIMUM_TERM_MONTHS = 12
"""What ``enforce_minimum_period`` guarantees: a membership runs at least this long."""


def term_months(membership_type: MembershipType) -> int | None:
    """Months one membership term runs; None for Lifetime.

    A monthly type that enforces the minimum period still runs 12 months: the member is billed
    monthly but committed for a year.
    """
    if membership_type.billing_period == BillingPeriod.LIFETIME:
        return None
    months = membership_type.period_months
    if months is None or months < 1:
        raise MembershipTypeWithoutPeriod(
            f"membership type {membership_type.name!r} has no period length in months"
        )
    if membership_type.enforce_minimum_period:
        return max(months, MINIMUM_TERM_MONTHS)
    return months


def first_renewal_date(membership_type: MembershipType, start: dt.date) -> dt.date | None:
    term = term_months(membership_type)
    return None if term is None else clock.add_months(start, term)


def lock_membership(session: Session, membership_id: int) -> Membership:
    """The membership with its type, row-locked until the transaction ends (404 if absent)."""
    # The type comes in a second SELECT (selectinload), which takes no lock: locking the shared
    # type row would serialise every renewal of that type.
    membership = session.scalar(
        select(Membership)
        .where(Membership.id == membership_id)
        .options(selectinload(Membership.membership_type))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if membership is None:
        raise NotFound(f"no membership with id {membership_id}")
    return membership


def renew_membership(session: Session, user: User, membership_id: int) -> Membership:
    """Extend the renewal date by one term and bill every period that starts before it.

    Lifetime memberships have no renewal and cancelled ones (or ones cancelled at the end of
    their period) cannot be renewed: both are a 409.
    """
    require(user, Permission.MEMBERS_WRITE)
    membership = lock_membership(session, membership_id)
    if membership.status == MembershipStatus.CANCELLED:
        raise CancelledMembershipNotRenewable(
            f"membership {membership_id} is cancelled and cannot be renewed"
        )
    if membership.cancellation_type is not None:
        raise CancelledMembershipNotRenewable(
            f"membership {membership_id} ends on {membership.cancellation_date} "
            "(cancelled at the end of its period) and cannot be renewed"
        )
    term = term_months(membership.membership_type)
    if term is None or membership.renewal_date is None:
        raise LifetimeMembershipNotRenewable(
            f"membership {membership_id} is a lifetime membership; it never renews"
        )
    # Counted from the start date so that 31 January renews to 31 March, not 28 March.
    membership.renewal_date = advance(membership.start_date, membership.renewal_date, term)
    if membership.status in (MembershipStatus.EXPIRED, MembershipStatus.INACTIVE):
        membership.status = MembershipStatus.ACTIVE
    session.flush()
    events.record(session, MembershipRenewed(user, membership.id, membership.renewal_date))
    return membership


def parse_cancellation_type(value: CancellationType | str) -> CancellationType:
    try:
        return CancellationType(value)
    except ValueError:
        valid = ", ".join(item.value for item in CancellationType)
        raise ValidationFailed(
            f"unknown cancellation_type {value!r}; choose one of: {valid}"
        ) from None


def cancel_membership(
    session: Session, user: User, membership_id: int, cancellation_type: CancellationType | str
) -> Membership:
    """Cancel now (Immediate) or at the renewal date (End of Period); twice is a 409.

    Records ``MembershipCancelled``: its subscribers stop the dues schedule (Immediate) or let
    it bill up to the renewal date and no period that starts on or after it (End of Period).
    """
    require(user, Permission.MEMBERS_WRITE)
    kind = parse_cancellation_type(cancellation_type)
    membership = lock_membership(session, membership_id)
    if membership.status == MembershipStatus.CANCELLED or membership.cancellation_type:
        raise MembershipAlreadyCancelled(
            f"membership {membership_id} is already cancelled "
            f"({membership.cancellation_type}, {membership.cancellation_date})"
        )
    if kind == CancellationType.IMMEDIATE:
        membership.status = MembershipStatus.CANCELLED
        membership.cancellation_date = clock.today()
    else:
        if membership.renewal_date is None:
            raise LifetimeMembershipWithoutPeriodEnd(
                f"membership {membership_id} is a lifetime membership without a period end; "
                "cancel it immediately"
            )
        membership.cancellation_date = membership.renewal_date
    immediate = kind == CancellationType.IMMEDIATE
    events.record(
        session, MembershipCancelled(user, membership.id, membership.cancellation_date, immediate)
    )
    membership.cancellation_type = kind.value
    session.flush()
    return membership


def complete_end_of_period_cancellations(
    session: Session, user: User, today: dt.date | None = None
) -> int:
    """Memberships cancelled at the end of their period whose cancellation date has come become
    Cancelled, with their dues schedules (as an immediate cancellation leaves them); the number
    of memberships. The daily job; running it twice in a day changes nothing the second time."""
    require(user, Permission.MEMBERS_WRITE)
    day = today or clock.today()
    ending = select(Membership.id).where(
        Membership.cancellation_type == CancellationType.END_OF_PERIOD.value,
        Membership.cancellation_date <= day,
        Membership.status != MembershipStatus.CANCELLED.value,
    )
    ids = list(session.scalars(ending.order_by(Membership.id).with_for_update()))
    if not ids:
        return 0
    session.execute(
        update(Membership)
        .where(Membership.id.in_(ids))
        .values(status=MembershipStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    events.record(session, MembershipsEnded(user, tuple(ids)))
    return len(ids)

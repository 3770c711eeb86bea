"""A member at a glance, for the portal's first page: status, membership and fee, the next
invoice, and what is outstanding (with the overdue count) from the financial summary.

Two statements whatever the member's history holds, three before the summary's first job has
run (the figures then come from the ledger, as ``history.service.financial_summary`` does):

1. the member with its summary row, found by the login (a Member: the own-record rule of
   ``members.scope``, the same 403 ``login_not_linked_to_member`` for a login without one) or by
   id (staff, or a Member asking for itself; another's is 403 ``not_own_record``);
2. its memberships with their types and dues schedules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import LoginNotLinkedToMember, NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, is_member_role, require
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.errors import NotFound
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary import Figures, ledger_figures
from verenigingen.members.models import Member, Membership, MembershipStatus, MembershipType


@dataclass(frozen=True)
class MembershipGlance:
    membership_id: int
    type_name: str
    billing_period: str
    """``Monthly``, ``Annual``, ... (``BillingPeriod``); the page translates it."""
    status: str
    start_date: dt.date
    renewal_date: dt.date | None
    fee: Decimal
    """What one invoice of the schedule asks (a reduced or custom rate included); the type's
    amount when the membership has no schedule."""
    next_invoice_date: dt.date | None
    """When the next dues invoice is made (its period starts ``invoice_days_before`` later);
    None when no further invoice is planned (paused, cancelled, ended, lifetime)."""
    next_period_start: dt.date | None


@dataclass(frozen=True)
class MemberOverview:
    member_id: int
    public_id: str
    """``Assoc-Member-YYYY-MM-####``."""
    first_name: str
    full_name: str
    status: str
    member_since: dt.date | None
    membership: MembershipGlance | None
    """The current membership: the newest active one, else the newest."""
    figures: Figures
    figures_as_of: dt.datetime | None
    """When the summary was last written; None when the figures were read from the ledger."""

    @property
    def outstanding(self) -> Decimal:
        return self.figures.outstanding

    @property
    def overdue_count(self) -> int:
        return self.figures.overdue_count


def member_overview(session: Session, user: User, member_id: int | None = None) -> MemberOverview:
    """The overview of ``member_id``, or of the user's own member when None (a portal login)."""
    require(user, Permission.MEMBERS_READ)
    require(user, Permission.BILLING_READ)
    statement = select(Member, MemberFinancialSummary).outerjoin(
        MemberFinancialSummary, MemberFinancialSummary.member_id == Member.id
    )
    if member_id is None:
        statement = statement.where(Member.user_id == user.id)
    else:
        statement = statement.where(Member.id == member_id)
    row = session.execute(statement).first()
    if row is None:
        if member_id is None:
            raise LoginNotLinkedToMember("this login is not linked to a member")
        if is_member_role(user):
            raise NotOwnRecord("a member may only read its own record")
        raise NotFound(f"no member with id {member_id}")
    member: Member = row.Member
    if is_member_role(user) and member.user_id != user.id:
        raise NotOwnRecord("a member may only read its own record")
    summary: MemberFinancialSummary | None = row.MemberFinancialSummary
    if summary is not None:
        figures, as_of = Figures.of(summary), summary.updated_at
    elif member.customer_id is not None:
        figures, as_of = ledger_figures(session, member.customer_id), None
    else:
        figures, as_of = Figures(), None
    return MemberOverview(
        member_id=member.id,
        public_id=member.member_id,
        first_name=member.first_name,
        full_name=member.full_name,
        status=member.status,
        member_since=member.member_since,
        membership=_current_membership(session, member.id),
        figures=figures,
        figures_as_of=as_of,
    )


def _current_membership(session: Session, member_id: int) -> MembershipGlance | None:
    rows = session.execute(
        select(Membership, MembershipType, DuesSchedule)
        .join(MembershipType, MembershipType.id == Membership.membership_type_id)
        .outerjoin(DuesSchedule, DuesSchedule.membership_id == Membership.id)
        .where(Membership.member_id == member_id)
        .order_by(Membership.start_date.desc(), Membership.id.desc())
    ).all()
    if not rows:
        return None
    active = [row for row in rows if row.Membership.status == MembershipStatus.ACTIVE]
    chosen = (active or rows)[0]
    membership: Membership = chosen.Membership
    kind: MembershipType = chosen.MembershipType
    schedule: DuesSchedule | None = chosen.DuesSchedule
    next_start = _next_billed_period(schedule)
    return MembershipGlance(
        membership_id=membership.id,
        type_name=kind.name,
        billing_period=kind.billing_period,
        status=membership.status,
        start_date=membership.start_date,
        renewal_date=membership.renewal_date,
        fee=schedule.dues_rate if schedule is not None else kind.amount,
        next_invoice_date=(
            max(next_start - dt.timedelta(days=schedule.invoice_days_before), clock.today())
            if schedule is not None and next_start is not None
            else None
        ),
        next_period_start=next_start,
    )


def _next_billed_period(schedule: DuesSchedule | None) -> dt.date | None:
    """The start of the next period the schedule will bill, or None when it bills no more."""
    if schedule is None or schedule.status != ScheduleStatus.ACTIVE or not schedule.auto_generate:
        return None
    if schedule.end_date is not None and schedule.next_invoice_date >= schedule.end_date:
        return None
    return schedule.next_invoice_date

"""Factories for members, memberships and dues schedules (tests of members, dues, sepa, web)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.dues.models import DuesSchedule
from verenigingen.members.models import (
    BillingPeriod,
    Customer,
    Member,
    Membership,
    MembershipType,
)
from verenigingen.members.schemas import MemberApplication
from verenigingen.members.service import apply_for_membership, approve_member

VALID_IBAN = "NL91ABNA0417164300"
OTHER_IBAN = "DE89370400440532013000"
_sequence = itertools.count(1)


def make_type(
    session: Session,
    *,
    period: str = BillingPeriod.MONTHLY,
    amount: str = "10.00",
    minimum: str = "0.00",
    enforce: bool = True,
    default: bool = False,
    custom_months: int | None = None,
    name: str | None = None,
) -> MembershipType:
    membership_type = MembershipType(
        name=name or f"{period} {next(_sequence)}",
        billing_period=period,
        custom_period_months=custom_months,
        amount=Decimal(amount),
        minimum_amount=Decimal(minimum),
        enforce_minimum_period=enforce,
        is_default=default,
    )
    session.add(membership_type)
    session.flush()
    return membership_type


def application(**overrides: Any) -> MemberApplication:
    fields: dict[str, Any] = {
        "first_name": "Anna",
        "last_name": f"de Vries {next(_sequence)}",
        "email": "anna@example.org",
        "birth_date": dt.date(1990, 5, 17),
        "address_line": "Dorpsstraat 1",
        "postal_code": "1234 AB",
        "city": "Utrecht",
    }
    fields.update(overrides)
    return MemberApplication(**fields)


def make_applicant(session: Session, user: User, **overrides: Any) -> Member:
    return apply_for_membership(session, user, application(**overrides))


def make_active_member(
    session: Session,
    user: User,
    membership_type: MembershipType,
    *,
    start: dt.date | None = None,
    rate: str | None = None,
    **overrides: Any,
) -> tuple[Member, Membership, DuesSchedule | None]:
    member = make_applicant(session, user, membership_type_id=membership_type.id, **overrides)
    approve_member(session, user, member.id, start_date=start, dues_rate=rate)
    membership = session.scalars(select(Membership).where(Membership.member_id == member.id)).one()
    schedule = session.scalar(
        select(DuesSchedule).where(DuesSchedule.membership_id == membership.id)
    )
    return member, membership, schedule


def bulk_schedules(
    session: Session,
    membership_type: MembershipType,
    count: int,
    *,
    start: dt.date,
    rate: Decimal = Decimal("10.00"),
) -> list[int]:
    """``count`` active members with a due schedule each, in four bulk inserts; schedule ids."""
    months = membership_type.period_months or 1
    tag = next(_sequence)
    customer_ids = list(
        session.scalars(
            insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
            [{"debtor_number": f"BULK-{tag}-{i}", "name": f"Lid {i}"} for i in range(count)],
        )
    )
    member_ids = list(
        session.scalars(
            insert(Member).returning(Member.id, sort_by_parameter_order=True),
            [
                {
                    "member_id": f"BULK-{tag}-{i}",
                    "first_name": "Lid",
                    "last_name": str(i),
                    "email": f"lid{i}@example.org",
                    "status": "Active",
                    "application_status": "Approved",
                    "payment_method": "Bank Transfer",
                    "customer_id": customer_id,
                    "member_since": start,
                }
                for i, customer_id in enumerate(customer_ids)
            ],
        )
    )
    membership_ids = list(
        session.scalars(
            insert(Membership).returning(Membership.id, sort_by_parameter_order=True),
            [
                {
                    "member_id": member_id,
                    "membership_type_id": membership_type.id,
                    "start_date": start,
                    "renewal_date": None,
                    "status": "Active",
                }
                for member_id in member_ids
            ],
        )
    )
    return list(
        session.scalars(
            insert(DuesSchedule).returning(DuesSchedule.id, sort_by_parameter_order=True),
            [
                {
                    "membership_id": membership_id,
                    "member_id": member_id,
                    "customer_id": customer_id,
                    "billing_frequency": membership_type.billing_period,
                    "billing_months": months,
                    "dues_rate": rate,
                    "next_invoice_date": start,
                    "invoice_days_before": 30,
                    "status": "Active",
                    "auto_generate": True,
                }
                for membership_id, member_id, customer_id in zip(
                    membership_ids, member_ids, customer_ids, strict=True
                )
            ],
        )
    )

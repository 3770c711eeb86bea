"""Workloads over members: creation, updates, renewals and the SEPA mandate workflow."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from schwifty import IBAN
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.demo import names
from verenigingen.dues.models import DuesSchedule, ScheduleStatus
from verenigingen.members.models import (
    Member,
    Membership,
    MembershipStatus,
    MembershipType,
    MemberStatus,
    PaymentMethod,
)
from verenigingen.members.schemas import MemberApplication, MemberUpdate
from verenigingen.members.service import (
    apply_for_membership,
    approve_member,
    renew_membership,
    update_member,
)
from verenigingen.perf.workloads.registry import Workload, register
from verenigingen.sepa.models import SepaMandate
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate, list_mandates

SEPA_SHARE = 0.7


def _iban(rng: random.Random) -> str:
    account = f"{rng.randrange(10**9):010d}"
    return str(IBAN.generate("NL", bank_code=rng.choice(names.BANKS), account_code=account))


def _applications(session: Session, n: int, rng: random.Random) -> Sequence[MemberApplication]:
    type_ids = list(session.scalars(select(MembershipType.id).order_by(MembershipType.id)))
    applications = []
    for index in range(n):
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        sepa = rng.random() < SEPA_SHARE
        applications.append(
            MemberApplication(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.perf{index}@example.org".lower().replace(" ", ""),
                birth_date=dt.date(rng.randrange(1950, 2010), rng.randrange(1, 13), 1),
                address_line=f"{rng.choice(names.STREETS)} {rng.randrange(1, 200)}",
                postal_code=f"{rng.randrange(1000, 9999)} AB",
                city=rng.choice(names.CITIES),
                payment_method=PaymentMethod.SEPA_DIRECT_DEBIT
                if sepa
                else PaymentMethod.BANK_TRANSFER,
                iban=_iban(rng) if sepa else None,
                membership_type_id=rng.choice(type_ids),
            )
        )
    return applications


def _apply_and_approve(session: Session, user: User, application: MemberApplication) -> Member:
    member = apply_for_membership(session, user, application)
    return approve_member(session, user, member.id)


def _active_member_ids(session: Session, n: int, rng: random.Random) -> list[int]:
    ids = list(
        session.scalars(
            select(Member.id).where(Member.status == MemberStatus.ACTIVE).order_by(Member.id)
        )
    )
    return rng.sample(ids, min(n, len(ids)))


@dataclass(frozen=True)
class MemberChange:
    member_id: int
    change: MemberUpdate


def _moves(session: Session, n: int, rng: random.Random) -> Sequence[MemberChange]:
    # A member moves house and gets a new email address: the common change at a secretary's desk.
    return [
        MemberChange(
            member_id,
            MemberUpdate(
                address_line=f"{rng.choice(names.STREETS)} {rng.randrange(1, 200)}",
                postal_code=f"{rng.randrange(1000, 9999)} CD",
                city=rng.choice(names.CITIES),
                email=f"verhuisd.{member_id}@example.org",
            ),
        )
        for member_id in _active_member_ids(session, n, rng)
    ]


def _update(session: Session, user: User, item: MemberChange) -> Member:
    return update_member(session, user, item.member_id, item.change)


def _renewable(session: Session, n: int, rng: random.Random) -> Sequence[int]:
    # Memberships whose running schedule has not billed past the renewal date yet, so that
    # every renewal bills at least one period: the same path each time, at any demo size.
    ids = list(
        session.scalars(
            select(Membership.id)
            .join(Member, Member.id == Membership.member_id)
            .join(DuesSchedule, DuesSchedule.membership_id == Membership.id)
            .where(
                DuesSchedule.status == ScheduleStatus.ACTIVE,
                DuesSchedule.next_invoice_date <= Membership.renewal_date,
                Member.status == MemberStatus.ACTIVE,
                Membership.status == MembershipStatus.ACTIVE,
                Membership.cancellation_type.is_(None),
                Membership.renewal_date.is_not(None),
            )
            .order_by(Membership.id)
        )
    )
    return rng.sample(ids, min(n, len(ids)))


def _renew(session: Session, user: User, membership_id: int) -> Membership:
    return renew_membership(session, user, membership_id)


@dataclass(frozen=True)
class SignedMandate:
    member_id: int
    form: MandateCreate


def _mandate_forms(session: Session, n: int, rng: random.Random) -> Sequence[SignedMandate]:
    # Members who pay by bank transfer and switch to direct debit: they have no mandate yet.
    rows = session.execute(
        select(Member.id, Member.member_id)
        .where(
            Member.status == MemberStatus.ACTIVE,
            Member.payment_method == PaymentMethod.BANK_TRANSFER,
            ~select(SepaMandate.id).where(SepaMandate.member_id == Member.id).exists(),
        )
        .order_by(Member.id)
    ).all()
    chosen = rng.sample(list(rows), min(n, len(rows)))
    return [
        SignedMandate(
            member_id,
            MandateCreate(
                mandate_reference=f"PERF-{public_id}",
                iban=_iban(rng),
                sign_date=clock.today(),
            ),
        )
        for member_id, public_id in chosen
    ]


def _record_and_list(session: Session, user: User, item: SignedMandate) -> list[SepaMandate]:
    create_mandate(session, user, item.member_id, item.form)
    return list_mandates(session, user, item.member_id)


MEMBER_CREATION = register(
    Workload(
        name="member_creation",
        description="50 applications, each applied for and approved (customer, membership, dues "
        "schedule or lifetime invoice) in one transaction",
        iterations=50,
        plan=_applications,
        step=_apply_and_approve,
    )
)
MEMBER_UPDATE = register(
    Workload(
        name="member_update",
        description="30 members move house: address, city and email changed (update_member)",
        iterations=30,
        plan=_moves,
        step=_update,
    )
)
MEMBERSHIP_RENEWAL = register(
    Workload(
        name="membership_renewal",
        description="25 memberships renewed by one term, billing the periods up to the new "
        "renewal date (renew_membership)",
        iterations=25,
        plan=_renewable,
        step=_renew,
    )
)
SEPA_MANDATE_WORKFLOW = register(
    Workload(
        name="sepa_mandate_workflow",
        description="25 members switch to direct debit: a signed mandate recorded, then the "
        "member's mandates listed (sepa.service)",
        iterations=25,
        plan=_mandate_forms,
        step=_record_and_list,
    )
)

"""From application to member: apply, approve (customer, membership, dues), reject."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.app_context import settings_of
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.config import Settings
from verenigingen.db.naming import reserve_numbers
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.iban import bank_account
from verenigingen.members.errors import (
    ApplicationAlreadyDecided,
    BicWithoutIban,
    DuesRateBelowMinimum,
    IbanRequiredForDirectDebit,
    NoDefaultMembershipType,
    RejectionReasonRequired,
)
from verenigingen.members.events import MembershipApproved
from verenigingen.members.models import (
    ApplicationStatus,
    Customer,
    Member,
    Membership,
    MembershipStatus,
    MembershipType,
    MemberStatus,
    PaymentMethod,
)
from verenigingen.members.schemas import MemberApplication
from verenigingen.members.service.memberships import first_renewal_date, term_months
from verenigingen.members.service.validation import (
    check_birth_date,
    clean_email,
    clean_name,
    clean_optional,
)
from verenigingen.money import parse_amount

DEBTOR_SERIES = "DEB-"

_OPEN_APPLICATION = (ApplicationStatus.PENDING, ApplicationStatus.UNDER_REVIEW)


def membership_type_or_default(session: Session, type_id: int | None) -> MembershipType:
    """The given type (404 when unknown) or the default type for new members."""
    if type_id is not None:
        membership_type = session.get(MembershipType, type_id)
        if membership_type is None:
            raise NotFound(f"no membership type with id {type_id}")
        return membership_type
    default = session.scalar(
        select(MembershipType)
        .where(MembershipType.is_default.is_(True))
        .order_by(MembershipType.id)
        .limit(1)
    )
    if default is None:
        raise NoDefaultMembershipType(
            "no membership type given and no default membership type is set"
        )
    return default


def lock_member(session: Session, member_id: int) -> Member:
    """The member, row-locked until the transaction ends, so two decisions cannot cross."""
    member = session.scalar(
        select(Member)
        .where(Member.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    return member


def apply_for_membership(
    session: Session, user: User, data: MemberApplication, *, settings: Settings | None = None
) -> Member:
    """Record an application: a Pending member with a fresh ``<prefix>-YYYY-MM-####`` id."""
    require(user, Permission.MEMBERS_WRITE)
    settings = settings or settings_of(session)
    first_name = clean_name(data.first_name, "first_name")
    last_name = clean_name(data.last_name, "last_name")
    email = clean_email(data.email)
    birth_date = check_birth_date(data.birth_date)
    iban, bic = (None, None)
    if clean_optional(data.iban) is not None:
        iban, bic = bank_account(data.iban or "", clean_optional(data.bic))
    elif clean_optional(data.bic) is not None:
        raise BicWithoutIban("a BIC was given without an IBAN")
    if data.payment_method == PaymentMethod.SEPA_DIRECT_DEBIT and iban is None:
        raise IbanRequiredForDirectDebit("an IBAN is required for payment by SEPA Direct Debit")
    membership_type = membership_type_or_default(session, data.membership_type_id)
    if data.customer_id is not None and session.get(Customer, data.customer_id) is None:
        raise NotFound(f"no customer with id {data.customer_id}")

    today = clock.today()
    prefix = f"{settings.member_id_prefix}-{today.year}-{today.month:02d}-"
    (number,) = reserve_numbers(session, prefix, 1)
    account_holder = clean_optional(data.account_holder)
    member = Member(
        member_id=f"{prefix}{number:04d}",
        first_name=first_name,
        last_name=last_name,
        email=email,
        birth_date=birth_date,
        address_line=clean_optional(data.address_line),
        postal_code=clean_optional(data.postal_code),
        city=clean_optional(data.city),
        status=MemberStatus.PENDING,
        application_status=ApplicationStatus.PENDING,
        payment_method=data.payment_method.value,
        iban=iban,
        bic=bic,
        account_holder=account_holder or (f"{first_name} {last_name}" if iban else None),
        requested_membership_type_id=membership_type.id,
        customer_id=data.customer_id,
    )
    session.add(member)
    session.flush()
    return member


def approve_member(
    session: Session,
    user: User,
    member_id: int,
    *,
    membership_type_id: int | None = None,
    dues_rate: Decimal | str | None = None,
    start_date: dt.date | None = None,
) -> Member:
    """Approve a pending application: customer, membership and dues schedule, member Active.

    The rate is the type's amount unless a custom one is given, never below the type's minimum.
    A Lifetime membership gets no schedule: its one invoice is billed now. A zero rate (a free
    membership) bills nothing and gets no schedule.
    """
    require(user, Permission.MEMBERS_WRITE)
    member = lock_member(session, member_id)
    rejected = (
        member.status == MemberStatus.REJECTED
        or member.application_status == ApplicationStatus.REJECTED
    )
    if rejected:
        raise ApplicationAlreadyDecided(
            f"the application of {member.member_id} was rejected; it cannot be approved"
        )
    if member.status != MemberStatus.PENDING or member.application_status not in _OPEN_APPLICATION:
        raise ApplicationAlreadyDecided(
            f"{member.member_id} is already approved (status {member.status}, "
            f"application {member.application_status})"
        )
    membership_type = membership_type_or_default(
        session, membership_type_id or member.requested_membership_type_id
    )
    if dues_rate is None:
        rate = membership_type.amount
    else:
        rate = parse_amount(dues_rate, field="dues_rate")
    if rate < membership_type.minimum_amount:
        raise DuesRateBelowMinimum(
            f"dues_rate {rate} is below the minimum {membership_type.minimum_amount} "
            f"of membership type {membership_type.name!r}"
        )
    term_months(membership_type)  # a type without a period length is refused before any write
    start = start_date or clock.today()

    # Everything is checked; from here on we write.
    customer_id = member.customer_id
    if customer_id is None:
        customer_id = _create_customer(session, member)
        member.customer_id = customer_id
    membership = Membership(
        member_id=member.id,
        membership_type_id=membership_type.id,
        start_date=start,
        renewal_date=first_renewal_date(membership_type, start),
        status=MembershipStatus.ACTIVE,
    )
    session.add(membership)
    session.flush()
    # Billing the membership (a schedule, or a lifetime membership's one invoice) is dues' work.
    events.record(
        session,
        MembershipApproved(
            user=user,
            member_id=member.id,
            customer_id=customer_id,
            membership_id=membership.id,
            membership_type_id=membership_type.id,
            dues_rate=rate,
            start_date=start,
        ),
    )
    member.status = MemberStatus.ACTIVE
    member.application_status = ApplicationStatus.APPROVED
    member.member_since = start
    session.flush()
    return member


def _create_customer(session: Session, member: Member) -> int:
    (number,) = reserve_numbers(session, DEBTOR_SERIES, 1)
    customer = Customer(
        debtor_number=f"{DEBTOR_SERIES}{number:05d}",
        name=member.full_name,
        email=member.email,
        address_line=member.address_line,
        postal_code=member.postal_code,
        city=member.city,
    )
    session.add(customer)
    session.flush()
    return customer.id


def reject_member(session: Session, user: User, member_id: int, reason: str) -> Member:
    """Reject a pending application with a reason; a decided application is a 409."""
    require(user, Permission.MEMBERS_WRITE)
    cleaned = clean_optional(reason)
    if cleaned is None:
        raise RejectionReasonRequired("a reason is required to reject an application")
    if len(cleaned) > 255:
        raise ValidationFailed("the reason may be at most 255 characters")
    member = lock_member(session, member_id)
    if member.status != MemberStatus.PENDING or member.application_status not in _OPEN_APPLICATION:
        raise ApplicationAlreadyDecided(
            f"the application of {member.member_id} is already decided "
            f"(status {member.status}); only pending applications can be rejected"
        )
    member.status = MemberStatus.REJECTED
    member.application_status = ApplicationStatus.REJECTED
    member.rejection_reason = cleaned
    session.flush()
    return member

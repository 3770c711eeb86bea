"""Changes to an existing member: personal and payment details, termination."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, is_member_role, require
from verenigingen.errors import ValidationFailed
from verenigingen.iban import bank_account
from verenigingen.members.errors import (
    BicWithoutIban,
    ContactDetailsOnly,
    IbanRequiredForDirectDebit,
    MemberAlreadyTerminated,
    MemberNotTerminable,
    TerminationBeforeMemberSince,
)
from verenigingen.members.events import MemberChanged, MemberTerminated
from verenigingen.members.models import (
    CancellationType,
    Member,
    Membership,
    MembershipStatus,
    MemberStatus,
    PaymentMethod,
)
from verenigingen.members.schemas import CONTACT_FIELDS, MemberUpdate
from verenigingen.members.scope import read_scope
from verenigingen.members.service.applications import lock_member
from verenigingen.members.service.validation import (
    check_birth_date,
    clean_email,
    clean_name,
    clean_optional,
)

TERMINABLE = (MemberStatus.ACTIVE, MemberStatus.SUSPENDED, MemberStatus.EXPIRED)
"""The statuses a member may be terminated from (a pending application is rejected instead)."""


def _check_may_update(session: Session, user: User, member_id: int, fields: set[str]) -> None:
    if not is_member_role(user):
        require(user, Permission.MEMBERS_WRITE)
        return
    require(user, Permission.MEMBERS_READ)
    if not read_scope(session, user).may_read_member(member_id):
        raise NotOwnRecord("a member may only change its own details")
    others = sorted(fields - CONTACT_FIELDS)
    if others:
        raise ContactDetailsOnly(
            f"a member may change only its contact details ({', '.join(sorted(CONTACT_FIELDS))});"
            f" ask the membership secretary to change {', '.join(others)}"
        )


def _validated_changes(member: Member, sent: dict[str, Any]) -> dict[str, Any]:
    """The new column values, all checked before anything is written."""
    changes: dict[str, Any] = {}
    for field in ("first_name", "last_name"):
        if field in sent:
            changes[field] = clean_name(sent[field], field)
    if "email" in sent:
        changes["email"] = clean_email(sent["email"])
    if "birth_date" in sent:
        changes["birth_date"] = check_birth_date(sent["birth_date"])
    for field in ("address_line", "postal_code", "city", "account_holder"):
        if field in sent:
            changes[field] = clean_optional(sent[field])
    if "payment_method" in sent:
        if sent["payment_method"] is None:
            raise ValidationFailed("payment_method cannot be empty")
        changes["payment_method"] = PaymentMethod(sent["payment_method"]).value
    if "iban" in sent or "bic" in sent:
        iban = clean_optional(sent["iban"]) if "iban" in sent else member.iban
        # A new IBAN without a BIC gets its own BIC: the old one belongs to the old bank.
        bic = clean_optional(sent.get("bic"))
        if iban is None:
            if bic is not None:
                raise BicWithoutIban("a BIC was given without an IBAN")
            changes["iban"], changes["bic"] = None, None
        else:
            changes["iban"], changes["bic"] = bank_account(iban, bic)
    method = changes.get("payment_method", member.payment_method)
    if method == PaymentMethod.SEPA_DIRECT_DEBIT and changes.get("iban", member.iban) is None:
        raise IbanRequiredForDirectDebit("an IBAN is required for payment by SEPA Direct Debit")
    return changes


def update_member(session: Session, user: User, member_id: int, data: MemberUpdate) -> Member:
    """Change the fields sent in ``data`` (with the application's checks).

    A portal member may change only its own contact details (email, address); everything else
    needs the members.write permission.
    """
    sent = data.model_dump(exclude_unset=True)
    _check_may_update(session, user, member_id, set(sent))
    member = lock_member(session, member_id)
    changes = _validated_changes(member, sent)
    for field, value in changes.items():
        setattr(member, field, value)
    session.flush()
    events.record(session, MemberChanged(user, member.id, frozenset(changes)))
    return member


def terminate_member(
    session: Session,
    user: User,
    member_id: int,
    *,
    termination_date: dt.date | None = None,
    reason: str | None = None,
) -> Member:
    """End a membership relation: member Terminated, memberships cancelled.

    Records ``MemberTerminated``: its subscribers cancel the dues schedules and credit what the
    member was invoiced for periods that start after ``termination_date``.

    Only Active, Suspended or Expired members can be terminated; a pending application is
    rejected instead, and terminating twice is a 409.
    """
    require(user, Permission.MEMBERS_WRITE)
    cleaned_reason = clean_optional(reason)
    if cleaned_reason is not None and len(cleaned_reason) > 255:
        raise ValidationFailed("the reason may be at most 255 characters")
    member = lock_member(session, member_id)
    if member.status == MemberStatus.TERMINATED:
        raise MemberAlreadyTerminated(
            f"{member.member_id} was already terminated on {member.termination_date}"
        )
    if member.status not in TERMINABLE:
        raise MemberNotTerminable(
            f"{member.member_id} has status {member.status}; only Active, Suspended or Expired "
            "members can be terminated"
        )
    day = termination_date or clock.today()
    if member.member_since is not None and day < member.member_since:
        raise TerminationBeforeMemberSince(
            f"termination_date {day} lies before member_since {member.member_since}"
        )
    memberships = session.scalars(
        select(Membership)
        .where(
            Membership.member_id == member.id,
            Membership.status.not_in([MembershipStatus.CANCELLED, MembershipStatus.EXPIRED]),
        )
        .with_for_update()
    ).all()
    for membership in memberships:
        membership.status = MembershipStatus.CANCELLED
        membership.cancellation_type = CancellationType.IMMEDIATE.value
        membership.cancellation_date = day
    events.record(session, MemberTerminated(user, member.id, member.customer_id, day))
    member.status = MemberStatus.TERMINATED
    member.termination_date = day
    member.termination_reason = cleaned_reason
    session.flush()
    return member

"""SEPA mandates: recording a signed mandate and listing them (the lifecycle: ``mandates.py``)."""

from __future__ import annotations

import re

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require, require_any
from verenigingen.errors import NotFound
from verenigingen.iban import bank_account
from verenigingen.members.models import Member
from verenigingen.members.scope import ReadScope, read_scope
from verenigingen.sepa.creditor import next_mandate_reference, required_creditor
from verenigingen.sepa.errors import (
    ExpiryBeforeMandateStart,
    FirstCollectionBeforeSignDate,
    InvalidMandateReference,
    MandateReferenceTaken,
    SignDateInFuture,
)
from verenigingen.sepa.events import MandateChanged
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.sepa.schemas import MandateCreate

MAX_REFERENCE_LENGTH = 35
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9/?:().,'+ -]+$")
"""The SEPA (Latin) character set that every bank accepts in a mandate reference."""


def check_mandate_reference(value: str) -> str:
    reference = value.strip()
    if not reference:
        raise InvalidMandateReference("mandate_reference is required")
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise InvalidMandateReference(
            f"mandate_reference may be at most {MAX_REFERENCE_LENGTH} characters, "
            f"got {len(reference)}"
        )
    if not REFERENCE_PATTERN.match(reference):
        raise InvalidMandateReference(
            f"mandate_reference {reference!r} may contain only A-Z, a-z, 0-9, spaces and "
            "/ ? : ( ) . , ' + -"
        )
    if reference.startswith("/") or reference.endswith("/"):
        raise InvalidMandateReference(
            f"mandate_reference {reference!r} may not start or end with /"
        )
    if "//" in reference:
        raise InvalidMandateReference(f"mandate_reference {reference!r} may not contain //")
    return reference


def reference_taken(session: Session, reference: str) -> bool:
    """True when any mandate, in any status, has ``reference`` ignoring case: a reference is
    never used twice, not even after its mandate was cancelled or expired."""
    upper = reference.upper()
    statement = select(SepaMandate.id).where(func.upper(SepaMandate.mandate_reference) == upper)
    return session.scalar(statement.limit(1)) is not None


def create_mandate(
    session: Session, user: User, member_id: int, data: MandateCreate
) -> SepaMandate:
    """Record a signed mandate as Active (Draft when ``data.draft``): unique reference (ignoring
    case; without one, the next of the creditor's pattern), checked IBAN, BIC derived if missing.

    The sign date may not lie in the future, the first collection not before the signature
    and the expiry not before the first collection.
    """
    require_any(user, Permission.BILLING_WRITE, Permission.MEMBERS_WRITE)
    return record_mandate(session, user, member_id, data)


def record_mandate(
    session: Session, user: User, member_id: int, data: MandateCreate
) -> SepaMandate:
    """:func:`create_mandate` once the caller has checked who may (staff, or the member itself:
    ``sepa.self_service``)."""
    given = data.mandate_reference
    reference = check_mandate_reference(given) if given is not None else ""
    iban, bic = bank_account(data.iban, (data.bic or "").strip() or None)
    if data.sign_date > clock.today():
        raise SignDateInFuture(f"sign_date {data.sign_date} lies in the future")
    first = data.first_collection_date
    if first is not None and first < data.sign_date:
        raise FirstCollectionBeforeSignDate(
            f"first_collection_date {first} lies before sign_date {data.sign_date}"
        )
    if data.expiry_date is not None and data.expiry_date <= (first or data.sign_date):
        raise ExpiryBeforeMandateStart(
            f"expiry_date {data.expiry_date} must lie after the mandate starts"
        )
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(f"no member with id {member_id}")
    if given is None:
        creditor = required_creditor(session)
        reference = next_mandate_reference(session, creditor, member.id, clock.today())
    elif reference_taken(session, reference):
        raise MandateReferenceTaken(f"mandate reference {reference!r} is already in use")
    holder = (data.account_holder or "").strip() or member.account_holder or member.full_name
    mandate = SepaMandate(
        mandate_reference=reference,
        member_id=member.id,
        account_holder=holder,
        iban=iban,
        bic=bic,
        sign_date=data.sign_date,
        first_collection_date=first,
        expiry_date=data.expiry_date,
        status=MandateStatus.DRAFT if data.draft else MandateStatus.ACTIVE,
    )
    session.add(mandate)
    session.flush()
    events.record(session, MandateChanged(user, mandate.id, member.id, mandate.status))
    return mandate


def readable_mandates(scope: ReadScope) -> Select[SepaMandate]:
    """Every mandate the scope may read: all of them, or the Member's own."""
    statement = select(SepaMandate)
    if not scope.everything:
        statement = statement.where(SepaMandate.member_id == scope.member_id)
    return statement


def list_mandates(session: Session, user: User, member_id: int) -> list[SepaMandate]:
    """The member's mandates, newest signature first; a portal member sees only its own."""
    require(user, Permission.MEMBERS_READ)
    scope = read_scope(session, user)
    if not scope.may_read_member(member_id):
        raise NotOwnRecord("a member may only read its own mandates")
    statement = readable_mandates(scope)
    if scope.everything:  # a Member's scope is its own member already
        if session.get(Member, member_id) is None:
            raise NotFound(f"no member with id {member_id}")
        statement = statement.where(SepaMandate.member_id == member_id)
    return list(
        session.scalars(statement.order_by(SepaMandate.sign_date.desc(), SepaMandate.id.desc()))
    )

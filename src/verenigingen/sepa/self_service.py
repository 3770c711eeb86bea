"""A member's own mandates: list them, sign a new one, move one to another account, revoke one.

The same services as the treasurer's (``sepa.service``, ``sepa.mandates``), for the member
linked to the login (403 ``login_not_linked_to_member`` for a login without one). A new mandate
is signed today, gets the next reference of the creditor's pattern and is Active at once; an
earlier Active mandate stays until the member revokes it (the newest signature collects). Another
member's mandate is 404: its existence is not revealed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import LoginNotLinkedToMember
from verenigingen.auth.models import User
from verenigingen.members.models import Member
from verenigingen.sepa.mandates import change_own_mandate_account, revoke_own_mandate
from verenigingen.sepa.models import SepaMandate
from verenigingen.sepa.schemas import MandateCreate, OwnMandateIn
from verenigingen.sepa.service import record_mandate


def own_member_id(session: Session, user: User) -> int:
    if not user.enabled:
        raise LoginNotLinkedToMember("this login is disabled")
    member_id = session.scalar(select(Member.id).where(Member.user_id == user.id))
    if member_id is None:
        raise LoginNotLinkedToMember("this login is not linked to a member")
    return member_id


def my_mandates(session: Session, user: User) -> list[SepaMandate]:
    """The login's member's mandates, newest signature first."""
    member_id = own_member_id(session, user)
    return list(
        session.scalars(
            select(SepaMandate)
            .where(SepaMandate.member_id == member_id)
            .order_by(SepaMandate.sign_date.desc(), SepaMandate.id.desc())
        )
    )


def sign_my_mandate(session: Session, user: User, data: OwnMandateIn) -> SepaMandate:
    """A new Active mandate of the login's member, signed today (IBAN checked, BIC derived,
    reference from the creditor's pattern: 409 ``creditor_not_configured`` without one)."""
    member_id = own_member_id(session, user)
    signed = MandateCreate(
        iban=data.iban, bic=data.bic, account_holder=data.account_holder, sign_date=clock.today()
    )
    return record_mandate(session, user, member_id, signed)


def revoke_my_mandate(
    session: Session, user: User, mandate_id: int, reason: str | None = None
) -> SepaMandate:
    """Cancel one of the member's own mandates (409 when it is Cancelled, Invalid or Expired)."""
    member_id = own_member_id(session, user)
    return revoke_own_mandate(session, user, member_id, mandate_id, reason)


def change_my_mandate_account(
    session: Session, user: User, mandate_id: int, iban: str
) -> SepaMandate:
    """Collect one of the member's own mandates from another account: an amendment the next
    collection tells the bank about (409 unless the mandate is Active or Suspended)."""
    member_id = own_member_id(session, user)
    return change_own_mandate_account(session, user, member_id, mandate_id, iban)

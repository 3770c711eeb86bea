"""What a login may read: one answer, asked once per request, used by every list and detail.

Staff roles (Administrator, Treasurer, Membership Secretary) read every record their permissions
allow. A Member reads its own member record and the records of the customer that pays for it:
invoices, payments, mandates, history. Each domain turns the scope into its readable statement
(``readable_members``, ``readable_invoices``, ``readable_mandates``, ...), so the rule is written
once here and applied the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.errors import LoginNotLinkedToMember
from verenigingen.auth.models import User
from verenigingen.auth.permissions import is_member_role
from verenigingen.members.models import Member


@dataclass(frozen=True)
class ReadScope:
    """Everything, or one member and its customer."""

    everything: bool
    member_id: int | None = None
    customer_id: int | None = None
    """None for a member without a customer yet (an application not yet approved)."""

    def may_read_member(self, member_id: int) -> bool:
        return self.everything or member_id == self.member_id

    def may_read_customer(self, customer_id: int | None) -> bool:
        return self.everything or (customer_id is not None and customer_id == self.customer_id)


EVERYTHING = ReadScope(everything=True)


def read_scope(session: Session, user: User) -> ReadScope:
    """The user's scope: no query for staff, one for a Member (403 when the login has none)."""
    if not is_member_role(user):
        return EVERYTHING
    row = session.execute(
        select(Member.id, Member.customer_id).where(Member.user_id == user.id)
    ).first()
    if row is None:
        raise LoginNotLinkedToMember("this login is not linked to a member")
    return ReadScope(everything=False, member_id=row.id, customer_id=row.customer_id)


def may_read_member_owned_by(user: User, owner_user_id: int | None) -> bool:
    """The same rule for a reader that already has the member's login at hand (the history's
    one statement reads it beside the history): staff read any member, a Member only itself."""
    return not is_member_role(user) or owner_user_id == user.id

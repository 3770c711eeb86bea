"""The Member role's own records: the member linked to the login, and the customer who pays."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.members.models import Member


def own_member_ids(session: Session, user: User) -> tuple[int | None, int | None]:
    """(member primary key, customer id) of the login; (None, None) when it has no member."""
    row = session.execute(
        select(Member.id, Member.customer_id).where(Member.user_id == user.id)
    ).first()
    if row is None:
        return None, None
    return row.id, row.customer_id

"""What can be read about users and tokens: administrators read every user's, anyone its own.

A token is never read back: lists show its id, prefix, label, dates and state, not its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import NotOwnRecord
from verenigingen.auth.models import ApiToken, User
from verenigingen.auth.permissions import Permission, has_permission, require
from verenigingen.auth.service import get_user
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page


@dataclass(frozen=True)
class UserSummary:
    user: User
    active_tokens: int
    """Tokens that authenticate today: neither revoked nor expired (a disabled user's included)."""


USER_ORDER = Keyset("users", (User.email,))
"""By email, which is unique: its unique index serves the order."""


def list_users(
    session: Session, actor: User, *, page: PageRequest = PageRequest()
) -> KeysetPage[UserSummary]:
    """Every user by email with its count of active tokens, paged (administrators; 403 for
    other roles, 422 for a page out of range or a bad cursor); one statement for the page, one
    for the total when asked."""
    require(actor, Permission.USERS_ADMIN)
    page.check()
    active_tokens = (
        select(func.count(ApiToken.id))
        .where(ApiToken.user_id == User.id, *_token_is_active())
        .correlate(User)
        .scalar_subquery()
    )
    statement = select(User, active_tokens.label("active_tokens"))

    def summaries(query: Select[Any]) -> list[UserSummary]:
        rows = session.execute(query).all()
        return [UserSummary(user=row.User, active_tokens=row.active_tokens) for row in rows]

    return keyset_page(
        session,
        statement,
        USER_ORDER,
        page,
        key_of=lambda summary: [summary.user.email],
        rows=summaries,
    )


def user_summary(session: Session, user: User) -> UserSummary:
    """``user`` with its count of active tokens (one statement), for the one user a route has
    just changed."""
    count = session.scalar(
        select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id, *_token_is_active())
    )
    return UserSummary(user=user, active_tokens=int(count or 0))


def _token_is_active() -> tuple[ColumnElement[bool], ...]:
    """A token that authenticates now: neither revoked nor past its expiry."""
    return (
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > clock.now()),
    )


def list_tokens(session: Session, actor: User, user_id: int) -> list[ApiToken]:
    """A user's tokens, oldest first, revoked and expired ones included: its own, or anyone's
    for an administrator (403 ``not_own_record`` otherwise; 404 for an unknown user)."""
    if user_id != actor.id and not has_permission(actor, Permission.USERS_ADMIN):
        raise NotOwnRecord("only an administrator may see another user's tokens")
    get_user(session, user_id)
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    )

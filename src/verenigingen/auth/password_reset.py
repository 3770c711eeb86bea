"""Password reset by a one-time link: asked for by email, used once, for a short while.

Asking never tells whether the email has a login: an unknown or disabled account gets no link,
and the page says the same either way. Only the SHA-256 of a link's token is stored. Setting a
password through a link uses it up, together with every other link of the user, and signs the
user out on every browser (whoever had the old password is out).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import PasswordResetLinkInvalid
from verenigingen.auth.models import PasswordReset, User
from verenigingen.auth.service import set_password
from verenigingen.auth.web_sessions import end_all_web_sessions, token_hash

TOKEN_BYTES = 32


@dataclass(frozen=True)
class IssuedReset:
    token: str
    """Goes into the link; shown this once."""
    user: User
    expires_at: dt.datetime


def request_password_reset(
    session: Session, email: str, lifetime: dt.timedelta
) -> IssuedReset | None:
    """A new link for the enabled user with this email and a password or none; None for an
    unknown or disabled email (the caller answers the same either way)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.enabled:
        return None
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    record = PasswordReset(
        user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=now + lifetime
    )
    session.add(record)
    session.flush()
    return IssuedReset(token=token, user=user, expires_at=record.expires_at)


def reset_link_user(session: Session, token: str) -> User:
    """The user a link is for, while it works; else 422 ``password_reset_link_invalid``
    (unknown, used, superseded or expired, one answer for all)."""
    row = session.execute(
        select(User, PasswordReset.expires_at, PasswordReset.used_at)
        .join(PasswordReset, PasswordReset.user_id == User.id)
        .where(PasswordReset.token_hash == token_hash(token))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= clock.now():
        raise PasswordResetLinkInvalid("this password reset link is used, expired or unknown")
    if not row.User.enabled:
        raise PasswordResetLinkInvalid("this password reset link is used, expired or unknown")
    user: User = row.User
    return user


def reset_password(session: Session, token: str, password: str) -> User:
    """Set the password of the link's user (422 for a link that does not work, or a password
    the policy refuses: nothing changes), use up every link of the user and end its sign-ins."""
    user = reset_link_user(session, token)
    set_password(session, user, password)
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=clock.now())
    )
    end_all_web_sessions(session, user)
    return user

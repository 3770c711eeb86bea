"""Browser sign-ins: a row per signed-in browser, found by the SHA-256 of its cookie's token.

Server-side rows rather than a signed cookie, so that a sign-in can end before its cookie does:
signing out deletes the row (a copied cookie is worth nothing afterwards), a password reset and
disabling a user end every sign-in of the user, and an idle browser's sign-in ends on the
server's clock, not the browser's. The price is one statement per page request, read beside the
user (:func:`signed_in_user`), and an occasional update that moves the idle expiry on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import UserDisabled
from verenigingen.auth.models import User, WebSession
from verenigingen.auth.passwords import hash_password, needs_rehash

TOKEN_BYTES = 32
EXTEND_AFTER = dt.timedelta(minutes=1)
"""The idle expiry is moved on by a request only when it last moved this long ago: one update a
minute at most, instead of a write on every page."""


@dataclass(frozen=True)
class SessionLifetime:
    idle: dt.timedelta
    """A sign-in ends after this long without a request."""
    maximum: dt.timedelta
    """A sign-in ends this long after it began."""


@dataclass(frozen=True)
class StartedWebSession:
    token: str
    """The cookie's value: shown to the browser once, only its hash is stored."""
    record: WebSession


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_web_session(
    session: Session, user: User, lifetime: SessionLifetime, *, password: str | None = None
) -> StartedWebSession:
    """Sign ``user`` in on a browser: a new session row with a new token (409 ``user_disabled``
    for a disabled user). The user's sign-ins that have expired are deleted on the way.

    ``password``, the one the user has just proven, replaces a hash of an older kind (scrypt)
    or weaker parameters with today's argon2id.
    """
    if not user.enabled:
        raise UserDisabled(f"{user.email} is disabled")
    now = clock.now()
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at <= now)
    )
    if password is not None and user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    record = WebSession(
        user_id=user.id,
        token_hash=token_hash(token),
        created_at=now,
        expires_at=min(now + lifetime.idle, now + lifetime.maximum),
    )
    session.add(record)
    session.flush()
    return StartedWebSession(token=token, record=record)


def signed_in_user(session: Session, token: str, lifetime: SessionLifetime) -> User | None:
    """The enabled user the token signs in, or None (unknown, expired or signed-out token, or a
    disabled user). One statement; a second, an update, when the idle expiry is to move on."""
    row = session.execute(
        select(User, WebSession.id, WebSession.created_at, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == token_hash(token))
    ).first()
    now = clock.now()
    if row is None or row.expires_at <= now or not row.User.enabled:
        return None
    extended = min(now + lifetime.idle, row.created_at + lifetime.maximum)
    if extended - row.expires_at >= EXTEND_AFTER:
        session.execute(
            update(WebSession).where(WebSession.id == row.id).values(expires_at=extended)
        )
    user: User = row.User
    return user


def end_web_session(session: Session, token: str) -> None:
    """Sign one browser out: its row is deleted (an unknown token changes nothing)."""
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


def end_all_web_sessions(session: Session, user: User) -> int:
    """Sign ``user`` out on every browser; how many sign-ins ended."""
    ended = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return int(ended.rowcount)  # type: ignore[attr-defined]

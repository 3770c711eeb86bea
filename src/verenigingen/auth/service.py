"""Users, their passwords and their API tokens: what may happen to them.

The functions that take an ``actor`` check what that user may do (administrators manage every
user and token; anyone may revoke its own tokens). The others are for the boundaries that act
on their own authority: a test's setup, the command line (which acts as the first
administrator), the login route (which acts for whoever proves the password).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import (
    LastEnabledAdministrator,
    NotOwnRecord,
    UserAlreadyExists,
    UserDisabled,
)
from verenigingen.auth.models import ApiToken, Role, User
from verenigingen.auth.password_policy import check_new_password
from verenigingen.auth.passwords import hash_password, verify_password
from verenigingen.auth.permissions import Permission, has_permission, require
from verenigingen.errors import NotAuthenticated, NotFound, ValidationFailed

TOKEN_PREFIX = "vrg_"  # noqa: S105 (a public marker that makes tokens recognisable)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TOKEN_DAYS = 3650
"""The longest a token may be issued for (ten years); without an expiry it lasts until revoked."""
MAX_LABEL_LENGTH = 100


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(role.value for role in Role)
        raise ValidationFailed(f"unknown role {value!r}; choose one of: {valid}") from None


# Users


def create_user(
    session: Session,
    email: str,
    role: Role | str,
    *,
    password: str | None = None,
    full_name: str = "",
) -> User:
    """Create a login. The email is its name; a password is optional (token-only users) and
    must meet the password policy (422, see ``password_policy``)."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise ValidationFailed(f"not a valid email address: {email!r}")
    role = parse_role(role) if isinstance(role, str) else role
    if password is not None:
        check_new_password(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserAlreadyExists(f"a user with email {email} already exists")
    user = User(
        email=email,
        role=role.value,
        full_name=full_name,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Give ``user`` a new password; it must meet the password policy (422, nothing changed).
    Its tokens stay valid: revoke them too when the old password may have leaked."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    session.flush()


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def disable_user(session: Session, actor: User, user_id: int) -> User:
    """Disable a login (administrators): its password and every token stop working at once
    (each request checks ``enabled``); its tokens are kept, so enabling it brings them back.

    403 for other roles, 404 for an unknown id, 409 ``last_enabled_administrator`` for the only
    enabled Administrator. Disabling a disabled user changes nothing.
    """
    require(actor, Permission.USERS_ADMIN)
    user = get_user(session, user_id)
    if user.enabled and user.is_administrator:
        # Locked, so two administrators disabling each other at once cannot both succeed.
        enabled_administrators = session.scalars(
            select(User.id)
            .where(User.role == Role.ADMINISTRATOR.value, User.enabled.is_(True))
            .with_for_update()
        ).all()
        if list(enabled_administrators) == [user.id]:
            raise LastEnabledAdministrator(
                f"{user.email} is the only enabled Administrator; enable or create another first"
            )
    user.enabled = False
    session.flush()
    return user


def enable_user(session: Session, actor: User, user_id: int) -> User:
    """Enable a disabled login again (administrators); its unexpired, unrevoked tokens work
    again. 403 for other roles, 404 for an unknown id."""
    require(actor, Permission.USERS_ADMIN)
    user = get_user(session, user_id)
    user.enabled = True
    session.flush()
    return user


# Tokens


@dataclass(frozen=True)
class IssuedToken:
    token: str
    """The bearer token itself: shown this once, only its SHA-256 is stored."""
    record: ApiToken


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, user: User, *, label: str = "", expires_in: dt.timedelta | None = None
) -> str:
    """A new bearer token for ``user``; only its hash is stored, so it is shown this once."""
    return new_token(session, user, label=label, expires_in=expires_in).token


def new_token(
    session: Session, user: User, *, label: str = "", expires_in: dt.timedelta | None = None
) -> IssuedToken:
    """A new token for ``user`` with its record: ``label`` says what it is for (at most 100
    characters), ``expires_in`` how long it works (more than nothing, at most ten years; None:
    until revoked). 422 for a bad label or lifetime, 409 ``user_disabled``."""
    label = label.strip()
    if len(label) > MAX_LABEL_LENGTH:
        raise ValidationFailed(f"a token label has at most {MAX_LABEL_LENGTH} characters")
    if expires_in is not None and not dt.timedelta(0) < expires_in <= dt.timedelta(
        days=MAX_TOKEN_DAYS
    ):
        raise ValidationFailed(f"a token expires after 1 to {MAX_TOKEN_DAYS} days")
    if not user.enabled:
        raise UserDisabled(f"{user.email} is disabled; enable it before issuing a token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        token_hash=_token_hash(token),
        prefix=token[:12],
        label=label,
        expires_at=clock.now() + expires_in if expires_in is not None else None,
    )
    session.add(record)
    session.flush()
    return IssuedToken(token=token, record=record)


def issue_token_for(
    session: Session,
    actor: User,
    user_id: int,
    *,
    label: str = "",
    expires_in: dt.timedelta | None = None,
) -> IssuedToken:
    """A new token for another user (administrators): 403, 404, then as :func:`new_token`."""
    require(actor, Permission.USERS_ADMIN)
    return new_token(session, get_user(session, user_id), label=label, expires_in=expires_in)


def authenticate_token(session: Session, token: str) -> User:
    """The enabled user of an unrevoked, unexpired token; else 401 ``not_authenticated``."""
    row = session.execute(
        select(User, ApiToken.revoked_at, ApiToken.expires_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None or not row.User.enabled:
        raise NotAuthenticated("invalid or revoked API token")
    if row.expires_at is not None and row.expires_at <= clock.now():
        raise NotAuthenticated("expired API token")
    user: User = row.User
    return user


def revoke_token(session: Session, actor: User, token_id: int) -> ApiToken:
    """Revoke one token: its owner or an administrator. 404 for an unknown id, 403
    ``not_own_record`` for another user's token. Revoking a revoked token changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.user_id != actor.id and not has_permission(actor, Permission.USERS_ADMIN):
        raise NotOwnRecord(f"API token {token_id} belongs to another user")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        session.flush()
    return token


def revoke_tokens(session: Session, user: User) -> int:
    """Revoke every token of ``user`` that is not revoked yet; how many that were."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return int(revoked.rowcount)  # type: ignore[attr-defined]


def revoke_user_tokens(session: Session, actor: User, user_id: int) -> int:
    """Revoke every token of a user (administrators): 403, 404, else how many were revoked."""
    require(actor, Permission.USERS_ADMIN)
    return revoke_tokens(session, get_user(session, user_id))


# Passwords


@cache
def _unmatchable_hash() -> str:
    """The hash a login of an unknown email is checked against, so that it costs what a wrong
    password costs and the time taken does not tell which emails have a login."""
    return hash_password(secrets.token_urlsafe(32))


def authenticate_password(session: Session, email: str, password: str) -> User:
    """The enabled user with this email and password; else 401 ``not_authenticated``, the same
    answer, after the same work, whether the email is unknown, has no password or is disabled."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.password_hash else None
    matches = verify_password(password, stored or _unmatchable_hash())
    if user is None or stored is None or not matches or not user.enabled:
        raise NotAuthenticated("wrong email or password")
    return user

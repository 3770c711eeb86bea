"""Users and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.errors import UserAlreadyExists
from verenigingen.auth.models import ApiToken, Role, User
from verenigingen.auth.password_policy import check_new_password
from verenigingen.auth.passwords import hash_password, verify_password
from verenigingen.errors import NotAuthenticated, NotFound, ValidationFailed

TOKEN_PREFIX = "vrg_"  # noqa: S105 (a public marker that makes tokens recognisable)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(role.value for role in Role)
        raise ValidationFailed(f"unknown role {value!r}; choose one of: {valid}") from None


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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User) -> str:
    """A new bearer token for ``user``; only its hash is stored, so it is shown this once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), prefix=token[:12]))
    session.flush()
    return token


def authenticate_token(session: Session, token: str) -> User:
    row = session.execute(
        select(User, ApiToken.revoked_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None or not row.User.enabled:
        raise NotAuthenticated("invalid or revoked API token")
    user: User = row.User
    return user


def authenticate_password(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.enabled or not verify_password(password, user.password_hash):
        raise NotAuthenticated("wrong email or password")
    return user


def revoke_tokens(session: Session, user: User) -> None:
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        if token.revoked_at is None:
            token.revoked_at = clock.now()

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin


class Role(enum.StrEnum):
    ADMINISTRATOR = "Administrator"
    TREASURER = "Treasurer"
    MEMBERSHIP_SECRETARY = "Membership Secretary"
    MEMBER = "Member"


class User(IdMixin, Base):
    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(255), unique=True)
    full_name: Mapped[str] = mapped_column(String(140), default="")
    role: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2id hash (PHC string), or an older ``scrypt$n$r$p$salt$hash`` replaced at the next
    sign-in; NULL for users who only use API tokens."""
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    locale: Mapped[str | None] = mapped_column(String(10))
    """The language the user chose for the pages (``nl``, ``en``); NULL: the browser's."""

    @property
    def is_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR


class TokenState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ApiToken(IdMixin, Base):
    """A bearer token. Only its SHA-256 is stored; the token is shown once when issued."""

    __tablename__ = "api_token"

    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    """What the token is for (``ci``, ``bookkeeping export``), shown when tokens are listed."""
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    revoked_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    """UTC; a token past it authenticates no one. NULL: until revoked."""

    def state_at(self, moment: dt.datetime) -> TokenState:
        """Revoked (whatever its expiry), expired once ``expires_at`` is reached, else active.
        ``moment`` is a naive UTC timestamp, as ``clock.now()`` gives."""
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= moment:
            return TokenState.EXPIRED
        return TokenState.ACTIVE


class WebSession(IdMixin, Base):
    """A browser's sign-in. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the table signs no one in. Deleting the row signs that browser out."""

    __tablename__ = "web_session"

    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    """UTC; the sign-in ends ``web_session_max_hours`` after it, however busy."""
    expires_at: Mapped[dt.datetime]
    """UTC; moved on by requests (``web_session_idle_minutes`` past the last one), never past
    the maximum."""


class PasswordReset(IdMixin, Base):
    """A one-time password reset link. Only the SHA-256 of its token is stored."""

    __tablename__ = "password_reset"

    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    """When the link set a password; a used link (or any older link of the user) works no more."""

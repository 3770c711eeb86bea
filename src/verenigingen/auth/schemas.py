"""Shapes of users and tokens as the API shows them: never a password hash or a token's hash."""

from __future__ import annotations

from pydantic import BaseModel, Field

from verenigingen import clock
from verenigingen.auth.models import ApiToken, TokenState
from verenigingen.auth.password_policy import MAX_PASSWORD_LENGTH
from verenigingen.auth.queries import UserSummary
from verenigingen.auth.service import MAX_LABEL_LENGTH, MAX_TOKEN_DAYS, IssuedToken
from verenigingen.clock import UtcDateTime


class UserOut(BaseModel):
    id: int
    email: str
    full_name: str
    role: str
    enabled: bool
    created_at: UtcDateTime
    active_tokens: int
    """Tokens that are neither revoked nor expired."""

    @classmethod
    def of(cls, summary: UserSummary) -> UserOut:
        user = summary.user
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            enabled=user.enabled,
            created_at=user.created_at,
            active_tokens=summary.active_tokens,
        )


class TokenOut(BaseModel):
    id: int
    user_id: int
    prefix: str
    """The token's first 12 characters, to recognise it by."""
    label: str
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    revoked_at: UtcDateTime | None
    state: TokenState

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            user_id=token.user_id,
            prefix=token.prefix,
            label=token.label,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            state=token.state_at(clock.now()),
        )


class IssuedTokenOut(TokenOut):
    token: str
    """The bearer token itself: shown this once, only its SHA-256 is stored."""

    @classmethod
    def issued(cls, issued: IssuedToken) -> IssuedTokenOut:
        return cls(**TokenOut.of(issued.record).model_dump(), token=issued.token)


class TokensOut(BaseModel):
    items: list[TokenOut]


class TokenRequest(BaseModel):
    """A new token for a user: what it is for, and for how long (none: until revoked)."""

    label: str = Field("", max_length=MAX_LABEL_LENGTH)
    expires_in_days: int | None = Field(None, ge=1, le=MAX_TOKEN_DAYS)


class LoginRequest(BaseModel):
    email: str = Field(max_length=255)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    label: str = Field("login", max_length=MAX_LABEL_LENGTH)
    """What the new token is for (``portal``, ``laptop``), shown when tokens are listed."""


class RevokedTokens(BaseModel):
    revoked: int
    """How many tokens were revoked now (those revoked before are not counted)."""

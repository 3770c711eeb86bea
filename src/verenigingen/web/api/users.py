"""/api/v1/users, /api/v1/tokens and /api/v1/me: logins and their API tokens.

Administrators list users, issue and revoke their tokens, and disable or enable them; every user
lists its own tokens (``/me/tokens``) and revokes them. A token is shown once, when issued.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from verenigingen.auth import queries
from verenigingen.auth.schemas import (
    IssuedTokenOut,
    RevokedTokens,
    TokenOut,
    TokenRequest,
    TokensOut,
    UserOut,
)
from verenigingen.auth.service import (
    disable_user,
    enable_user,
    issue_token_for,
    revoke_token,
    revoke_user_tokens,
)
from verenigingen.db.ids import RecordId
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    tags=["users"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("/users")
def list_users(session: SessionDep, user: CurrentUser, page: PageParams) -> Page[UserOut]:
    """Every user by email, with how many of its tokens work now (administrators)."""
    return Page[UserOut].of(queries.list_users(session, user, page=page), UserOut.of)


@router.get("/users/{user_id}/tokens")
def user_tokens(session: SessionDep, user: CurrentUser, user_id: RecordId) -> TokensOut:
    """A user's tokens, revoked and expired ones included (administrators, or the user)."""
    return TokensOut(items=[TokenOut.of(t) for t in queries.list_tokens(session, user, user_id)])


@router.post("/users/{user_id}/tokens", status_code=201)
def issue(
    session: SessionDep, user: CurrentUser, user_id: RecordId, body: TokenRequest
) -> IssuedTokenOut:
    """A new token for the user (administrators); the response is the only time it is shown."""
    expires_in = dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = issue_token_for(session, user, user_id, label=body.label, expires_in=expires_in)
    return IssuedTokenOut.issued(issued)


@router.post("/users/{user_id}/tokens/revoke")
def revoke_all(session: SessionDep, user: CurrentUser, user_id: RecordId) -> RevokedTokens:
    """Revoke every token of the user (administrators); they stop working at once."""
    return RevokedTokens(revoked=revoke_user_tokens(session, user, user_id))


@router.post("/users/{user_id}/disable")
def disable(session: SessionDep, user: CurrentUser, user_id: RecordId) -> UserOut:
    """Disable the user (administrators): its password and tokens stop working at once."""
    return UserOut.of(queries.user_summary(session, disable_user(session, user, user_id)))


@router.post("/users/{user_id}/enable")
def enable(session: SessionDep, user: CurrentUser, user_id: RecordId) -> UserOut:
    """Enable the user again (administrators); its active tokens work again."""
    return UserOut.of(queries.user_summary(session, enable_user(session, user, user_id)))


@router.post("/tokens/{token_id}/revoke")
def revoke(session: SessionDep, user: CurrentUser, token_id: RecordId) -> TokenOut:
    """Revoke one token (its owner or an administrator); revoking it again changes nothing."""
    return TokenOut.of(revoke_token(session, user, token_id))


@router.get("/me/tokens")
def my_tokens(session: SessionDep, user: CurrentUser) -> TokensOut:
    """The acting user's own tokens, revoked and expired ones included."""
    return TokensOut(items=[TokenOut.of(t) for t in queries.list_tokens(session, user, user.id)])

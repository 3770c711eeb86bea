"""/api/v1/auth: a token for an email and password, the login of the coming member portal."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request

from verenigingen.auth.schemas import IssuedTokenOut, LoginRequest
from verenigingen.auth.service import authenticate_password, get_user, new_token
from verenigingen.db.session import unit_of_work
from verenigingen.web.deps import ContextDep, SessionEndingRoute, client_address
from verenigingen.web.openapi import RETRY_AFTER
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/auth",
    tags=["auth"],
    responses={
        **{code: {"model": ErrorBody} for code in (401, 422)},
        429: {"model": ErrorBody, "headers": {"Retry-After": RETRY_AFTER}},
    },
)


@router.post("/token", status_code=201)
def token(request: Request, context: ContextDep, body: LoginRequest) -> IssuedTokenOut:
    """A new token for the user whose email and password these are, working for
    ``login_token_days`` (default 30). A wrong email or password is 401, the same answer
    whether the email has a login or not; too many failures from the address or for the email
    are 429 with ``Retry-After``, before the password is checked.

    The password is checked in a read session (on SQLite one that takes no write lock) and
    the token written in a short transaction of its own, so that no writer waits while scrypt
    runs.
    """
    reads = request.app.state.read_session_factory or request.app.state.session_factory
    with (
        context.throttle.counting_failures(client_address(request), account=body.email),
        reads() as session,
    ):
        user_id = authenticate_password(session, body.email, body.password).id
    lifetime = dt.timedelta(days=context.settings.login_token_days)
    with unit_of_work(request.app.state.session_factory) as session:
        issued = new_token(
            session, get_user(session, user_id), label=body.label, expires_in=lifetime
        )
        return IssuedTokenOut.issued(issued)

"""Request dependencies: the request's unit of work and the authenticated user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.models import User
from verenigingen.auth.service import authenticate_token
from verenigingen.errors import NotAuthenticated

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """The request's transaction: committed when the route returns, rolled back when it raises.

    Reads get the read factory when the app has one: on SQLite their transaction starts
    DEFERRED, so GET requests do not queue behind each other for the write lock.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    if request.method in READ_METHODS:
        factory = getattr(request.app.state, "read_session_factory", None) or factory
    with factory() as session, session.begin():
        yield session


# scope="function": the commit runs before the response is sent, so a commit that fails becomes
# an error response instead of a success for a transaction that never happened.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="API token from `verenigingen users token`")


def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    return authenticate_token(session, credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]

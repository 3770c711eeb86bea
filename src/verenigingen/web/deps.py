"""Request dependencies: the request's unit of work and the authenticated user."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.app_context import AppContext
from verenigingen.auth.models import User
from verenigingen.auth.service import authenticate_token
from verenigingen.auth.throttle import AuthThrottle
from verenigingen.db.session import read_only
from verenigingen.errors import NotAuthenticated
from verenigingen.web.errors import ControlCharacter
from verenigingen.web.timing import note_viewer

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# C0 controls but tab, line feed and carriage return; DEL; the C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


async def refuse_control_characters(request: Request) -> None:
    """Every request's path, query and JSON body, before its route: a control character in any
    text is a 422 (PostgreSQL refuses NUL in text with a 500; SQLite stored it)."""
    texts: list[tuple[str, str]] = [
        (f"path {name}", value) for name, value in request.path_params.items()
    ]
    for name, value in request.query_params.multi_items():
        texts += [(f"query {name!r}", name), (f"query {name}", value)]
    if request.method not in READ_METHODS and "json" in request.headers.get("content-type", ""):
        try:
            body = await request.json()  # parsed once: FastAPI read it first, Starlette keeps it
        except ValueError:
            body = None  # FastAPI's own parsing says what is wrong with it
        texts += list(_strings_in(body, "body"))
    for where, text in texts:
        found = _CONTROL.search(text)
        if found:
            raise ControlCharacter(
                f"{where} holds the control character U+{ord(found.group()):04X}"
            )


def _strings_in(value: object, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value with where it is; a loop, not recursion, so that a deeply
    nested body cannot exhaust the stack."""
    pending: list[tuple[object, str]] = [(value, where)]
    while pending:
        item, place = pending.pop()
        if isinstance(item, str):
            yield place, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield f"{place} key", key
                pending.append((child, f"{place}.{key}"))
        elif isinstance(item, list):
            pending.extend((child, f"{place}[{index}]") for index, child in enumerate(item))


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its
# thread pool, and each such hop costs a request more than the work it does.


def get_context(request: Request) -> AppContext:
    """The application context the app was built with (settings, cache, job engine)."""
    context: AppContext = request.app.state.context
    return context


async def context_dependency(request: Request) -> AppContext:
    return get_context(request)


ContextDep = Annotated[AppContext, Depends(context_dependency)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's transaction: committed when the route returns, rolled back when it raises.

    Reads get the read factory when the app has one: on SQLite their transaction starts
    DEFERRED, so GET requests do not queue behind each other for the write lock.

    Opening the session and its transaction sends nothing (the connection is taken at the
    first statement, in a thread of the pool), so it happens here, on the event loop. A plain
    route of a :class:`SessionEndingRoute` commits it in the thread that ran the route; any
    other route's session is committed here, in a thread-pool hop of its own.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    if request.method in READ_METHODS:
        factory = getattr(request.app.state, "read_session_factory", None) or factory
    session = factory()
    session.begin()
    current = _REQUEST_SESSION.set(session)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(session.close)  # closing rolls the transaction back
        raise
    finally:
        _REQUEST_SESSION.reset(current)
    if session.in_transaction():  # not ended by its route already
        await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    with session:
        session.commit()


_REQUEST_SESSION: ContextVar[Session | None] = ContextVar("request_session", default=None)
"""The session :func:`get_session` opened for the request being handled (a thread of the pool
that runs its route sees it: the request's context is copied there)."""


class SessionEndingRoute(APIRoute):
    """A route whose plain (``def``) endpoint commits and closes the request's session in the
    thread-pool hop that ran it, instead of a hop of its own after it.

    Each hop waits for a thread and for the event loop to take the result back (about 0.15
    ms on this project's machines, more when the cores are busy: docs/benchmarks.md, "What a
    request pays"). The route reads as before: it declares :data:`SessionDep`, and a commit that
    fails still becomes an error response. What changes is the moment: the commit now comes
    before the response model's validation, so a route returns what it has loaded (sessions
    keep their objects' values at commit: ``expire_on_commit=False``).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _ending_the_session(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _ending_the_session(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the endpoint's parameters through the wrapper
    def run_and_commit(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        session = _REQUEST_SESSION.get()
        if session is not None:
            _commit_and_close(session)
        return result

    return run_and_commit


# scope="function": the commit runs before the response is sent, so a commit that fails becomes
# an error response instead of a success for a transaction that never happened.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="API token from `verenigingen users token`")


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The request's API token; 401 when it sends none."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    return credentials.credentials


BearerToken = Annotated[str, Depends(bearer_token)]


def client_address(request: Request) -> str:
    """The address failed authentications count against: the peer of the connection, or the
    address a trusted proxy forwards. uvicorn (``verenigingen serve``) reads ``X-Forwarded-For``
    only from the proxies in ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1 and ::1; its
    ``--proxy-headers``): behind a load balancer elsewhere, name it there, or every client
    counts as the load balancer."""
    return request.client.host if request.client is not None else "unknown"


def throttle_of(request: Request) -> AuthThrottle:
    """The failed-authentication throttle of the app's context."""
    return get_context(request).throttle


def current_user(request: Request, session: SessionDep, token: BearerToken) -> User:
    """The token's user, read in the request's transaction; 401 for an unknown, revoked or
    expired token, 429 once the client address has had too many of those."""
    with throttle_of(request).counting_failures(client_address(request)):
        user = authenticate_token(session, token)
    note_viewer(request, user)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def current_user_outside_transaction(request: Request, token: BearerToken) -> User:
    """The token's user, read in a short read-only session that ends before the route runs.

    For routes that open no request transaction because they run transactions of their own (the
    index manager's DDL: an open transaction would make PostgreSQL's concurrent build wait for
    it, and on SQLite hold the write lock its ledger needs). Same 401 and 429 as
    :func:`current_user`.
    """
    with (
        throttle_of(request).counting_failures(client_address(request)),
        read_only(request.app.state.session_factory) as session,
    ):
        user = authenticate_token(session, token)
        session.expunge(user)  # keep its loaded attributes past the session's end
    note_viewer(request, user)
    return user


CurrentUserOutsideTransaction = Annotated[User, Depends(current_user_outside_transaction)]

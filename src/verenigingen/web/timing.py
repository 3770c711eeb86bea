"""``Server-Timing``: database time and query count, and the app's own time, for those allowed.

Every request is captured (the figures cost little); who gets the header is the
``server_timing`` setting: by default only requests authenticated as an Administrator, since
statement counts and timings tell an outsider how the server works. An Administrator's pages
show the same capture's figures in their footer (:func:`request_queries`).
The same capture feeds the request metrics (``web.metrics``): an observer given to the
middleware sees each finished request with its status, its time and what it sent the database.
"""

from __future__ import annotations

import time
from typing import Literal, Protocol

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verenigingen.auth.models import User
from verenigingen.perf.capture import QueryLog, capture

Audience = Literal["administrators", "everyone", "off"]

_VIEWER_IS_ADMINISTRATOR = "server_timing_viewer_is_administrator"
_QUERY_LOG = "server_timing_query_log"


def note_viewer(request: Request, user: User) -> None:
    """Remember who the request is authenticated as, for the header at the response's start."""
    setattr(request.state, _VIEWER_IS_ADMINISTRATOR, user.enabled and user.is_administrator)


def request_queries(request: Request) -> QueryLog | None:
    """The capture of this request so far (what the header will report), for an Administrator's
    page footer; None for anyone else, or when the setting turns the header off."""
    state = request.scope.get("state", {})
    if not state.get(_VIEWER_IS_ADMINISTRATOR, False):
        return None
    log: QueryLog | None = state.get(_QUERY_LOG)
    return log


class RequestObserver(Protocol):
    def __call__(self, scope: Scope, status: int, seconds: float, log: QueryLog) -> None:
        """A request has been answered: ``scope`` as the router left it (its route), the
        response's status (500 when the app raised before answering), the time from its start
        to its last byte, and the statements it sent."""


class ServerTimingMiddleware:
    """Pure ASGI middleware, so the capture context reaches the endpoint's worker thread."""

    def __init__(
        self,
        app: ASGIApp,
        audience: Audience = "administrators",
        observer: RequestObserver | None = None,
    ) -> None:
        self.app = app
        self.audience = audience
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.audience == "off" and self.observer is None):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # The route's request.state is this dict: the authentication dependency notes the user.
        state = scope.setdefault("state", {})
        with capture(detail=False) as log:
            if self.audience != "off":
                state[_QUERY_LOG] = log

            async def send_with_timing(message: Message) -> None:
                nonlocal status
                if message["type"] != "http.response.start":
                    await send(message)
                    return
                status = message["status"]
                shown = self.audience == "everyone" or (
                    self.audience == "administrators" and state.get(_VIEWER_IS_ADMINISTRATOR, False)
                )
                if shown:
                    total_ms = (time.perf_counter() - started) * 1000
                    db_ms = log.duration_ms
                    value = (
                        f'db;dur={db_ms:.2f};desc="{log.count} queries", '
                        f"app;dur={max(total_ms - db_ms, 0.0):.2f}"
                    )
                    headers = list(message.get("headers", []))
                    headers.append((b"server-timing", value.encode()))
                    message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_with_timing)
            finally:
                if self.observer is not None:
                    self.observer(scope, status, time.perf_counter() - started, log)

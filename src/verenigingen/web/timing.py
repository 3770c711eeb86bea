"""``Server-Timing``: database time and query count, and the app's own time, for those allowed.

Every request is captured (the figures cost little and the footer of the coming pages uses them);
who gets the header is the ``server_timing`` setting: by default only requests authenticated as
an Administrator, since statement counts and timings tell an outsider how the server works.
"""

from __future__ import annotations

import time
from typing import Literal

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verenigingen.auth.models import User
from verenigingen.perf.capture import capture

Audience = Literal["administrators", "everyone", "off"]

_VIEWER_IS_ADMINISTRATOR = "server_timing_viewer_is_administrator"


def note_viewer(request: Request, user: User) -> None:
    """Remember who the request is authenticated as, for the header at the response's start."""
    setattr(request.state, _VIEWER_IS_ADMINISTRATOR, user.enabled and user.is_administrator)


class ServerTimingMiddleware:
    """Pure ASGI middleware, so the capture context reaches the endpoint's worker thread."""

    def __init__(self, app: ASGIApp, audience: Audience = "administrators") -> None:
        self.app = app
        self.audience = audience

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.audience == "off":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The route's request.state is this dict: the authentication dependency notes the user.
        state = scope.setdefault("state", {})
        with capture(detail=False) as log:

            async def send_with_timing(message: Message) -> None:
                shown = self.audience == "everyone" or state.get(_VIEWER_IS_ADMINISTRATOR, False)
                if message["type"] == "http.response.start" and shown:
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

            await self.app(scope, receive, send_with_timing)

"""``Server-Timing`` on every response: database time and query count, and the app's own time."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verenigingen.perf.capture import capture


class ServerTimingMiddleware:
    """Pure ASGI middleware, so the capture context reaches the endpoint's worker thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        with capture(detail=False) as log:

            async def send_with_timing(message: Message) -> None:
                if message["type"] == "http.response.start":
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

"""Headers that keep personal data where it belongs, on every response of the API.

Every ``/api/v1`` response may carry a member's name, address, IBAN or payments: no browser,
proxy or shared cache may keep it (``Cache-Control: no-store``). No response is to be sniffed
into another content type than it declares (``X-Content-Type-Options: nosniff``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PATH_PREFIX = "/api/"


class SecurityHeadersMiddleware:
    """Pure ASGI middleware, like the timing one: it only adds headers to the response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        personal = str(scope.get("path", "")).startswith(API_PATH_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if personal:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Headers that keep personal data where it belongs, and pages from being turned against users.

Every ``/api/v1`` response may carry a member's name, address, IBAN or payments: no browser,
proxy or shared cache may keep it (``Cache-Control: no-store``; the pages set it themselves).
No response is to be sniffed into another content type than it declares
(``X-Content-Type-Options: nosniff``), framed by another site (``X-Frame-Options: DENY`` and
``frame-ancestors 'none'``: no clickjacking), or named in full to another site
(``Referrer-Policy: same-origin``; the password reset page sends none at all).

Every response gets a strict Content-Security-Policy: scripts, styles, images and fonts only
from this site, no inline script or style, forms posted only here, no plugins, no ``<base>``.
The pages are written for it (htmx's settings come from a meta element, Swagger UI starts from a
file). ReDoc and Swagger UI set inline styles, so ``/docs`` and ``/redoc`` allow those, and
ReDoc's web worker (a ``blob:``), and nothing more.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PATH_PREFIX = "/api/"
DOCS_PATHS = ("/docs", "/redoc")

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Pure ASGI middleware, like the timing one: it only adds headers to the response start.
    A header the response set itself (a page's stricter Referrer-Policy) is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        personal = path.startswith(API_PATH_PREFIX)
        policy = DOCS_POLICY if path in DOCS_PATHS else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                added = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", policy.encode()),
                ]
                if personal:
                    added.append((b"cache-control", b"no-store"))
                headers += [(name, value) for name, value in added if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Forged forms: every form (and htmx request) that changes something carries a token that only
a page of this site can know.

The token is an HMAC of a secret the browser holds in an HttpOnly cookie: the sign-in cookie
once signed in, else ``vrg_csrf`` (a random value set by the first page that shows a form). A
page of another site can make the browser send those cookies (SameSite=Lax already stops that
for POSTs from other sites in current browsers), but it can neither read them nor the token of
our pages, so its form arrives without a valid token and gets the 403 page; nothing is written.
The token travels as the form field ``csrf_token`` or the header ``X-CSRF-Token`` (the base
template sets it for htmx on ``<body hx-headers>``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from verenigingen.web.pages.session import CSRF_COOKIE, SESSION_COOKIE

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Exception):
    """A form or htmx request that changes something came without a valid token."""


def form_token(secret: str) -> str:
    """The token of the forms of a browser whose cookie holds ``secret``."""
    return hmac.new(secret.encode(), b"verenigingen form", hashlib.sha256).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def cookie_secrets(request: Request) -> list[str]:
    """The secrets the browser sent: its sign-in token and its form cookie."""
    return [
        value
        for value in (request.cookies.get(SESSION_COOKIE), request.cookies.get(CSRF_COOKIE))
        if value
    ]


async def require_csrf(request: Request) -> None:
    """Pass safe methods; any other needs a token that matches one of the browser's secrets."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.form()  # parsed once: FastAPI's own form parameters reuse it
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not any(
        hmac.compare_digest(form_token(secret), sent) for secret in cookie_secrets(request)
    ):
        raise CsrfRefused("the form came without a valid token")

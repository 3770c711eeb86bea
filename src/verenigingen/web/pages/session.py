"""Who a page request is from: the browser's sign-in cookie, read beside the user in one statement.

The cookie ``vrg_session`` holds a random token (``auth.web_sessions``): HttpOnly (no script
reads it), SameSite=Lax (no other site's form or script sends it along), Secure when the request
came over HTTPS (directly, or from a proxy uvicorn trusts with ``--proxy-headers``), Path=/ and
no Max-Age: it ends with the browser, and the server ends it sooner when the sign-in expires.

A page that needs a signed-in user takes :data:`SignedIn`; without a working sign-in the
request gets the sign-in page, which sends the user back to where it was (:func:`local_path`
keeps that a path on this site, never another site's address).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from verenigingen.auth.models import Role, User
from verenigingen.auth.web_sessions import SessionLifetime, signed_in_user
from verenigingen.config import Settings
from verenigingen.web.deps import SessionDep, get_context
from verenigingen.web.timing import note_viewer

SESSION_COOKIE = "vrg_session"
CSRF_COOKIE = "vrg_csrf"
LANGUAGE_COOKIE = "vrg_lang"
FLASH_COOKIE = "vrg_flash"

_VIEWER = "page_viewer"
_SIGNED_IN_AS = "page_signed_in_as"


@dataclass(frozen=True)
class SignedInAs:
    """The signed-in user as the page around the content shows it, copied when the sign-in is
    read: an error page renders after the request's session has rolled back and closed."""

    user_id: int
    email: str
    full_name: str
    role: str
    locale: str | None

    @classmethod
    def of(cls, user: User) -> SignedInAs:
        return cls(user.id, user.email, user.full_name, user.role, user.locale)


class SignInRequired(Exception):
    """No working sign-in: the page answers with the sign-in page (a redirect to it)."""

    def __init__(self, back_to: str, *, expired: bool) -> None:
        super().__init__(back_to)
        self.back_to = back_to
        self.expired = expired
        """The browser sent a sign-in cookie that no longer works (expired or signed out)."""


def lifetime_of(settings: Settings) -> SessionLifetime:
    return SessionLifetime(
        idle=dt.timedelta(minutes=settings.web_session_idle_minutes),
        maximum=dt.timedelta(hours=settings.web_session_max_hours),
    )


def page_viewer(request: Request, session: SessionDep) -> User | None:
    """The signed-in user of the request, or None; read once per request."""
    if hasattr(request.state, _VIEWER):
        viewer: User | None = getattr(request.state, _VIEWER)
        return viewer
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        user = signed_in_user(session, token, lifetime_of(get_context(request).settings))
    if user is not None:
        note_viewer(request, user)
        setattr(request.state, _SIGNED_IN_AS, SignedInAs.of(user))
    setattr(request.state, _VIEWER, user)
    return user


def viewer_of(request: Request) -> SignedInAs | None:
    """Who :func:`page_viewer` found for this request (None before it ran, or anonymous)."""
    viewer: SignedInAs | None = getattr(request.state, _SIGNED_IN_AS, None)
    return viewer


Viewer = Annotated[User | None, Depends(page_viewer)]


def signed_in(request: Request, viewer: Viewer) -> User:
    """The signed-in user; without one, the sign-in page, then back to this page."""
    if viewer is None:
        raise SignInRequired(
            back_to=request_path(request), expired=SESSION_COOKIE in request.cookies
        )
    return viewer


SignedIn = Annotated[User, Depends(signed_in)]


def home_of(user: User | SignedInAs) -> str:
    """Where a user lands after signing in: a Member in the portal, the other roles at the desk."""
    return "/portal" if user.role == Role.MEMBER else "/desk"


def request_path(request: Request) -> str:
    """The page asked for, as a local path with its query: where to come back to. For a form
    that was posted, the page it was posted from (when that was a page of this site)."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.netloc == request.url.netloc:
        return local_path(parts.path + (f"?{parts.query}" if parts.query else "")) or "/"
    return "/"


def local_path(candidate: str | None) -> str | None:
    """``candidate`` when it is a path on this site (``/portal?x=1``), else None: no scheme, no
    host, no ``//host`` or ``/\\host`` that a browser would take for another site."""
    if not candidate or len(candidate) > 2000 or not candidate.startswith("/"):
        return None
    if candidate.startswith(("//", "/\\")) or "\\" in candidate:
        return None
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in candidate):
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return None
    return candidate


def sign_in_url(back_to: str | None) -> str:
    target = local_path(back_to)
    if target is None or target == "/":
        return "/sign-in"
    return "/sign-in?" + urlencode({"next": target})


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: str = "lax",
) -> None:
    """A cookie of the pages: HttpOnly, SameSite, Secure over HTTPS, for the whole site."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=is_https(request))

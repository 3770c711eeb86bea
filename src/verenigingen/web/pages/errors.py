"""Errors as pages: a browser gets an HTML page in its language where the API gets JSON.

A request routed to a page, or any request outside the API that accepts HTML (an unknown path
typed into the address bar), gets the page; the API, ``/health``, ``/metrics`` and the OpenAPI
document keep the JSON body of ``web.errors``. The status and headers are the same either way
(``Retry-After`` on a 429). A page that needs a sign-in sends an anonymous or expired browser
to the sign-in page, and a forged form gets the 403 page.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.web.pages.csrf import CsrfRefused
from verenigingen.web.pages.forms import N_, SESSION_ENDED, flash
from verenigingen.web.pages.router import is_page
from verenigingen.web.pages.session import (
    SESSION_COOKIE,
    SignInRequired,
    clear_cookie,
    sign_in_url,
)
from verenigingen.web.pages.templating import render

MACHINE_PATHS = ("/api/", "/health", "/metrics", "/openapi.json")

_TITLES: dict[int, tuple[str, str]] = {
    400: (N_("The request could not be read"), N_("Please go back and try again.")),
    403: (
        N_("You may not see this page"),
        N_("This page is not open to your account. Go to your start page instead."),
    ),
    404: (N_("Page not found"), N_("There is no page at this address.")),
    405: (N_("Page not found"), N_("There is no page at this address.")),
    409: (
        N_("This could not be done"),
        N_("The record changed in the meantime. Please go back and try again."),
    ),
    422: (N_("The request could not be read"), N_("Please go back and try again.")),
    429: (
        N_("Too many attempts"),
        N_("Too many failed sign-ins. Please wait %(seconds)s seconds and try again."),
    ),
    503: (
        N_("Temporarily unavailable"),
        N_("The database could not be reached. Please try again in a moment."),
    ),
}
_FORGED = (
    N_("This form has expired"),
    N_(
        "The form was not sent from this site, or it was open too long. "
        "Reload the page and try again."
    ),
)


def wants_page(request: Request) -> bool:
    path = request.url.path
    if path.startswith(MACHINE_PATHS):
        return False
    return is_page(request) or "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request, status: int, code: str, detail: str, headers: Mapping[str, str] | None
) -> Response | None:
    """The HTML page for an error on a page request; None for the API's requests."""
    if not wants_page(request):
        return None
    title, explanation = _TITLES.get(
        status, (N_("Something went wrong"), N_("Please go back and try again."))
    )
    values = {"seconds": (headers or {}).get("Retry-After", "60")}
    return render(
        request,
        "error.html",
        {"title": title, "explanation": explanation, "values": values, "code": code},
        status_code=status,
        headers=headers,
    )


def install_page_errors(app: FastAPI) -> None:
    app.state.error_page = error_page

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, error: SignInRequired) -> Response:
        response = RedirectResponse(sign_in_url(error.back_to), status_code=303)
        if error.expired:
            clear_cookie(response, request, SESSION_COOKIE)
            flash(response, request, SESSION_ENDED)
        return response

    @app.exception_handler(CsrfRefused)
    async def _forged(request: Request, _error: CsrfRefused) -> Response:
        title, explanation = _FORGED
        return render(
            request,
            "error.html",
            {"title": title, "explanation": explanation, "values": {}, "code": "csrf"},
            status_code=403,
        )

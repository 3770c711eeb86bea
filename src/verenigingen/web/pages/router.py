"""The router every page module starts from: out of the OpenAPI document (pages are not the
API), marked as pages (errors become HTML pages), and every unsafe request checked for its form
token (:mod:`.csrf`).

A page module reads::

    router = page_router()

    @router.get("/portal/invoices")
    def invoices(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
        ...  # the same services and permissions as the API
        return render(request, "portal/invoices.html", {...})

and is listed in ``PAGE_MODULES`` (``web/pages/__init__.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from verenigingen.web.deps import SessionEndingRoute
from verenigingen.web.pages.csrf import require_csrf

_PAGE = "is_page"


def mark_page(request: Request) -> None:
    setattr(request.state, _PAGE, True)


def is_page(request: Request) -> bool:
    """The request was routed to a page (an error on it is shown as an HTML page)."""
    return bool(getattr(request.state, _PAGE, False))


def page_router() -> APIRouter:
    return APIRouter(
        route_class=SessionEndingRoute,
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(mark_page), Depends(require_csrf)],
    )

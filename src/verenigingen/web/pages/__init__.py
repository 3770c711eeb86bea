"""The web app's pages: server-rendered (Jinja2, htmx), signed in by a session cookie.

:func:`install_pages` adds the page modules' routers, the static files (``/static``), the API
docs served from those files, and the error pages. A new area of pages is a module here with a
``router = page_router()`` (see :mod:`.router`), its templates under ``web/templates/<area>/``,
and its name in :data:`PAGE_MODULES`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from verenigingen.web.pages import (
    auth,
    desk_admin,
    desk_applications,
    desk_bank,
    desk_billing,
    desk_dues,
    desk_indexes,
    desk_invoice,
    desk_jobs,
    desk_members,
    desk_notifications,
    desk_payment,
    desk_payments,
    desk_perf,
    desk_safety,
    desk_sepa,
    desk_sepa_creditor,
    desk_terminations,
    home,
    portal,
    portal_history,
    portal_invoices,
    portal_jobs,
    portal_mandates,
    portal_notifications,
    portal_profile,
)
from verenigingen.web.pages.docs import docs_router
from verenigingen.web.pages.errors import install_page_errors

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
PAGE_MODULES = (
    home,
    auth,
    portal,
    portal_history,
    portal_invoices,
    portal_jobs,
    portal_mandates,
    portal_notifications,
    portal_profile,
    desk_members,
    desk_applications,
    desk_terminations,
    desk_billing,
    desk_payments,
    desk_payment,
    desk_invoice,
    desk_notifications,
    desk_jobs,
    desk_dues,
    desk_admin,
    desk_perf,
    desk_indexes,
    desk_safety,
    desk_sepa,
    desk_sepa_creditor,
    desk_bank,
)


def install_pages(app: FastAPI, *, api_docs: bool) -> None:
    """Pages, static files and error pages; ``/docs`` and ``/redoc`` when ``api_docs``."""
    install_page_errors(app)
    for module in PAGE_MODULES:
        app.include_router(module.router)
    if api_docs and app.openapi_url:
        app.include_router(docs_router(app.title, app.openapi_url))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

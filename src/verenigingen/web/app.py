"""FastAPI application factory."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import __version__
from verenigingen.app_context import AppContext
from verenigingen.startup import load_all
from verenigingen.web.api import auth as auth_api
from verenigingen.web.api import bank as bank_api
from verenigingen.web.api import bank_reconciliation as bank_reconciliation_api
from verenigingen.web.api import cache as cache_api
from verenigingen.web.api import dues, invoices, jobs, members, memberships, notifications, payments
from verenigingen.web.api import history as history_api
from verenigingen.web.api import indexes as index_api
from verenigingen.web.api import safety as safety_api
from verenigingen.web.api import sepa as sepa_api
from verenigingen.web.api import settings as settings_api
from verenigingen.web.api import users as users_api
from verenigingen.web.deps import refuse_control_characters
from verenigingen.web.errors import install_error_handlers
from verenigingen.web.health import HealthChecks, health_router
from verenigingen.web.metrics import AppMetrics, metrics_router
from verenigingen.web.openapi import install_openapi
from verenigingen.web.pages import install_pages
from verenigingen.web.security_headers import SecurityHeadersMiddleware
from verenigingen.web.timing import ServerTimingMiddleware

API_PREFIX = "/api/v1"


def create_app(
    context: AppContext, *, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the app on ``context``, built at start-up; its routes reach it as a dependency.

    ``session_factory`` replaces the context's sessions for every request (a test runs them in
    savepoints of its own transaction); its sessions must carry the context.
    """
    load_all(context.settings)  # the job names the API may enqueue, the event subscribers
    app = FastAPI(
        title="verenigingen",
        version=__version__,
        description="Members, memberships, dues, invoices and payments of an association.",
        docs_url=None,  # served from the app's own files by web.pages (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json" if context.settings.api_docs_public else None,
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.context = context
    app.state.session_factory = session_factory or context.sessions
    app.state.read_session_factory = None if session_factory else context.read_sessions
    install_error_handlers(app)
    install_openapi(app)
    reads = session_factory or context.read_sessions
    metrics = AppMetrics(context.cache, reads) if context.settings.metrics else None
    app.state.metrics = metrics  # the desk's performance page samples it
    app.add_middleware(
        ServerTimingMiddleware,
        audience=context.settings.server_timing,
        observer=metrics.observe_request if metrics is not None else None,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    # The routers by traffic, the portal's reads first: FastAPI tries every route of the routers
    # before the one that answers (docs/benchmarks.md, "What a request pays"). No two of these
    # routers have paths one could take for the other's, so their order changes no answer.
    by_traffic = (history_api, invoices, notifications, members, payments, memberships, dues, jobs)
    for module in by_traffic:
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(index_api.router, prefix=API_PREFIX)
    app.include_router(cache_api.router, prefix=API_PREFIX)
    app.include_router(settings_api.router, prefix=API_PREFIX)
    app.include_router(bank_api.router, prefix=API_PREFIX)
    app.include_router(bank_reconciliation_api.router, prefix=API_PREFIX)
    app.include_router(sepa_api.router, prefix=API_PREFIX)
    app.include_router(sepa_api.me_router, prefix=API_PREFIX)
    app.include_router(safety_api.router, prefix=API_PREFIX)
    app.include_router(auth_api.router, prefix=API_PREFIX)
    app.include_router(users_api.router, prefix=API_PREFIX)
    app.include_router(health_router(HealthChecks(context.settings, reads)))
    install_pages(app, api_docs=context.settings.api_docs_public)
    if metrics is not None:
        app.include_router(metrics_router(metrics, public=context.settings.metrics_public))
        metrics.learn_routes(app.routes)
    return app

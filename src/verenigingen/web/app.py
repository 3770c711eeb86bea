"""FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import __version__
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.tasks import load_all as load_task_modules
from verenigingen.web.api import cache as cache_api
from verenigingen.web.api import dues, invoices, jobs, members, memberships, notifications, payments
from verenigingen.web.api import history as history_api
from verenigingen.web.api import indexes as index_api
from verenigingen.web.errors import install_error_handlers
from verenigingen.web.timing import ServerTimingMiddleware

API_PREFIX = "/api/v1"


def create_app(
    engine: Engine | None = None, *, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    """Build the app on ``engine`` (default: the configured database) or a given session factory."""
    read_session_factory = None
    if session_factory is None:
        engine = engine or make_engine()
        session_factory = make_session_factory(engine)
        read_session_factory = make_session_factory(
            engine.execution_options(sqlite_begin="DEFERRED")
        )
    app = FastAPI(
        title="verenigingen",
        version=__version__,
        description="Members, memberships, dues, invoices and payments of an association.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.session_factory = session_factory
    app.state.read_session_factory = read_session_factory
    install_error_handlers(app)
    app.add_middleware(ServerTimingMiddleware)
    load_task_modules()  # the job names the API may enqueue
    for module in (members, memberships, invoices, payments, dues, jobs, notifications):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(index_api.router, prefix=API_PREFIX)
    app.include_router(history_api.router, prefix=API_PREFIX)
    app.include_router(cache_api.router, prefix=API_PREFIX)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app

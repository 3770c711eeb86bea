"""``verenigingen serve``: the HTTP API."""

from __future__ import annotations

import typer
import uvicorn

from verenigingen.cli.context import console, ready_engine
from verenigingen.web.app import create_app


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the API (OpenAPI documentation at /docs)."""
    engine = ready_engine()
    app = create_app(engine)
    console.print(f"Serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")

"""``verenigingen serve``: the HTTP API."""

from __future__ import annotations

import typer
import uvicorn

from verenigingen.cli.context import console, ready_context
from verenigingen.jobs.consumer import start_in_thread
from verenigingen.web.app import create_app


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run background jobs in this process (embedded shape only; with Redis, "
        "run `verenigingen worker` processes instead).",
    ),
) -> None:
    """Serve the API (OpenAPI documentation at /docs)."""
    context = ready_context()
    app = create_app(context)
    # The embedded shape needs no second process: jobs run in a thread of this one.
    in_process = worker and not context.settings.redis_url
    stop_consumer = start_in_thread(context.settings, context.jobs) if in_process else None
    if stop_consumer is not None:
        console.print("Running background jobs in this process (--no-worker to turn off).")
    console.print(f"Serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if stop_consumer is not None:
            stop_consumer()

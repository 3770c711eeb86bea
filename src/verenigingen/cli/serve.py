"""``verenigingen serve``: the HTTP API."""

from __future__ import annotations

import typer

from verenigingen.cli.context import console, ready_engine
from verenigingen.config import get_settings
from verenigingen.web.processes import EventLoop, HttpParser
from verenigingen.web.server import exec_server


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, max=64, help="API processes on the port (uvicorn's workers)."
    ),
    worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run background jobs in this process (embedded shape only; with Redis, "
        "run `verenigingen worker` processes instead).",
    ),
    loop: EventLoop = typer.Option(
        "auto",
        help="Event loop: auto is uvloop (C) when installed, asyncio the standard library's.",
    ),
    http: HttpParser = typer.Option(
        "auto",
        help="HTTP parser: auto is httptools (C) when installed, h11 the pure-Python one.",
    ),
) -> None:
    """Serve the API (OpenAPI documentation at /docs)."""
    ready_engine().dispose()  # exits with a one-line message when the schema is not current
    # The embedded shape needs no second process: jobs run in a thread of this one.
    in_process = worker and not get_settings().redis_url
    if in_process:
        console.print("Running background jobs in this process (--no-worker to turn off).")
    console.print(f"Serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    # This process becomes the API process: the command line's modules stay out of its memory.
    exec_server(host, port, workers=workers, job_consumer=in_process, loop=loop, http=http)

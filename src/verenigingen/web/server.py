"""The API process: what ``verenigingen serve`` becomes once it has checked the database.

The command line loads every command group, Alembic (for the schema check), Typer and Rich:
about 16 MB that no request needs. So ``serve`` checks the schema and then replaces itself with
``python -m verenigingen.web.server`` (``os.execv``: the same process id, a fresh interpreter),
which loads only the app. The API's memory is what requests need (docs/benchmarks.md, "Memory").

With ``--workers N`` (N > 1) this process starts N API processes on the port, each building its
app from the environment through :func:`app_from_environment` and listening on a socket of its
own, and supervises them (:mod:`verenigingen.web.processes`). The embedded
shape's job consumer runs in this process's thread: beside the one API, or in the supervisor.

The API process starts with ``MALLOC_ARENA_MAX=2`` unless the operator has set it: glibc gives
each thread that allocates its own arena (up to eight per core), and the thread pool that runs
the routes holds dozens of threads, each arena keeping freed memory of its own. Two arenas is
the usual setting for threaded Python servers (docs/benchmarks.md, "Memory").

uvicorn runs on uvloop's event loop and parses HTTP with httptools (both C, dependencies of the
project) unless ``--loop asyncio`` or ``--http h11`` asks for the pure-Python ones; what each
saves a request is in docs/benchmarks.md ("The load test").
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import get_args

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from verenigingen.app_context import AppContext
from verenigingen.config import get_settings
from verenigingen.jobs.consumer import start_in_thread
from verenigingen.jobs.engine import JobEngine
from verenigingen.startup import load_all
from verenigingen.web.app import create_app
from verenigingen.web.processes import (
    CannotListen,
    EventLoop,
    HttpParser,
    ProcessOptions,
    serve_in_processes,
)

FACTORY = "verenigingen.web.server:app_from_environment"
MALLOC_ARENAS = "2"


def app_from_environment() -> FastAPI:
    """The app on the configured database (the schema was checked by ``serve``)."""
    return create_app(AppContext.build(get_settings()))


def server_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The API process's environment: this one, with glibc's arenas capped unless set."""
    return {"MALLOC_ARENA_MAX": MALLOC_ARENAS, **environment}


def exec_server(
    host: str,
    port: int,
    *,
    workers: int,
    job_consumer: bool,
    loop: EventLoop = "auto",
    http: HttpParser = "auto",
) -> None:
    """Replace this process with the API process (never returns)."""
    arguments = ["--host", host, "--port", str(port), "--workers", str(workers)]
    arguments += ["--loop", loop, "--http", http]
    if job_consumer:
        arguments.append("--job-consumer")
    sys.stdout.flush()
    sys.stderr.flush()
    # A fixed module and arguments, no shell: the same interpreter started afresh.
    os.execve(  # noqa: S606
        sys.executable,
        [sys.executable, "-m", "verenigingen.web.server", *arguments],
        server_environment(os.environ),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m verenigingen.web.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--job-consumer", action="store_true")
    parser.add_argument("--loop", choices=get_args(EventLoop), default="auto")
    parser.add_argument("--http", choices=get_args(HttpParser), default="auto")
    args = parser.parse_args(argv)
    settings = get_settings()
    app = None
    if args.workers == 1:
        context = AppContext.build(settings)
        app, jobs = create_app(context), context.jobs
    else:
        jobs = JobEngine.from_settings(settings)  # each API process builds its own app
    stop_consumer = None
    if args.job_consumer:
        load_all(settings)
        stop_consumer = start_in_thread(settings, jobs)
    status = 0
    try:
        if app is not None:
            uvicorn.run(
                app,
                host=args.host,
                port=args.port,
                loop=args.loop,
                http=args.http,
                log_level="info",
            )
        else:
            options = ProcessOptions(FACTORY, args.host, args.port, args.loop, args.http)
            try:
                status = serve_in_processes(options, args.workers)
            except CannotListen as error:
                print(f"verenigingen serve: {error}", file=sys.stderr)
                status = STARTUP_FAILURE  # as uvicorn exits when its one process cannot bind
    finally:
        if stop_consumer is not None:
            stop_consumer()
    sys.exit(status)


if __name__ == "__main__":
    main()

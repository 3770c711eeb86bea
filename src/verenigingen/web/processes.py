"""Several API processes on one port, each listening on a socket of its own.

uvicorn's own ``--workers`` shares one listening socket between its processes: each waits on
it, and the first to wake accepts every connection that is waiting. A few keep-alive clients
that connect at once (a proxy's pool of upstream connections, the load test's users) then all
land on one process while the others idle: all 8 of the load test's connections on one of two
processes (docs/benchmarks.md, "The load test"). Here each process binds the port itself with
``SO_REUSEPORT`` and the kernel spreads new connections over the processes' sockets by a hash
of their addresses.

The supervisor starts the processes, starts one again when it dies, and on SIGTERM or SIGINT
stops them all; each finishes the requests it has begun (uvicorn's graceful shutdown). A
process that fails to start (uvicorn's exit status 3, e.g. an app that cannot be built) stops
the supervisor with that status instead of being started again and again.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Literal

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

EventLoop = Literal["auto", "asyncio", "uvloop"]
"""uvicorn's event loops; ``auto`` is uvloop when it is installed."""
HttpParser = Literal["auto", "h11", "httptools"]
"""uvicorn's HTTP implementations; ``auto`` is httptools when it is installed."""
GRACEFUL_SECONDS = 30.0
"""How long a stopping process may take to finish its requests before it is killed."""
CHECK_SECONDS = 0.5
"""How often the supervisor looks for a process that has ended."""


class CannotListen(Exception):
    """The API's address cannot be bound: nothing was started."""


@dataclass(frozen=True)
class ProcessOptions:
    """What each API process serves and how (the arguments of ``uvicorn.Config``)."""

    factory: str
    """``module:function`` building the app, called in each process."""
    host: str
    port: int
    loop: EventLoop = "auto"
    http: HttpParser = "auto"
    log_level: str = "info"


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT``: one of the port's group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_in_processes(options: ProcessOptions, workers: int) -> int:
    """Run ``workers`` API processes until SIGTERM or SIGINT; the exit status (0, or
    ``STARTUP_FAILURE`` when a process failed to start). Raises :class:`CannotListen` at once
    when the address cannot be bound (taken by another program, or not this machine's)."""
    try:
        listening_socket(options.host, options.port).close()  # fail here, not in each process
    except OSError as error:
        raise CannotListen(f"cannot listen on {options.host}:{options.port}: {error}") from error
    context = multiprocessing.get_context("spawn")  # a fresh interpreter, as uvicorn's workers
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("Stopping the API processes (%s)", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [_start(context, options) for _ in range(workers)]
    status = 0
    try:
        while not stopping.wait(CHECK_SECONDS):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("An API process failed to start; stopping")
                    status = STARTUP_FAILURE
                    stopping.set()
                    break
                logger.warning(
                    "API process %s ended (exit status %s); starting another",
                    process.pid,
                    process.exitcode,
                )
                processes[index] = _start(context, options)
    finally:
        _stop_all(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _start(context: multiprocessing.context.SpawnContext, options: ProcessOptions) -> BaseProcess:
    process = context.Process(target=_serve, args=(options,), name="verenigingen-api")
    process.start()
    logger.info("Started API process %s", process.pid)
    return process


def _serve(options: ProcessOptions) -> None:
    """One API process: its own socket in the port's group, its own app and event loop."""
    config = uvicorn.Config(
        options.factory,
        factory=True,
        host=options.host,
        port=options.port,
        loop=options.loop,
        http=options.http,
        log_level=options.log_level,
    )
    try:
        config.load()  # imports the factory and builds the app; exits when either fails
    except SystemExit:
        raise SystemExit(STARTUP_FAILURE) from None
    server = uvicorn.Server(config)
    server.run(sockets=[listening_socket(options.host, options.port)])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _stop_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests it has begun
    for process in processes:
        process.join(GRACEFUL_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()

"""``verenigingen worker``: processes that run tracked jobs."""

from __future__ import annotations

import logging

import typer

from verenigingen.cli.context import console, fail, ready_engine
from verenigingen.config import get_settings
from verenigingen.errors import ValidationFailed
from verenigingen.jobs.consumer import run_workers
from verenigingen.jobs.models import Queue
from verenigingen.jobs.registry import parse_queue, task_names
from verenigingen.startup import load_all


def parse_queues(value: str) -> list[Queue]:
    """``short,default`` → the queues in that order (earlier ones are served first)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise ValidationFailed("name at least one queue: short, default or long")
    queues: list[Queue] = []
    for name in names:
        queue = parse_queue(name)
        if queue not in queues:
            queues.append(queue)
    return queues


def worker(
    queues: str = typer.Option(
        "short,default,long", help="Queues to serve, comma-separated, most urgent first."
    ),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes on this machine."),
) -> None:
    """Run tracked jobs until stopped (SIGTERM or Ctrl-C lets running jobs finish)."""
    try:
        chosen = parse_queues(queues)
    except ValidationFailed as error:
        raise fail(error.detail) from None
    ready_engine().dispose()  # refuse to start on an unreachable or outdated database
    settings = get_settings()
    try:
        load_all(settings)
    except ImportError as error:
        raise fail(
            f"cannot load a task module ({error}); check VERENIGINGEN_JOB_TASK_MODULES"
        ) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(message)s")
    backend = "Redis" if settings.redis_url else f"SQLite in {settings.data_dir}"
    console.print(
        f"Worker: {workers} process(es) on {', '.join(q.value for q in chosen)} "
        f"({backend}); tasks: {', '.join(task_names())}",
        highlight=False,
    )
    run_workers(chosen, workers)

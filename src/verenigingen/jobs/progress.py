"""How far a long task is: ``report_progress(done, total)`` between its steps.

The call costs no query. In a worker, the job's :class:`Progress` keeps the latest figures; the
heartbeat writes them to the job row in its own short transaction (``job.progress_done`` and
``progress_total``, shown by ``GET /api/v1/jobs/{id}`` and ``verenigingen jobs show``) while the
task runs, and the worker writes the last figures with the job's end. On SQLite the task's
transaction holds the write lock, so there the figures appear at the end (or whenever the lock
is free); on PostgreSQL and MariaDB within a heartbeat. Outside a job a command line may listen
instead (:func:`listening`, for a progress bar); with neither, the call does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from verenigingen.jobs.models import Job

Listener = Callable[[int, int], None]
"""Called with (done, total) on every report."""


@dataclass(frozen=True)
class Figures:
    done: int
    total: int


class Progress:
    """The latest figures of one running job, shared by its task's thread and the heartbeat's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: Figures | None = None
        self._written: Figures | None = None

    def report(self, done: int, total: int) -> None:
        with self._lock:
            self._figures = Figures(max(0, done), max(0, total))

    @property
    def figures(self) -> Figures | None:
        with self._lock:
            return self._figures

    def unwritten(self) -> Figures | None:
        """The figures when they changed since the last :meth:`mark_written`, else None."""
        with self._lock:
            return self._figures if self._figures != self._written else None

    def mark_written(self, figures: Figures) -> None:
        with self._lock:
            self._written = figures


_current = threading.local()


def report_progress(done: int, total: int) -> None:
    """Tell whoever follows this thread's task that ``done`` of ``total`` steps are done."""
    listener: Listener | None = getattr(_current, "listener", None)
    if listener is not None:
        listener(done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send the reports of the work done in the block to ``listener`` (a progress bar)."""
    outer = getattr(_current, "listener", None)
    _current.listener = listener
    try:
        yield
    finally:
        _current.listener = outer


@contextmanager
def reporting_to(progress: Progress) -> Iterator[None]:
    """The worker's side: the reports of the task run in the block go to ``progress``."""
    with listening(progress.report):
        yield


def write_progress(session: Session, job_id: int, figures: Figures) -> None:
    """Store ``figures`` on the job row, in the session's transaction."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(progress_done=figures.done, progress_total=figures.total)
        .execution_options(synchronize_session=False)
    )

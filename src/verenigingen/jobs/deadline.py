"""A job's timeout: :func:`deadline` stops the task with :class:`JobTimeout` after its seconds.

The timer is SIGALRM, and signals reach only the main thread: worker processes run their jobs
there. The in-process consumer of ``serve`` runs them in a thread, where no signal can stop a
task; there the lease does it: past timeout + grace the sweeper counts the attempt as failed and
the late completion finds the job no longer its own.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class JobTimeout(BaseException):
    """Raised in a job past its timeout. A BaseException, so a task's ``except Exception``
    cannot swallow it and run on."""


def can_stop_jobs_here() -> bool:
    """Whether a deadline can interrupt a job in this thread (the main thread, with timers)."""
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise :class:`JobTimeout` in the block after ``seconds``, where a signal can do it."""
    if not can_stop_jobs_here():
        yield
        return

    def _expired(_signum: int, _frame: FrameType | None) -> None:
        raise JobTimeout

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

"""Stopping a running task early: by its timeout (:class:`JobTimeout`), or by a cancel request
(:class:`JobCancelled`).

The timer is SIGALRM, and signals reach only the main thread: worker processes run their jobs
there. The in-process consumer of ``serve`` runs them in a thread, where no signal can stop a
task; there the lease does it: past timeout + grace the heartbeat renews it no more, the sweeper
counts the attempt as failed and the late completion finds the job no longer its own.

A cancel request reaches the attempt through the worker's heartbeat (jobs.heartbeat), which
calls :meth:`AttemptStop.request_cancel`. Where a timer runs, that moves the timer to now: the
task is stopped as a timeout would stop it, but with :class:`JobCancelled`. Elsewhere the request
waits for the task to ask (:func:`stop_if_cancel_requested`, e.g. between the batches of the
dues run) or for the task's end, when the worker ends the job Cancelled instead of Completed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SOON = 0.001
"""Seconds: what the timer is set to when a cancel request should stop the task now."""


class JobTimeout(BaseException):
    """Raised in a job past its timeout. A BaseException, so a task's ``except Exception``
    cannot swallow it and run on."""


class JobCancelled(BaseException):
    """Raised in a job whose cancel an administrator requested: its work is rolled back and the
    job ends Cancelled. A BaseException, like :class:`JobTimeout`."""


class AttemptStop:
    """What may stop one running attempt early: a cancel request (from the heartbeat's thread)
    and, while its task runs in the main thread, the timer that can interrupt it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timer_armed = False
        self.cancel_requested_by: str | None = None
        """Who asked to cancel the job (an email), once the heartbeat has seen the request."""

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_by is not None

    def request_cancel(self, by: str) -> None:
        """Remember the request and, where a timer can interrupt the task, stop it now."""
        with self._lock:
            first = self.cancel_requested_by is None
            self.cancel_requested_by = by
            if first and self._timer_armed:
                signal.setitimer(signal.ITIMER_REAL, SOON)

    def raise_if_cancel_requested(self) -> None:
        if self.cancel_requested:
            raise JobCancelled

    def _arm(self, seconds: float) -> None:
        with self._lock:
            self._timer_armed = True
            # A request seen before the task started stops it at once.
            signal.setitimer(signal.ITIMER_REAL, SOON if self.cancel_requested else seconds)

    def _disarm(self) -> None:
        # Under the lock: no request moves the timer once the task has left its deadline, so no
        # SIGALRM comes after the handler is restored.
        with self._lock:
            self._timer_armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)


def can_stop_jobs_here() -> bool:
    """Whether a deadline can interrupt a job in this thread (the main thread, with timers)."""
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


_running = threading.local()


@contextlib.contextmanager
def deadline(seconds: int, stop: AttemptStop | None = None) -> Iterator[None]:
    """Raise :class:`JobTimeout` in the block after ``seconds``, or :class:`JobCancelled` once
    ``stop`` has a cancel request, where a signal can do it. Inside the block,
    :func:`stop_if_cancel_requested` asks ``stop``."""
    stop = stop or AttemptStop()
    outer = getattr(_running, "stop", None)
    _running.stop = stop
    try:
        if not can_stop_jobs_here():
            yield
            return

        def _expired(_signum: int, _frame: FrameType | None) -> None:
            raise JobCancelled if stop.cancel_requested else JobTimeout

        previous = signal.signal(signal.SIGALRM, _expired)
        try:
            stop._arm(seconds)
            yield
        finally:
            try:
                stop._disarm()
            finally:
                signal.signal(signal.SIGALRM, previous)
    finally:
        _running.stop = outer


def cancel_requested() -> bool:
    """Whether the job this thread runs has a cancel request (as the last heartbeat saw it).
    Costs no query: a task may ask as often as it likes."""
    stop: AttemptStop | None = getattr(_running, "stop", None)
    return stop is not None and stop.cancel_requested


def stop_if_cancel_requested() -> None:
    """Raise :class:`JobCancelled` if the job this thread runs has a cancel request: a long task
    calls it between steps (the dues run does between batches). Outside a job it does nothing."""
    if cancel_requested():
        raise JobCancelled

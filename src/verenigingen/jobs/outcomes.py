"""What became of a job handed to the worker, and what recording a failed attempt did.

Both are string enums: a value is what the worker logs, and an outcome compares equal to it
(``RunOutcome.COMPLETED == "completed"``).
"""

from __future__ import annotations

import enum


class RunOutcome(enum.StrEnum):
    """What became of one job the worker was handed (``run_job``, ``run_group``)."""

    COMPLETED = "completed"
    """It ran to its end: its result, its status and its user's notification are committed."""
    FAILED = "failed"
    """It raised: its work rolled back, its attempt recorded as failed (a retry, or Failed)."""
    TIMED_OUT = "timeout"
    """It ran past its timeout and was stopped: recorded as a failed attempt."""
    LEASE_LOST = "lost"
    """It was no longer this run's when it ended (swept back, or another worker's): nothing of
    the run is kept, and the job is left as whoever took it made it."""
    CANCELLED = "cancelled"
    """An administrator asked to cancel it while it ran: its work rolled back, the job
    Cancelled."""
    NOT_CLAIMED = "skipped"
    """Not Queued and due (a duplicate delivery, cancelled, not due yet, unknown): not run."""
    GIVEN_BACK = "returned"
    """Claimed, then given back unrun, or its run rolled back with its group: Queued again, the
    attempt not counted."""


class FailedAttempt(enum.StrEnum):
    """What recording a failed attempt did to its job (``jobs.attempt.record_failed_attempt``)."""

    RETRY_QUEUED = "retry"
    """Queued again, to run after its backoff."""
    FAILED_FOR_GOOD = "failed"
    """Out of retries (or failed in a way a retry cannot mend): Failed, its user notified."""
    CANCELLED = "cancelled"
    """Its cancel had been requested: Cancelled, not retried."""
    NO_LONGER_RUNNING = "gone"
    """The job was no longer Running at that attempt (the worker or the sweeper recorded it
    first): nothing was written."""

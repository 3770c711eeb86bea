"""Tracked background jobs: table, outbox, claim and lease, retries, Huey adapter, notifications.

Domains enqueue work with :func:`enqueue` inside their transaction and register tasks with
:func:`job`; a long task asks :func:`stop_if_cancel_requested` between its steps, or commits
them in chunks with :func:`commit_chunk`, and tells how far it is with :func:`report_progress`.
Everything else here is run by the worker and the faces.
"""

from verenigingen.jobs.chunks import commit_chunk
from verenigingen.jobs.deadline import cancel_requested, stop_if_cancel_requested
from verenigingen.jobs.outbox import JobRequest, enqueue, enqueue_many
from verenigingen.jobs.progress import report_progress
from verenigingen.jobs.registry import job

__all__ = [
    "JobRequest",
    "cancel_requested",
    "commit_chunk",
    "enqueue",
    "enqueue_many",
    "job",
    "report_progress",
    "stop_if_cancel_requested",
]

"""Tracked background jobs: table, outbox, claim and lease, retries, Huey adapter, notifications.

Domains enqueue work with :func:`enqueue` inside their transaction and register tasks with
:func:`job`; everything else here is run by the worker and the faces.
"""

from verenigingen.jobs.outbox import JobRequest, enqueue, enqueue_many
from verenigingen.jobs.registry import job

__all__ = ["JobRequest", "enqueue", "enqueue_many", "job"]

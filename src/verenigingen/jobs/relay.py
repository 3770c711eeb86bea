"""The relay: hands Queued jobs to the engine that the after-commit hook did not.

Two kinds of rows need it:

* undispatched (``dispatched_at`` NULL): delayed jobs and retries whose ``run_after`` has come,
  and jobs requeued by the sweeper;
* stale: handed over (or meant to be) more than ``job_stale_after_seconds`` ago and still not
  claimed while the engine's queue is empty. The message was lost: the process died between
  commit and hand-over, or the engine lost its data. While a queue holds messages the relay
  waits, so a long backlog is not flooded with duplicates.

Each row is first marked (a conditional UPDATE on its old ``dispatched_at``), then the marks
are committed, then the ids go to the engine: two relays never both send the same row in one
round, and a relay that dies after its commit leaves stale rows that the next round sends.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import clock
from verenigingen.config import Settings
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, JobStatus, Queue

log = logging.getLogger(__name__)

BATCH = 500


def relay(factory: sessionmaker[Session], engine: JobEngine, settings: Settings) -> int:
    """Dispatch every due undispatched or stale Queued job; returns how many were sent."""
    now = clock.now()
    stale_before = now - dt.timedelta(seconds=settings.job_stale_after_seconds)
    idle_queues = {queue.value for queue in Queue if engine.pending(queue) == 0}
    to_send: list[tuple[str, int]] = []
    with unit_of_work(factory) as session:
        rows = session.execute(
            select(Job.id, Job.queue, Job.dispatched_at)
            .where(
                Job.status == JobStatus.QUEUED.value,
                or_(Job.run_after.is_(None), Job.run_after <= now),
                or_(Job.dispatched_at.is_(None), Job.dispatched_at < stale_before),
            )
            .order_by(Job.id)
            .limit(BATCH)
        ).all()
        for row in rows:
            if row.dispatched_at is not None and row.queue not in idle_queues:
                continue  # the engine still has messages; this one may be among them
            same_mark = (
                Job.dispatched_at.is_(None)
                if row.dispatched_at is None
                else Job.dispatched_at == row.dispatched_at
            )
            marked = session.execute(
                update(Job)
                .where(Job.id == row.id, Job.status == JobStatus.QUEUED.value, same_mark)
                .values(dispatched_at=now)
                .execution_options(synchronize_session=False)
            )
            if marked.rowcount == 1:  # type: ignore[attr-defined]
                to_send.append((row.queue, row.id))
    for queue, job_id in to_send:
        engine.dispatch(queue, job_id)
    if to_send:
        log.info("relay dispatched %d job(s)", len(to_send))
    return len(to_send)

"""The statements of a PostgreSQL group (jobs.worker) that act on several jobs at once.

A group claims the jobs of the messages it has taken in one statement, completes all the jobs
that ran in one statement at its commit, and gives back in one statement the claims it will not
run. Each is one round trip, whatever the number of jobs: paid per job, a claim and a completion
were most of what tracking a short job cost (bench/jobs.py, docs/benchmarks.md).

PostgreSQL only: the claim and the completion need ``UPDATE ... RETURNING`` and ``UPDATE ...
FROM (VALUES ...)``; SQLite and MariaDB run each job alone (jobs.worker says why).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    update,
)

from verenigingen import clock
from verenigingen.jobs.attempt import Claim, claim_of, claim_update
from verenigingen.jobs.masking import mask_ibans
from verenigingen.jobs.models import Indicator, Job, JobStatus, Notification
from verenigingen.jobs.notifications import completed_notification

_job = typed(Table, Job.__table__)
_notification = typed(Table, Notification.__table__)
_now = bindparam("now", type_=DateTime())


# Queued → Running for each due job among the ids; of two racing workers one matches each row.
_CLAIM_MANY = claim_update(_job.c.id.in_(bindparam("job_ids", expanding=True))).returning(
    _job.c.id,
    _job.c.name,
    _job.c.queue,
    _job.c.params,
    _job.c.user_id,
    _job.c.attempts,
    _job.c.max_retries,
    _job.c.timeout,
)

# Running → Queued for claims a group will not run (or whose run it rolled back): the attempt
# was not made, so it is not counted, and the job waits for its next delivery at once.
_GIVE_BACK = (
    update(_job)
    .where(
        _job.c.id.in_(bindparam("job_ids", expanding=True)),
        _job.c.status == JobStatus.RUNNING.value,
        _job.c.worker == bindparam("worker_id"),
    )
    .values(
        status=JobStatus.QUEUED.value,
        attempts=_job.c.attempts - 1,
        started_at=None,
        lease_until=None,
        worker=None,
        dispatched_at=bindparam("dispatched", type_=DateTime()),
    )
    .returning(_job.c.id, _job.c.queue)
)


def claim_many(
    connection: Connection, job_ids: Sequence[int], *, worker_id: str, grace: float
) -> dict[int, tuple[Claim, str]]:
    """Claim the jobs among ``job_ids`` that are Queued and due, in one statement on an
    autocommit ``connection`` (jobs.attempt.claims_connection): committed when this returns.
    Each claim comes with its job's queue."""
    rows = connection.execute(
        _CLAIM_MANY,
        {"job_ids": list(job_ids), "now": clock.now(), "grace": grace, "worker_id": worker_id},
    ).all()
    return {row.id: (claim_of(row.id, row, row.attempts), row.queue) for row in rows}


def give_back(
    connection: Connection, job_ids: Sequence[int], *, worker_id: str, redeliver: bool
) -> list[tuple[int, str]]:
    """Return this worker's Running claims among ``job_ids`` to Queued, their attempt uncounted,
    in one statement on an autocommit ``connection``; the (id, queue) of each.

    ``redeliver``: the caller hands each to the engine again at once (the rows say dispatched
    now); otherwise they are left undispatched, for the relay's next round.
    """
    if not job_ids:
        return []
    rows = connection.execute(
        _GIVE_BACK,
        {
            "job_ids": list(job_ids),
            "dispatched": clock.now() if redeliver else None,
            "worker_id": worker_id,
        },
    ).all()
    return [(row.id, row.queue) for row in rows]


@dataclass(frozen=True)
class Completion:
    """A job that ran to its end in a group, waiting for the group's commit to be recorded."""

    job_id: int
    attempt: int
    name: str
    result: Any


# The completions arrive as one array per column, unnested into rows: one statement, built and
# compiled once, whatever the number of jobs (a VALUES list would be compiled again per size).
# No parameter is named like a column of job: the UPDATE would take it as a value to SET.
_done = (
    func.unnest(
        bindparam("job_ids", type_=ARRAY(BigInteger)),
        bindparam("attempt_numbers", type_=ARRAY(Integer)),
        bindparam("results", type_=ARRAY(Text)),
        bindparam("subjects", type_=ARRAY(Text)),
        bindparam("messages", type_=ARRAY(Text)),
    )
    .table_valued(
        column("job_id", BigInteger),
        column("attempt", Integer),
        column("job_result", Text),
        column("subject", Text),
        column("message", Text),
    )
    .render_derived(name="done")
)
_finished = (
    update(_job)
    .where(
        _job.c.id == _done.c.job_id,
        _job.c.status == JobStatus.RUNNING.value,
        _job.c.attempts == _done.c.attempt,
    )
    .values(
        status=JobStatus.COMPLETED.value,
        result=cast(_done.c.job_result, JSON),
        error=None,
        finished_at=_now,
        lease_until=None,
        active_dedup_key=None,
    )
    .returning(_job.c.id, _job.c.user_id, _done.c.subject, _done.c.message)
    .cte("finished")
)
_COMPLETE_MANY = (
    insert(_notification)
    .from_select(
        ["user_id", "subject", "message", "indicator", "job_id", "created_at"],
        select(
            _finished.c.user_id,
            _finished.c.subject,
            _finished.c.message,
            literal(Indicator.GREEN.value, String()),
            _finished.c.id,
            _now,
        ),
    )
    .returning(_notification.c.job_id)
)


def complete_many(connection: Connection, completions: Sequence[Completion]) -> set[int]:
    """Record every completion in one statement: the job Completed with its result, and its
    user's notification. Conditional on each claim (Running at its attempt): returns the ids
    that matched; a job missing from them lost its lease, and its run must not be kept."""
    if not completions:
        return set()
    notifications = [completed_notification(c.name) for c in completions]
    params = {
        "job_ids": [c.job_id for c in completions],
        "attempt_numbers": [c.attempt for c in completions],
        # JSON text, as the column's own type would write it (the statement casts it back).
        "results": [json.dumps(mask_ibans(c.result)) for c in completions],
        "subjects": [n["subject"] for n in notifications],
        "messages": [n["message"] for n in notifications],
        "now": clock.now(),
    }
    return set(connection.execute(_COMPLETE_MANY, params).scalars())

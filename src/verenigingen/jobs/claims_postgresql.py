"""Claims and completions on PostgreSQL: one statement each, whether for one job or many.

A group (jobs.worker) claims its first job in a transaction of its own, its later jobs in
batches (``UPDATE ... WHERE id IN (...) RETURNING``) on a second connection in autocommit, and
completes every job that ran in one statement at its commit (the jobs' arrays unnested into an
``UPDATE ... FROM`` that feeds the notifications' ``INSERT``; a job of a job group is counted on
its group instead, jobs.groups). Each is one round trip whatever
the number of jobs: paid per job, a claim and a completion were most of what tracking a short
job cost (bench/jobs.py, docs/benchmarks.md).

A claim does not wait for the WAL flush (``synchronous_commit`` off for the claim's transaction,
or for the claims connection's session): WAL is written in order, so the group's durable commit
makes its claims durable too, and a claim lost in a server crash before that leaves the job
Queued for the relay, as a lost lease would. That saves an fsync per claim.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    Interval,
    String,
    Table,
    Text,
    bindparam,
    column,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.jobs.claims import Claim, Completion, LeaseTerms
from verenigingen.jobs.groups import job_ended
from verenigingen.jobs.models import Indicator, Job, JobStatus, Notification
from verenigingen.jobs.notifications import completed_notification

# The statements are built once: a statement object memoises its cache key, so an execution
# neither rebuilds the expression nor hashes it again (bench/jobs.py, docs/benchmarks.md).
_job = cast(Table, Job.__table__)
_notification = cast(Table, Notification.__table__)
_now = bindparam("now", type_=DateTime())


def _claim_update(which: ColumnElement[bool]) -> Update:
    """Queued → Running (attempt counted, lease set) for the due jobs ``which`` names; of two
    racing workers one matches each row, the other re-reads it Running and matches nothing.
    Parameters: now, lease and grace (seconds, jobs.claims.LeaseTerms), worker_id."""
    return (
        update(_job)
        .where(
            which,
            _job.c.status == JobStatus.QUEUED.value,
            or_(_job.c.run_after.is_(None), _job.c.run_after <= _now),
        )
        .values(
            status=JobStatus.RUNNING.value,
            attempts=_job.c.attempts + 1,
            started_at=_now,
            lease_until=_now
            + func.least(
                bindparam("lease", type_=Float()),
                _job.c.timeout + bindparam("grace", type_=Float()),
            )
            * literal_column("interval '1 second'", Interval()),
            worker=bindparam("worker_id"),
        )
        .returning(
            _job.c.id,
            _job.c.name,
            _job.c.params,
            _job.c.user_id,
            _job.c.attempts,
            _job.c.max_retries,
            _job.c.timeout,
            _job.c.started_at,
            _job.c.group_id,
        )
    )


# A group's first job: the claimed row joined to its user, in one statement.
_claimed_one = _claim_update(_job.c.id == bindparam("job_id")).cte("claimed")
_CLAIM_ONE = select(_claimed_one, User).join_from(
    _claimed_one, User, User.id == _claimed_one.c.user_id
)

_CLAIM_BATCH = _claim_update(_job.c.id.in_(bindparam("job_ids", expanding=True)))

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
_completed = (
    update(_job)
    .where(
        _job.c.id == _done.c.job_id,
        _job.c.status == JobStatus.RUNNING.value,
        _job.c.attempts == _done.c.attempt,
        _job.c.cancel_requested_at.is_(None),
    )
    .values(
        status=JobStatus.COMPLETED.value,
        result=sql_cast(_done.c.job_result, JSON),
        error=None,
        finished_at=_now,
        lease_until=None,
        active_dedup_key=None,
    )
    .returning(_job.c.id, _job.c.user_id, _job.c.group_id, _done.c.subject, _done.c.message)
    .cte("completed")
)
# A job of a job group has no notification of its own: the group's last job notifies
# (jobs.groups), counted at the commit.
_notified = (
    insert(_notification)
    .from_select(
        ["user_id", "subject", "message", "indicator", "job_id", "created_at"],
        select(
            _completed.c.user_id,
            _completed.c.subject,
            _completed.c.message,
            literal(Indicator.GREEN.value, String()),
            _completed.c.id,
            _now,
        ).where(_completed.c.group_id.is_(None)),
    )
    .cte("notified")
)
_COMPLETE = select(_completed.c.id).add_cte(_notified)


def _claim_of(row: Any) -> Claim:
    return Claim(
        id=row.id,
        name=row.name,
        params=row.params or {},
        user_id=row.user_id,
        attempt=row.attempts,
        max_retries=row.max_retries,
        timeout=row.timeout,
        started_at=row.started_at,
        group_id=row.group_id,
    )


class PostgresClaims:
    """The claim strategy of PostgreSQL: groups, claimed in batches and completed at once."""

    def __init__(self, worker_id: str, lease: LeaseTerms) -> None:
        self.worker_id = worker_id
        self.lease = lease

    def claim(self, session: Session, job_id: int) -> tuple[Claim, User] | None:
        connection = session.connection()
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        row = session.execute(
            _CLAIM_ONE,
            {
                "job_id": job_id,
                "now": clock.now(),
                "lease": float(self.lease.seconds),
                "grace": float(self.lease.grace),
                "worker_id": self.worker_id,
            },
        ).one_or_none()
        if row is None:
            return None
        return _claim_of(row), row.User

    def complete(self, session: Session, completions: Sequence[Completion]) -> set[int]:
        if not completions:
            return set()
        claims = [completion.claim for completion in completions]
        notifications = [completed_notification(claim.name) for claim in claims]
        parameters = {
            "job_ids": [claim.id for claim in claims],
            "attempt_numbers": [claim.attempt for claim in claims],
            # JSON text, as the column's own type would write it (the statement casts it back).
            "results": [json.dumps(completion.result) for completion in completions],
            "subjects": [notification["subject"] for notification in notifications],
            "messages": [notification["message"] for notification in notifications],
            "now": clock.now(),
        }
        kept = set(session.connection().execute(_COMPLETE, parameters).scalars())
        for claim in claims:
            if claim.id in kept:
                job_ended(session, group_id=claim.group_id, job_id=claim.id, failed=False)
        return kept

    def batch_claims(self, engine: Engine) -> PostgresBatchClaims:
        return PostgresBatchClaims(engine, self.worker_id, self.lease)


class PostgresBatchClaims:
    """A group's later claims, on a claims connection opened at the first batch."""

    def __init__(self, engine: Engine, worker_id: str, lease: LeaseTerms) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease = lease
        self._connection: Connection | None = None

    def claim(self, job_ids: Sequence[int]) -> dict[int, Claim]:
        rows = self._claims_connection().execute(
            _CLAIM_BATCH,
            {
                "job_ids": list(job_ids),
                "now": clock.now(),
                "lease": float(self.lease.seconds),
                "grace": float(self.lease.grace),
                "worker_id": self.worker_id,
            },
        )
        return {row.id: _claim_of(row) for row in rows}

    def give_back(self, job_ids: Sequence[int], *, redeliver: bool) -> dict[int, str]:
        if not job_ids:
            return {}
        rows = self._claims_connection().execute(
            _GIVE_BACK,
            {
                "job_ids": list(job_ids),
                "dispatched": clock.now() if redeliver else None,
                "worker_id": self.worker_id,
            },
        )
        return {row.id: row.queue for row in rows}

    def close(self) -> None:
        if self._connection is not None:
            release_claims_connection(self._connection)
            self._connection = None

    def _claims_connection(self) -> Connection:
        if self._connection is None:
            self._connection = claims_connection(self.engine)
        return self._connection


def claims_connection(engine: Engine) -> Connection:
    """A connection for a group's later claims: autocommit, and asynchronous commit for its
    session. Give it back with :func:`release_claims_connection`, which resets that before the
    pool has it."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    connection.exec_driver_sql("SET synchronous_commit = off")
    return connection


def release_claims_connection(connection: Connection) -> None:
    try:
        connection.exec_driver_sql("SET synchronous_commit = DEFAULT")
    except DBAPIError:
        # Never hand a connection that may still commit asynchronously to the next user.
        connection.invalidate()
    finally:
        connection.close()

"""Claims and completions on SQLite and MariaDB: read the job, then update it conditionally,
one job per transaction.

Neither runs a group (several jobs in one transaction, as PostgreSQL does). SQLite has one
writer: a later job's claim could not commit on another connection while the group's
transaction holds the write lock, and in the embedded shape the API's requests need that lock
between jobs (jobs.consumer pauses for them). On MariaDB the next claim would wait on the group
itself: InnoDB locks the entry of the previous job's status change in ``ix_job_status_run_after``
until the group commits, and the claim's own change of that index queues behind it (until
``innodb_lock_wait_timeout``). MariaDB has no ``UPDATE ... RETURNING`` either, so a claim is a
read followed by an UPDATE conditional on what was read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import DateTime, Engine, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.jobs.claims import Claim, Completion, LeaseTerms
from verenigingen.jobs.groups import job_ended
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.notifications import notify_job_completed

# The statements are built once: a statement object memoises its cache key, so an execution
# neither rebuilds the expression nor hashes it again (bench/jobs.py, docs/benchmarks.md).
_job = cast(Table, Job.__table__)
_now = bindparam("now", type_=DateTime())

_READ_JOB = (
    select(
        Job.name,
        Job.params,
        Job.user_id,
        Job.attempts,
        Job.max_retries,
        Job.timeout,
        Job.status,
        Job.run_after,
        Job.group_id,
        User,
    )
    .join(User, User.id == Job.user_id)
    .where(Job.id == bindparam("job_id"))
)

# Conditional on what was read: of two workers that read the same Queued row, one wins.
_CLAIM = (
    update(_job)
    .where(
        _job.c.id == bindparam("job_id"),
        _job.c.status == JobStatus.QUEUED.value,
        _job.c.attempts == bindparam("attempts_read"),
        or_(_job.c.run_after.is_(None), _job.c.run_after <= _now),
    )
    .values(
        status=JobStatus.RUNNING.value,
        attempts=bindparam("attempt"),
        started_at=_now,
        lease_until=bindparam("lease_until"),
        worker=bindparam("worker_id"),
    )
)

_COMPLETE = (
    update(_job)
    .where(
        _job.c.id == bindparam("job_id"),
        _job.c.status == JobStatus.RUNNING.value,
        _job.c.attempts == bindparam("attempt"),
        _job.c.cancel_requested_at.is_(None),
    )
    .values(
        status=JobStatus.COMPLETED.value,
        result=bindparam("job_result", type_=_job.c.result.type),
        error=None,
        finished_at=_now,
        lease_until=None,
        active_dedup_key=None,
    )
)


class PlainClaims:
    """The claim strategy of SQLite and MariaDB: one job per transaction, no groups."""

    def __init__(self, worker_id: str, lease: LeaseTerms) -> None:
        self.worker_id = worker_id
        self.lease = lease

    def claim(self, session: Session, job_id: int) -> tuple[Claim, User] | None:
        now = clock.now()
        job = session.execute(_READ_JOB, {"job_id": job_id}).one_or_none()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        if job.run_after is not None and job.run_after > now:
            return None
        lease = dt.timedelta(seconds=self.lease.first_seconds(job.timeout))
        claimed = session.connection().execute(
            _CLAIM,
            {
                "job_id": job_id,
                "attempts_read": job.attempts,
                "attempt": job.attempts + 1,
                "now": now,
                "lease_until": now + lease,
                "worker_id": self.worker_id,
            },
        )
        if claimed.rowcount != 1:
            return None
        claim = Claim(
            id=job_id,
            name=job.name,
            params=job.params or {},
            user_id=job.user_id,
            attempt=job.attempts + 1,
            max_retries=job.max_retries,
            timeout=job.timeout,
            started_at=now,
            group_id=job.group_id,
        )
        return claim, job.User

    def complete(self, session: Session, completions: Sequence[Completion]) -> set[int]:
        kept: set[int] = set()
        for completion in completions:
            claim = completion.claim
            completed = session.connection().execute(
                _COMPLETE,
                {
                    "job_id": claim.id,
                    "attempt": claim.attempt,
                    "job_result": completion.result,
                    "now": clock.now(),
                },
            )
            if completed.rowcount != 1:
                continue
            kept.add(claim.id)
            if claim.group_id is not None:
                job_ended(session, group_id=claim.group_id, job_id=claim.id, failed=False)
            else:
                notify_job_completed(
                    session, job_id=claim.id, job_name=claim.name, user_id=claim.user_id
                )
        return kept

    def batch_claims(self, engine: Engine) -> None:
        return None

"""The job criterion: the ``on`` side's deferred jobs run through the worker's own path while a
seeded share of attempts fails, and the retries must bring them home.

Each attempt of any task fails with probability ``failure_rate`` (drawn from a seeded generator,
so a run is the same run every time) by raising :class:`InjectedFailure` before the task's work:
to the worker a transient error like a dropped connection, so the attempt is rolled back and the
job queued again (``jobs.attempt``), up to its ``max_retries``. The retry backoff is zero here:
the suite measures whether retries succeed, not how long the backoff waits. The jobs are run one
by one with ``jobs.worker.run_job`` (claim, run, result and status in one transaction), without
an engine between, until none of them is Queued.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.db.session import make_session_factory
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.registry import TaskFunction, TaskSpec, tasks_wrapped
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.perf.validation.association import Side

FAILURE_RATE = 0.05
MAX_ROUNDS = 20
"""Rounds over the Queued jobs; a job has at most ``max_retries + 1`` attempts (4 by default)."""


class InjectedFailure(RuntimeError):
    """A transient failure the validation suite injected into a job's attempt."""


@dataclass(frozen=True)
class JobFigures:
    jobs: int
    completed: int
    failed: int
    still_queued: int
    attempts: int
    injected_failures: int
    retried_jobs: int
    failure_rate: float

    @property
    def success_rate(self) -> float:
        return self.completed / self.jobs if self.jobs else 0.0


def last_job_id(engine: Engine) -> int:
    """The newest job's id before a run: the run's jobs are those after it."""
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.max(Job.id))) or 0


class FailureInjector:
    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.injected = 0

    def wrap(self, spec: TaskSpec) -> TaskFunction:
        work = spec.function

        def attempt(session: Session, user: User, **params: Any) -> Any:
            if self.random.random() < self.rate:
                self.injected += 1
                raise InjectedFailure(f"injected transient failure of {spec.name}")
            return work(session, user, **params)

        return attempt


def run_jobs_with_failures(
    side: Side,
    after_job_id: int,
    *,
    failure_rate: float = FAILURE_RATE,
    seed: int = 20261203,
    advance: Callable[[], None] = lambda: None,
) -> JobFigures:
    """Run every job of ``side`` newer than ``after_job_id`` until none is Queued, each attempt
    failing with probability ``failure_rate``; what became of them."""
    settings = side.context.settings.model_copy(update={"job_retry_backoff_seconds": 0.0})
    runtime = Runtime(side.context.sessions, settings, worker_id="perf-validate")
    injector = FailureInjector(failure_rate, seed)
    with tasks_wrapped(injector.wrap):
        for _round in range(MAX_ROUNDS):
            waiting = _queued(side.engine, after_job_id)
            if not waiting:
                break
            for job_id in waiting:
                run_job(runtime, job_id)
                advance()
    with make_session_factory(side.engine)() as session:
        rows = session.execute(select(Job.status, Job.attempts).where(Job.id > after_job_id)).all()
    statuses = [row.status for row in rows]
    return JobFigures(
        jobs=len(rows),
        completed=statuses.count(JobStatus.COMPLETED.value),
        failed=statuses.count(JobStatus.FAILED.value),
        still_queued=statuses.count(JobStatus.QUEUED.value),
        attempts=sum(row.attempts for row in rows),
        injected_failures=injector.injected,
        retried_jobs=sum(1 for row in rows if row.attempts > 1),
        failure_rate=failure_rate,
    )


def _queued(engine: Engine, after_job_id: int) -> list[int]:
    with make_session_factory(engine)() as session:
        return list(
            session.scalars(
                select(Job.id)
                .where(Job.id > after_job_id, Job.status == JobStatus.QUEUED.value)
                .order_by(Job.id)
            )
        )

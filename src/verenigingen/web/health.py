"""``GET /health``: can this instance serve, and is the work behind it keeping up.

Load balancers and uptime monitors call it without a token, so it tells them only what they
need: each check's status and a figure, never a host name, a path or a driver's message (those
go to the log). The answer is

* 503 ``down`` when the database, or the Redis the settings name, cannot be reached: this
  instance cannot serve, send its traffic elsewhere;
* 200 ``degraded`` when it serves but the work behind it needs attention: a due job has waited
  longer than ``health_queued_seconds``, a Running job outlived its lease, or the last safety
  run failed;
* 200 ``ok`` otherwise.

It answers within :data:`DEADLINE_SECONDS` whatever the services do. The database and the Redis
checks run in threads of their own, and the answer waits for them until the deadline: a server
that accepts the connection and then says nothing would otherwise hold the request as long as
the driver waits (for PostgreSQL's, without a ``connect_timeout``, that is forever). A check
still running at the deadline counts as unreachable.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import redis
from fastapi import APIRouter, Response
from pydantic import BaseModel
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from verenigingen import __version__, clock
from verenigingen.clock import UtcDateTime
from verenigingen.config import Settings
from verenigingen.safety.runner import last_run_glance
from verenigingen.web import job_figures

log = logging.getLogger(__name__)

T = TypeVar("T")

DEADLINE_SECONDS = 2.0
"""The longest ``/health`` waits for its checks."""
REDIS_TIMEOUT_SECONDS = 1.0
MAX_CHECKS_RUNNING = 4
"""Checks of one service still running from earlier calls (a database that hangs) beyond which a
call starts no new one and reports it unreachable at once: calls do not pile up threads."""


class DatabaseCheck(BaseModel):
    status: Literal["ok", "unreachable"]
    latency_ms: float | None = None
    """The round trip of ``SELECT 1`` (connecting included when the pool had no connection)."""


class RedisCheck(BaseModel):
    status: Literal["ok", "unreachable", "not configured"]
    latency_ms: float | None = None
    """The round trip of ``PING``."""


class JobsCheck(BaseModel):
    status: Literal["ok", "degraded", "unknown"]
    """``unknown`` when the job table could not be read."""
    queued_due: int | None = None
    """Queued jobs whose time has come."""
    oldest_queued_seconds: float | None = None
    """How long the longest-waiting of them has waited since it became due."""
    running_past_lease: int | None = None
    """Running jobs whose worker stopped renewing their lease."""


class SafetyCheck(BaseModel):
    status: Literal["never run", "passed", "failed", "unknown"]
    last_run_at: UtcDateTime | None = None
    failed_checks: list[str] = []
    """The names of the checks the last run failed (``verenigingen safety check``)."""


class Checks(BaseModel):
    database: DatabaseCheck
    redis: RedisCheck
    jobs: JobsCheck
    safety: SafetyCheck


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    checks: Checks


@dataclass(frozen=True, slots=True)
class SafetyRun:
    finished_at: dt.datetime
    passed: bool
    failed_checks: tuple[str, ...] = ()


def last_safety_run(session: Session) -> SafetyRun | None:
    """The latest run of the safety checks (``verenigingen safety check``, the safety package's
    ``safety_run`` rows; one statement), or None when there has been none."""
    run = last_run_glance(session)
    if run is None:
        return None
    return SafetyRun(run.finished_at, run.passed, tuple(run.failed_checks))


class _Running(Generic[T]):
    """One check in a daemon thread of its own, with the caller's context (the request's query
    capture sees its statements)."""

    def __init__(self, check: Callable[[], T], slots: threading.BoundedSemaphore) -> None:
        self._result: T | None = None
        self._slots = slots
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=self._run, args=(context, check), name="health-check", daemon=True
        )
        self._thread.start()

    def _run(self, context: contextvars.Context, check: Callable[[], T]) -> None:
        try:
            self._result = context.run(check)
        finally:
            self._slots.release()

    def result(self, deadline: float) -> T | None:
        """The check's result, or None when it is still running at ``deadline`` (monotonic)."""
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        return None if self._thread.is_alive() else self._result


class HealthChecks:
    """The checks of one app: its read sessions, and a Redis client of its own whose every
    call fails within :data:`REDIS_TIMEOUT_SECONDS` instead of retrying."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        deadline_seconds: float = DEADLINE_SECONDS,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.deadline_seconds = deadline_seconds
        self.redis = (
            redis.Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), 0),
            )
            if settings.redis_url
            else None
        )
        self._database_slots = threading.BoundedSemaphore(MAX_CHECKS_RUNNING)
        self._redis_slots = threading.BoundedSemaphore(MAX_CHECKS_RUNNING)

    def report(self) -> HealthOut:
        """Every check, each bounded by the deadline, and the verdict on them."""
        deadline = time.monotonic() + self.deadline_seconds
        database_run = _start(self.check_database, self._database_slots)
        redis_run = _start(self.check_redis, self._redis_slots) if self.redis else None
        found = database_run.result(deadline) if database_run is not None else None
        database, jobs, safety = found or _database_unreachable()
        if self.redis is None:
            redis_check = RedisCheck(status="not configured")
        else:
            found_redis = redis_run.result(deadline) if redis_run is not None else None
            redis_check = found_redis or RedisCheck(status="unreachable")
        checks = Checks(database=database, redis=redis_check, jobs=jobs, safety=safety)
        return HealthOut(status=verdict(checks), version=__version__, checks=checks)

    def check_database(self) -> tuple[DatabaseCheck, JobsCheck, SafetyCheck]:
        """``SELECT 1``, then the job backlog and the last safety run, in one read session."""
        try:
            with self.sessions() as session:
                if session.get_bind().dialect.name == "postgresql":
                    # The deadline frees the request; this frees the server from statements
                    # nobody waits for any more.
                    timeout_ms = max(int(self.deadline_seconds * 1000), 1)
                    session.execute(text(f"SET LOCAL statement_timeout = {timeout_ms}"))
                started = time.perf_counter()
                session.execute(text("SELECT 1"))
                latency_ms = round((time.perf_counter() - started) * 1000, 3)
                database = DatabaseCheck(status="ok", latency_ms=latency_ms)
                return database, self._check_jobs(session), self._check_safety(session)
        except SQLAlchemyError as error:
            log.warning("health: the database is unreachable: %s", error)
            return _database_unreachable()

    def _check_jobs(self, session: Session) -> JobsCheck:
        now = clock.now()
        try:
            with session.begin_nested():
                backlog = job_figures.backlog(session, now)
        except SQLAlchemyError as error:
            log.warning("health: the job table cannot be read: %s", error)
            return JobsCheck(status="unknown")
        oldest = backlog.oldest_wait_seconds(now)
        late = oldest is not None and oldest > self.settings.health_queued_seconds
        return JobsCheck(
            status="degraded" if late or backlog.running_past_lease else "ok",
            queued_due=backlog.queued_due,
            oldest_queued_seconds=round(oldest, 3) if oldest is not None else None,
            running_past_lease=backlog.running_past_lease,
        )

    def _check_safety(self, session: Session) -> SafetyCheck:
        run = last_safety_run(session)
        if run is None:
            return SafetyCheck(status="never run")
        return SafetyCheck(
            status="passed" if run.passed else "failed",
            last_run_at=run.finished_at,
            failed_checks=list(run.failed_checks),
        )

    def check_redis(self) -> RedisCheck:
        assert self.redis is not None
        started = time.perf_counter()
        try:
            self.redis.ping()
        except redis.RedisError as error:
            log.warning("health: Redis is unreachable: %s", error)
            return RedisCheck(status="unreachable")
        return RedisCheck(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 3))


def _start(check: Callable[[], T], slots: threading.BoundedSemaphore) -> _Running[T] | None:
    if not slots.acquire(blocking=False):
        return None  # earlier checks of the same service still hang: this one would too
    return _Running(check, slots)


def _database_unreachable() -> tuple[DatabaseCheck, JobsCheck, SafetyCheck]:
    """The database, and so what is read from it."""
    return (
        DatabaseCheck(status="unreachable"),
        JobsCheck(status="unknown"),
        SafetyCheck(status="unknown"),
    )


def verdict(checks: Checks) -> Literal["ok", "degraded", "down"]:
    """``down`` when a service the instance needs is unreachable, ``degraded`` when the work
    behind it needs attention, else ``ok``."""
    if checks.database.status == "unreachable" or checks.redis.status == "unreachable":
        return "down"
    if checks.jobs.status == "degraded" or checks.safety.status == "failed":
        return "degraded"
    return "ok"


def health_router(checks: HealthChecks) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/health",
        responses={
            503: {
                "model": HealthOut,
                "description": "The database or Redis cannot be reached (`status`: `down`)",
            }
        },
    )
    def health(response: Response) -> HealthOut:
        """Whether this instance can serve (database, Redis) and whether the jobs keep up:
        200 ``ok`` or ``degraded``, 503 ``down``; without a token."""
        report = checks.report()
        response.status_code = 503 if report.status == "down" else 200
        response.headers["Cache-Control"] = "no-store"
        return report

    return router

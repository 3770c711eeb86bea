"""GET /health: the database, Redis, the job backlog and the safety run; 503 when a service the
instance needs is down, within the deadline, and never a word about where the services are."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from contexts import savepoint_sessions
from verenigingen import __version__, clock
from verenigingen.app_context import context_of
from verenigingen.auth.models import User
from verenigingen.db.engine import make_engine
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.web.app import create_app
from verenigingen.web.health import DEADLINE_SECONDS, MAX_CHECKS_RUNNING, HealthChecks

QUICK_SECONDS = DEADLINE_SECONDS + 1.0
"""What a /health answer may take at most, whatever the services do."""


def app_on(session: Session, **settings: Any) -> FastAPI:
    """The app on the test's own transaction, with ``settings`` changed."""
    context = context_of(session)
    if settings:
        changed = context.settings.model_copy(update=settings)
        context = dataclasses.replace(context, settings=changed)
    return create_app(context, session_factory=savepoint_sessions(session))


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_job(session: Session, user: User, status: JobStatus, **fields: Any) -> Job:
    job = Job(
        name=fields.pop("name", "history.refresh_member"),
        queue=fields.pop("queue", "default"),
        params={},
        user_id=user.id,
        status=status.value,
        timeout=300,
        **fields,
    )
    session.add(job)
    session.flush()
    return job


def get_health(app: FastAPI) -> tuple[int, dict[str, Any], str, float]:
    """Status, body, raw text and seconds of one anonymous GET /health."""
    with TestClient(app) as client:
        started = time.perf_counter()
        response = client.get("/health")
        seconds = time.perf_counter() - started
    return response.status_code, response.json(), response.text, seconds


def test_every_check_is_ok_on_each_engine(any_session: Session) -> None:
    status, body, _text, _seconds = get_health(app_on(any_session))
    assert status == 200
    assert body["status"] == "ok"
    assert body["version"] == __version__
    checks = body["checks"]
    assert checks["database"]["status"] == "ok"
    assert 0 <= checks["database"]["latency_ms"] < DEADLINE_SECONDS * 1000
    assert checks["redis"] == {"status": "not configured", "latency_ms": None}
    assert checks["jobs"] == {
        "status": "ok",
        "queued_due": 0,
        "oldest_queued_seconds": None,
        "running_past_lease": 0,
    }
    assert checks["safety"] == {"status": "never run", "last_run_at": None, "failed_checks": []}


def test_health_is_never_cached(session: Session) -> None:
    with TestClient(app_on(session)) as client:
        assert client.get("/health").headers["cache-control"] == "no-store"


def test_the_openapi_document_describes_both_answers(session: Session) -> None:
    responses = app_on(session).openapi()["paths"]["/health"]["get"]["responses"]
    for status in ("200", "503"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/HealthOut"}, status


# The database down: nothing listens, its directory is gone, or it accepts and never answers.


def on_database(session: Session, engine: Engine) -> FastAPI:
    """The app of the test's context, but on ``engine`` and its own sessions (the context is
    built while a database answers: building it reads from the database)."""
    return create_app(dataclasses.replace(context_of(session), database=engine))


@pytest.fixture
def postgres_nobody_listens() -> Iterator[Engine]:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_directory_removed(tmp_path: Path) -> Iterator[Engine]:
    directory = tmp_path / "gone"
    engine = make_engine(f"sqlite:///{directory / 'verenigingen.db'}")  # creates the directory
    shutil.rmtree(directory)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("down", ["postgres_nobody_listens", "sqlite_directory_removed"])
def test_database_down_is_503_at_once_and_says_nothing_of_where(
    request: pytest.FixtureRequest, session: Session, down: str
) -> None:
    engine: Engine = request.getfixturevalue(down)
    status, body, text, seconds = get_health(on_database(session, engine))
    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["database"] == {"status": "unreachable", "latency_ms": None}
    assert body["checks"]["jobs"]["status"] == "unknown"
    assert body["checks"]["safety"]["status"] == "unknown"
    assert seconds < QUICK_SECONDS
    url = engine.url
    for secret in (url.host, str(url.port), url.database, "gone", "OperationalError", "error"):
        if secret:
            assert secret not in text, secret


@pytest.fixture
def silent_server() -> Iterator[Engine]:
    """A PostgreSQL URL on a port that accepts connections (the kernel does) and never answers
    a byte: a database host that hangs. Closing it ends the connections waiting on it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{listener.getsockname()[1]}/x")
    try:
        yield engine
    finally:
        listener.close()
        engine.dispose()


def test_a_database_that_hangs_is_503_within_the_deadline(
    session: Session, silent_server: Engine
) -> None:
    status, body, _text, seconds = get_health(on_database(session, silent_server))
    assert status == 503
    assert body["checks"]["database"]["status"] == "unreachable"
    assert DEADLINE_SECONDS <= seconds < QUICK_SECONDS


def test_checks_that_still_hang_gather_no_more_threads(
    session: Session, silent_server: Engine
) -> None:
    """Each call against a hung database leaves its check running; past the limit a call
    starts none and answers at once."""
    sessions = sessionmaker(bind=silent_server)
    checks = HealthChecks(context_of(session).settings, sessions, deadline_seconds=0.2)
    earlier = check_threads()  # another test's checks may still end meanwhile
    for _ in range(MAX_CHECKS_RUNNING):
        assert checks.report().status == "down"
    assert len(check_threads() - earlier) == MAX_CHECKS_RUNNING
    started = time.perf_counter()
    report = checks.report()
    assert time.perf_counter() - started < 0.1
    assert report.status == "down"
    assert len(check_threads() - earlier) == MAX_CHECKS_RUNNING


def check_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "health-check"}


# Redis: checked when configured.


def test_redis_down_is_503(session: Session) -> None:
    port = closed_port()
    status, body, text, seconds = get_health(
        app_on(session, redis_url=f"redis://127.0.0.1:{port}/0")
    )
    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["redis"] == {"status": "unreachable", "latency_ms": None}
    assert body["checks"]["database"]["status"] == "ok"
    assert seconds < QUICK_SECONDS
    assert str(port) not in text


def test_redis_up_is_ok_with_its_latency(session: Session, redis_url: str) -> None:
    status, body, _text, _seconds = get_health(app_on(session, redis_url=redis_url))
    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert 0 <= body["checks"]["redis"]["latency_ms"] < 1000


# The job backlog: degraded, still 200.


def test_an_old_queued_job_makes_it_degraded_with_its_age(
    any_session: Session, admin: User
) -> None:
    now = clock.now()
    add_job(any_session, admin, JobStatus.QUEUED, created_at=now - dt.timedelta(hours=2))
    add_job(any_session, admin, JobStatus.QUEUED, created_at=now - dt.timedelta(minutes=1))
    # Not due yet: a delayed job or a retry's backoff is not waiting for a worker.
    add_job(
        any_session,
        admin,
        JobStatus.QUEUED,
        created_at=now - dt.timedelta(hours=5),
        run_after=now + dt.timedelta(hours=1),
    )
    status, body, _text, _seconds = get_health(app_on(any_session))
    assert status == 200
    assert body["status"] == "degraded"
    jobs = body["checks"]["jobs"]
    assert jobs["status"] == "degraded"
    assert jobs["queued_due"] == 2
    assert 7200 <= jobs["oldest_queued_seconds"] < 7200 + 60
    assert jobs["running_past_lease"] == 0


def test_a_retry_waits_from_its_run_after_not_its_creation(session: Session, admin: User) -> None:
    now = clock.now()
    add_job(
        session,
        admin,
        JobStatus.QUEUED,
        created_at=now - dt.timedelta(hours=3),
        run_after=now - dt.timedelta(seconds=30),
    )
    status, body, _text, _seconds = get_health(app_on(session))
    assert (status, body["status"]) == (200, "ok")
    assert 30 <= body["checks"]["jobs"]["oldest_queued_seconds"] < 90


def test_the_waiting_limit_is_a_setting(session: Session, admin: User) -> None:
    add_job(session, admin, JobStatus.QUEUED, created_at=clock.now() - dt.timedelta(minutes=2))
    assert get_health(app_on(session))[1]["status"] == "ok"
    assert get_health(app_on(session, health_queued_seconds=60))[1]["status"] == "degraded"


def test_a_running_job_past_its_lease_is_counted(any_session: Session, admin: User) -> None:
    now = clock.now()
    add_job(any_session, admin, JobStatus.RUNNING, lease_until=now - dt.timedelta(minutes=1))
    add_job(any_session, admin, JobStatus.RUNNING, lease_until=now + dt.timedelta(minutes=1))
    add_job(any_session, admin, JobStatus.COMPLETED, lease_until=now - dt.timedelta(hours=1))
    status, body, _text, _seconds = get_health(app_on(any_session))
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["jobs"] == {
        "status": "degraded",
        "queued_due": 0,
        "oldest_queued_seconds": None,
        "running_past_lease": 1,
    }

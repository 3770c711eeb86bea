"""Per-dialect engines (one throw-away database per test session), rollback sessions, API clients,
the frozen clock and the users of each role.

PostgreSQL, MariaDB and Redis tests read VERENIGINGEN_TEST_POSTGRES_URL /
VERENIGINGEN_TEST_MARIADB_URL / VERENIGINGEN_TEST_REDIS_URL.
When one is unset the tests that need it skip with the reason, unless
VERENIGINGEN_REQUIRE_SERVICES=1 (set by .ci/run): then a missing service fails the run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from contexts import context_on, savepoint_sessions
from server_databases import REQUIRE_SERVICES, committed_engine_on, server_database, service_url
from verenigingen import clock
from verenigingen.app_context import context_of
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user, issue_token
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.jobs.engine import JobEngine
from verenigingen.startup import load_subscribers
from verenigingen.web.app import create_app

pytest_plugins = ["verenigingen.perf.pytest_plugin"]

# As every entry point does at start-up: the services record events whose subscribers must run.
load_subscribers()

# The command line's tables at a width that cuts no test's row, whichever test loads the command
# line first: Rich reads COLUMNS when its console is made, at import.
os.environ["COLUMNS"] = "200"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy instead of migrating again."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def sqlite_engine(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("sqlite-session") / "verenigingen.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_sqlite(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database of its own, for tests where commits are the point."""
    path = tmp_path / "verenigingen.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (VERENIGINGEN_TEST_REDIS_URL); tests keep their keys under their own names."""
    import redis

    url = service_url("VERENIGINGEN_TEST_REDIS_URL")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as error:
        if REQUIRE_SERVICES:
            pytest.fail(f"cannot use the Redis at {url}: {error}", pytrace=False)
        pytest.skip(f"cannot use the Redis at {url}: {error}")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from server_database("VERENIGINGEN_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    yield from server_database("VERENIGINGEN_TEST_MARIADB_URL")


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def mariadb_engine(mariadb_url: str) -> Iterator[Engine]:
    engine = make_engine(mariadb_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(
    params=["VERENIGINGEN_TEST_POSTGRES_URL", "VERENIGINGEN_TEST_MARIADB_URL"],
    ids=["postgres", "mariadb"],
)
def committed_server_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database of its own on PostgreSQL and on MariaDB, for tests that commit.

    The shared per-session databases hold only rolled-back work; a test that commits (races
    between threads, say) gets this one, so its rows never reach another test.
    """
    yield from committed_engine_on(request.param)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on each of the three engines."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


def _rollback_session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    # The test's own context: its settings, a fresh cache, and in-memory queues that receive
    # what the test commits (the ``job_engine`` fixture).
    context_on(engine).attach(session)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def session(sqlite_engine: Engine) -> Iterator[Session]:
    """A SQLite session whose work is rolled back after the test."""
    yield from _rollback_session(sqlite_engine)


@pytest.fixture
def any_session(any_engine: Engine) -> Iterator[Session]:
    """A rolled-back session on each of the three engines."""
    yield from _rollback_session(any_engine)


DEFAULT_TODAY = dt.date(2026, 3, 2)
"""The tests' today unless a ``today`` mark says otherwise: a Monday, so that dates in the tests
read like a calendar."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "today(day): the day frozen_today fixes the clock at (default DEFAULT_TODAY)"
    )


@pytest.fixture
def frozen_today(request: pytest.FixtureRequest) -> Iterator[dt.date]:
    """``verenigingen.clock.today()`` fixed for the test; the fixture's value is that day.

    The day is the closest ``@pytest.mark.today(day)`` (a module sets it for all its tests in
    ``pytestmark``), else :data:`DEFAULT_TODAY`. A module whose every test needs the clock says
    ``pytestmark = pytest.mark.usefixtures("frozen_today")``; inside a test,
    ``with clock.frozen(day):`` moves time and brings it back to this day.
    """
    marker = request.node.get_closest_marker("today")
    day: dt.date = marker.args[0] if marker else DEFAULT_TODAY
    with clock.frozen(day):
        yield day


@pytest.fixture
def job_engine(working_session: Session) -> JobEngine:
    """The in-memory queues of the test's context: what the test commits is handed to them."""
    return context_of(working_session).jobs


@pytest.fixture
def working_session(request: pytest.FixtureRequest) -> Session:
    """The rolled-back session the test works in: ``any_session`` when the test runs on each
    engine, else ``session``. The role fixtures below create their users in it."""
    name = "any_session" if "any_session" in request.fixturenames else "session"
    working: Session = request.getfixturevalue(name)
    return working


@pytest.fixture
def admin(working_session: Session) -> User:
    return create_user(working_session, "admin@example.org", Role.ADMINISTRATOR, full_name="Admin")


@pytest.fixture
def treasurer(working_session: Session) -> User:
    return create_user(working_session, "treasurer@example.org", Role.TREASURER)


@pytest.fixture
def membership_secretary(working_session: Session) -> User:
    return create_user(working_session, "secretary@example.org", Role.MEMBERSHIP_SECRETARY)


@pytest.fixture
def member_user(working_session: Session) -> User:
    """A portal login (role Member) that no member record is linked to."""
    return create_user(working_session, "member@example.org", Role.MEMBER)


ClientFactory = Callable[[User | Role | str], TestClient]


@pytest.fixture
def api(session: Session) -> Iterator[ClientFactory]:
    """``api(user_or_role)``: a TestClient authenticated as that user, in the test's transaction.

    Each request runs in a savepoint of the test's connection, so the test can read what the API
    wrote through ``session`` (call ``session.expire_all()`` first) and everything is rolled back.
    """
    app = create_app(context_of(session), session_factory=savepoint_sessions(session))
    clients: list[TestClient] = []

    def make(who: User | Role | str) -> TestClient:
        if isinstance(who, User):
            user = who
        else:
            role = Role(who)
            email = f"{role.value.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.org"
            user = create_user(session, email, role)
        token = issue_token(session, user)
        session.flush()
        client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

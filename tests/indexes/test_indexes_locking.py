"""Operations on one index run one at a time, on SQLite, PostgreSQL and MariaDB: the second is a
409 ``index_busy`` at once and writes nothing; other indexes go on; the lock is released when an
operation raises and when its process is killed; the database's refusals are named errors."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from index_helpers import committed_user, indexes_on, ledger, seed_invoices
from sqlalchemy import Engine
from typer.testing import CliRunner

from contexts import context_on
from server_databases import committed_engine_on
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import issue_token
from verenigingen.cli.app import app as cli
from verenigingen.config import Settings, get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.indexes import catalog, impact, service
from verenigingen.indexes.dialects import BuildOptions, IndexOperation
from verenigingen.indexes.errors import (
    IndexBusy,
    IndexLockTimeout,
    IndexNotBuilt,
    IndexNotManaged,
)
from verenigingen.indexes.locking import exclusive
from verenigingen.indexes.models import IndexState
from verenigingen.web.app import create_app

INVOICES = catalog.resolve("ixm_invoice_customer_status_posting")
MANDATES = catalog.resolve("ixm_sepa_mandate_member_status_created")
WAIT = 30  # seconds a thread or a process may take to reach its next step; never reached
runner = CliRunner()


@pytest.fixture(
    params=["sqlite", "VERENIGINGEN_TEST_POSTGRES_URL", "VERENIGINGEN_TEST_MARIADB_URL"],
    ids=["sqlite", "postgres", "mariadb"],
)
def engine(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Engine]:
    """A migrated database of the test's own on each engine: the operations commit."""
    if request.param != "sqlite":
        yield from committed_engine_on(request.param)
        return
    shutil.copy(sqlite_template, tmp_path / "verenigingen.db")
    sqlite = make_engine(f"sqlite:///{tmp_path / 'verenigingen.db'}")
    yield sqlite
    sqlite.dispose()


def _ledger_rows(engine: Engine) -> list[tuple[Any, ...]]:
    return [
        (c.id, c.index_name, c.state, c.note, c.timings_after, c.rolled_back_at)
        for c in ledger(engine)
    ]


@contextlib.contextmanager
def impact_paused_inside_its_lock(
    engine: Engine, admin: User, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], impact.ImpactReport]]:
    """``measure_impact`` of INVOICES in another thread, held inside its lock before it measures;
    the block gets a function that lets it finish and returns its report."""
    inside, go = threading.Event(), threading.Event()
    reports: list[impact.ImpactReport] = []
    measure_index = impact.measure_index

    def paused(*arguments: Any, **options: Any) -> impact.ImpactReport:
        inside.set()
        assert go.wait(WAIT)
        return measure_index(*arguments, **options)

    def measure() -> None:
        reports.append(service.measure_impact(engine, admin, INVOICES.name, runs=1))

    def finish() -> impact.ImpactReport:
        go.set()
        thread.join(WAIT)
        (report,) = reports
        return report

    monkeypatch.setattr(impact, "measure_index", paused)
    thread = threading.Thread(target=measure)
    thread.start()
    assert inside.wait(WAIT)
    try:
        yield finish
    finally:
        go.set()  # a failing test does not leave the thread waiting
        thread.join(WAIT)


def test_a_second_operation_on_one_index_is_refused_at_once_and_other_indexes_go_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = committed_user(engine)
    seed_invoices(engine, customers=5, per_customer=20)
    (built,) = service.add_indexes(engine, admin, [INVOICES])
    assert built.action == "built"
    before = _ledger_rows(engine)

    with impact_paused_inside_its_lock(engine, admin, monkeypatch) as finish_measuring:
        started = time.monotonic()
        with pytest.raises(IndexBusy) as rollback:
            service.rollback_index(engine, admin, INVOICES.name)
        with pytest.raises(IndexBusy) as add:
            # Several indexes at once: none is built while one of them is busy.
            service.add_indexes(engine, admin, [MANDATES, INVOICES])
        with pytest.raises(IndexBusy):
            service.measure_impact(engine, admin, INVOICES.name, runs=1)
        assert time.monotonic() - started < 5  # refused at once, not queued behind the holder
        assert rollback.value.code == "index_busy"
        assert rollback.value.status_code == 409
        for refusal in (rollback, add):
            assert (
                f"index {INVOICES.name} is busy: an impact measurement has held it since 20"
                in refusal.value.detail
            )
        assert _ledger_rows(engine) == before  # the losers wrote nothing
        assert INVOICES.name in indexes_on(engine, "invoice")
        assert MANDATES.name not in indexes_on(engine, "sepa_mandate")

        # Another index is not held up, and status takes no lock.
        (other,) = service.add_indexes(engine, admin, [MANDATES])
        assert other.action == "built"
        statuses = {s.spec.name: s.ledger_state for s in service.index_status(engine, admin)}
        assert statuses[INVOICES.name] == IndexState.VALID

        report = finish_measuring()
    assert report.index == INVOICES.name
    measured = ledger(engine)[0]
    assert measured.index_name == INVOICES.name
    assert measured.timings_after  # the holder finished its work and recorded it

    outcome = service.rollback_index(engine, admin, INVOICES.name)  # free again
    assert outcome.state == IndexState.ROLLED_BACK
    assert INVOICES.name not in indexes_on(engine, "invoice")


def _blocking_the_drop(engine: Engine) -> Any:
    """A connection whose open transaction keeps the index's drop waiting for a table lock, while
    the reads the rollback measures first go on."""
    if engine.dialect.name == "sqlite":
        import sqlite3

        blocker = sqlite3.connect(str(engine.url.database), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the write lock
        return blocker
    connection = engine.connect()
    connection.begin()
    if engine.dialect.name == "postgresql":
        # SHARE: reads go on, DROP INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE) waits.
        connection.exec_driver_sql("LOCK TABLE invoice IN SHARE MODE")
    else:
        # The metadata lock of an open transaction that read the table holds off any ALTER.
        connection.exec_driver_sql("SELECT id FROM invoice LIMIT 1").all()
    return connection


def test_the_lock_is_released_when_an_operation_raises_and_a_lock_timeout_is_named(
    engine: Engine,
) -> None:
    admin = committed_user(engine)
    seed_invoices(engine, customers=5, per_customer=20)
    with pytest.raises(IndexNotBuilt):
        service.measure_impact(engine, admin, INVOICES.name, runs=1)
    with pytest.raises(IndexNotManaged):
        service.rollback_index(engine, admin, INVOICES.name)
    with exclusive(engine, [INVOICES.name], IndexOperation.ROLLBACK):
        pass  # both released their lock on the way out

    (built,) = service.add_indexes(engine, admin, [INVOICES])
    assert built.action == "built"
    before = _ledger_rows(engine)
    # SQLite waits for the write lock as long as its busy_timeout says: make that short.
    impatient = make_engine(
        engine.url.render_as_string(hide_password=False),
        settings=Settings(sqlite_busy_timeout_ms=200),
    )
    blocker = _blocking_the_drop(engine)
    try:
        with pytest.raises(IndexLockTimeout) as timed_out:
            service.rollback_index(impatient, admin, INVOICES.name, BuildOptions(1_000))
    finally:
        blocker.rollback()
        blocker.close()
    assert timed_out.value.code == "index_lock_timeout"
    assert timed_out.value.status_code == 409
    assert timed_out.value.detail.startswith(f"rollback of {INVOICES.name} stopped: the database")
    assert "the database said: " in timed_out.value.detail
    assert INVOICES.name in indexes_on(engine, "invoice")
    assert _ledger_rows(engine) == before

    outcome = service.rollback_index(impatient, admin, INVOICES.name)  # the lock was released
    impatient.dispose()
    assert outcome.state == IndexState.ROLLED_BACK
    assert INVOICES.name not in indexes_on(engine, "invoice")


HOLDER = """
import sys, time
from verenigingen.db.engine import make_engine
from verenigingen.indexes.dialects import IndexOperation
from verenigingen.indexes.locking import exclusive

with exclusive(make_engine(sys.argv[1]), [sys.argv[2]], IndexOperation.ADD):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_leaves_no_lock_behind(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", HOLDER, url, INVOICES.name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(IndexBusy, match="an add has held it since"),  # another process
            exclusive(engine, [INVOICES.name], IndexOperation.ROLLBACK),
        ):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.wait(WAIT) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    # A server notices the closed connection a moment later; no one has to clear anything.
    deadline = time.monotonic() + 10
    while True:
        try:
            with exclusive(engine, [INVOICES.name], IndexOperation.ROLLBACK):
                break
        except IndexBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# The faces, on SQLite.


def _admin_client(engine: Engine) -> TestClient:
    admin = committed_user(engine, Role.ADMINISTRATOR, "api.admin@example.org")
    with unit_of_work(make_session_factory(engine)) as session:
        token = issue_token(session, session.merge(admin))
    return TestClient(create_app(context_on(engine)), headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def impatient_sqlite(fresh_sqlite: Engine) -> Iterator[Engine]:
    """The same database, waiting at most 100 ms for SQLite's write lock."""
    impatient = make_engine(str(fresh_sqlite.url), settings=Settings(sqlite_busy_timeout_ms=100))
    yield impatient
    impatient.dispose()


def test_api_answers_409_index_busy_and_writes_nothing(fresh_sqlite: Engine) -> None:
    client = _admin_client(fresh_sqlite)
    assert client.post("/api/v1/perf/indexes", json={"name": INVOICES.name}).status_code == 200
    before = _ledger_rows(fresh_sqlite)

    with exclusive(fresh_sqlite, [INVOICES.name], IndexOperation.ROLLBACK):
        responses = [
            client.post(f"/api/v1/perf/indexes/{INVOICES.name}/impact"),
            client.post(f"/api/v1/perf/indexes/{INVOICES.name}/rollback"),
            client.post("/api/v1/perf/indexes", json={"strategic": True}),
        ]
        listed = client.get("/api/v1/perf/indexes")  # status takes no lock
        other = client.post("/api/v1/perf/indexes", json={"name": MANDATES.name})

    for response in responses:
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "index_busy"
        assert response.json()["detail"].startswith(
            f"index {INVOICES.name} is busy: a rollback has held it since 20"
        )
    assert listed.status_code == 200
    assert [o["action"] for o in other.json()] == ["built"]
    assert _ledger_rows(fresh_sqlite)[: len(before)] == before
    assert [c.index_name for c in ledger(fresh_sqlite)] == [INVOICES.name, MANDATES.name]
    assert INVOICES.name in indexes_on(fresh_sqlite, "invoice")


def test_api_names_a_lock_timeout_instead_of_a_503(impatient_sqlite: Engine) -> None:
    client = _admin_client(impatient_sqlite)
    assert client.post("/api/v1/perf/indexes", json={"name": INVOICES.name}).status_code == 200
    before = _ledger_rows(impatient_sqlite)
    blocker = _blocking_the_drop(impatient_sqlite)
    try:
        response = client.post(f"/api/v1/perf/indexes/{INVOICES.name}/rollback")
    finally:
        blocker.rollback()
        blocker.close()
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "index_lock_timeout"
    assert "(the database said: database is locked)" in response.json()["detail"]
    assert INVOICES.name in indexes_on(impatient_sqlite, "invoice")
    assert _ledger_rows(impatient_sqlite) == before


@pytest.fixture
def configured(fresh_sqlite: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The command line pointed at the test's database, with its administrator."""
    committed_user(fresh_sqlite)
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", str(fresh_sqlite.url))
    get_settings.cache_clear()
    yield fresh_sqlite
    get_settings.cache_clear()


def test_cli_exits_1_with_the_holder_when_the_index_is_busy(configured: Engine) -> None:
    assert runner.invoke(cli, ["indexes", "add", INVOICES.name]).exit_code == 0
    before = _ledger_rows(configured)
    with exclusive(configured, [INVOICES.name], IndexOperation.IMPACT):
        results = [
            runner.invoke(cli, ["indexes", *arguments])
            for arguments in (
                ["rollback", INVOICES.name],
                ["impact", INVOICES.name],
                ["add", "--strategic"],
            )
        ]
    for result in results:
        assert result.exit_code == 1, result.output
        assert f"index {INVOICES.name} is busy: an impact measurement has held it" in " ".join(
            result.output.split()
        )
    assert _ledger_rows(configured) == before
    assert INVOICES.name in indexes_on(configured, "invoice")

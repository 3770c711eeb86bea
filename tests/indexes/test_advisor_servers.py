"""The advisor on PostgreSQL and MariaDB: candidates proven on a throw-away database of the
association's own server, holding a copy of its tables with exactly its indexes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from index_helpers import STATS, committed_user, indexes_on, profile_log, seed_invoices
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from verenigingen.billing.models import Invoice
from verenigingen.cli.app import app as cli
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.scratch import throwaway_database
from verenigingen.indexes import advisor
from verenigingen.indexes.errors import ScratchUnavailable
from verenigingen.indexes.scratch import ServerDatabaseCopy, copy_tables

HISTORY_INDEX = "ix_invoice_customer_posting"


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _drop_history_index(engine: Engine) -> None:
    """Take away the index the payment history reads invoices by (on MariaDB the foreign key on
    customer_id leans on it, so the key goes first)."""
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            for key in inspect(connection).get_foreign_keys("invoice"):
                if key["constrained_columns"] == ["customer_id"]:
                    connection.exec_driver_sql(
                        f"ALTER TABLE invoice DROP FOREIGN KEY {key['name']}"
                    )
            connection.exec_driver_sql(f"ALTER TABLE invoice DROP INDEX {HISTORY_INDEX}")
        else:
            connection.exec_driver_sql(f"DROP INDEX {HISTORY_INDEX}")


def _databases(engine: Engine) -> set[str]:
    """The server's databases, less the throw-away ones of other test processes (``vt_<pid>_``),
    which come and go while this test runs."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            names = set(connection.scalars(text("SELECT datname FROM pg_database")))
        else:
            names = set(connection.scalars(text("SHOW DATABASES")))
    ours = f"vt_{os.getpid()}_"
    return {name for name in names if not name.startswith("vt_") or name.startswith(ours)}


def test_a_missing_index_is_proven_on_a_copy_on_the_same_server(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    _drop_history_index(engine)
    # 400 customers of 25 invoices: a customer's rows are 0.25 % of the table.
    seed_invoices(engine, customers=400, per_customer=25)
    before = _databases(engine)

    advice = advisor.advise(STATS, ServerDatabaseCopy(_url(engine)), source="test")

    (proposed,) = advice.proposed
    assert proposed.spec.table == "invoice"
    assert proposed.spec.columns == ("customer_id", "posting_date")
    # The plans are the server's own: a full scan before, the candidate after.
    scan = "Seq Scan on invoice" if engine.dialect.name == "postgresql" else "type=ALL"
    assert scan in proposed.plan_before
    assert proposed.spec.name in proposed.plan_after
    assert proposed.improvement >= 0.30
    assert advice.missing_for() == ["member_payment_history"]
    # Proven on the copy: the association's database did not change, and the copy is gone.
    assert proposed.spec.name not in indexes_on(engine, "invoice")
    assert HISTORY_INDEX not in indexes_on(engine, "invoice")
    assert _databases(engine) == before


def test_the_copy_has_the_rows_and_exactly_the_indexes_of_the_source(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    seed_invoices(engine, customers=400, per_customer=25)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE INDEX ix_invoice_extra_due ON invoice (due_date)")

    with throwaway_database(_url(engine), "copytest") as url:
        target = make_engine(url)
        try:
            copied = copy_tables(engine, target, ["invoice"])
            # The foreign keys' tables come along, parents first.
            assert copied.index("customer") < copied.index("invoice")
            assert "member" in copied
            with target.connect() as connection:
                assert connection.scalar(select(func.count()).select_from(Invoice)) == 10_000
            assert indexes_on(target, "invoice").keys() == indexes_on(engine, "invoice").keys()
            assert indexes_on(target, "invoice")["ix_invoice_extra_due"].columns == ("due_date",)
            assert "payment" not in copied  # nothing the statements do not read
        finally:
            target.dispose()

    # With the index there, the same statement's candidate is covered on the copy.
    advice = advisor.advise(STATS, ServerDatabaseCopy(_url(engine)), source="test")
    assert advice.proposed == []
    (aside,) = advice.set_aside
    assert aside.reason == f"already served by the leading columns of {HISTORY_INDEX}"


@pytest.mark.parametrize(
    "committed_server_engine", ["VERENIGINGEN_TEST_POSTGRES_URL"], ids=["postgres"], indirect=True
)
def test_an_invalid_postgres_index_is_left_out_of_the_copy(committed_server_engine: Engine) -> None:
    engine = committed_server_engine
    seed_invoices(engine, customers=30, per_customer=10)
    with engine.begin() as connection:
        # What a failed CREATE INDEX CONCURRENTLY leaves: present, never used by the planner.
        connection.execute(
            text(
                "UPDATE pg_index SET indisvalid = false WHERE indexrelid = CAST(:name AS regclass)"
            ),
            {"name": HISTORY_INDEX},
        )
    assert indexes_on(engine, "invoice")[HISTORY_INDEX].valid is False
    with throwaway_database(_url(engine), "copytest") as url:
        target = make_engine(url)
        try:
            copy_tables(engine, target, ["invoice"])
            assert HISTORY_INDEX not in indexes_on(target, "invoice")
        finally:
            target.dispose()


@pytest.mark.parametrize(
    "committed_server_engine", ["VERENIGINGEN_TEST_POSTGRES_URL"], ids=["postgres"], indirect=True
)
def test_a_server_that_refuses_a_new_database_is_a_clear_error(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    role = f"advise_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_url(engine), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOCREATEDB")
    try:
        limited = make_url(_url(engine)).set(username=role).render_as_string(hide_password=False)
        before = _databases(engine)
        with pytest.raises(ScratchUnavailable, match="cannot create a scratch database"):
            advisor.advise(STATS, ServerDatabaseCopy(limited), source="test")
        assert _databases(engine) == before
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def test_cli_advise_proves_on_the_server_and_fails_on_missing(
    committed_server_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = committed_server_engine
    _drop_history_index(engine)
    seed_invoices(engine, customers=400, per_customer=25)
    committed_user(engine)
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", _url(engine))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["indexes", "advise", "--from", str(profile_log(tmp_path)), "--fail-on-missing"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "proven on a copy of this database on its own server" in result.output
    add = "verenigingen indexes add --table invoice --column customer_id --column posting_date"
    assert add in result.output
    assert "proven missing indexes for: member_payment_history" in result.output

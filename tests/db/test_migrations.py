import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import (
    alembic_config,
    check_schema,
    current_revision,
    head_revision,
)
from verenigingen.errors import DatabaseNotReady


def test_models_and_migrations_agree(any_engine: Engine) -> None:
    # `alembic check` fails when the models hold a change that no migration makes.
    command.check(alembic_config(any_engine))
    assert current_revision(any_engine) == head_revision(any_engine)
    tables = set(inspect(any_engine).get_table_names())
    assert {"member", "invoice", "payment_allocation", "audit_event", "sepa_mandate"} <= tables


def test_empty_database_asks_for_init(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(DatabaseNotReady, match="run `verenigingen init` first"):
        check_schema(engine)


def test_older_schema_asks_for_upgrade(fresh_sqlite: Engine) -> None:
    with fresh_sqlite.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(DatabaseNotReady) as failure:
        check_schema(fresh_sqlite)
    assert failure.value.detail == (
        f"the database schema is at 0000, this version needs {head_revision(fresh_sqlite)}; "
        "run `verenigingen init` to upgrade it"
    )


def test_unreachable_database_is_one_line() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(DatabaseNotReady) as failure:
        check_schema(engine)
    assert failure.value.detail.startswith("cannot reach the database at postgresql+psycopg://")
    assert "\n" not in failure.value.detail


def test_sqlite_runs_in_wal_with_foreign_keys(fresh_sqlite: Engine) -> None:
    with fresh_sqlite.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_a_sqlite_writer_that_cannot_get_the_lock_gets_sqlalchemys_error(tmp_path) -> None:
    """BEGIN IMMEDIATE goes to the driver directly; a busy database still raises the
    OperationalError that the API answers with 503, and the session can be used again."""
    from sqlalchemy.exc import OperationalError

    from verenigingen.config import Settings

    path = tmp_path / "locked.db"
    engine = make_engine(
        f"sqlite:///{path}", settings=Settings(data_dir=tmp_path, sqlite_busy_timeout_ms=50)
    )
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    holder = engine.connect()
    holder.begin()  # BEGIN IMMEDIATE: the write lock until rollback
    try:
        with pytest.raises(OperationalError, match="database is locked"), engine.begin():
            pass
        reader = engine.execution_options(sqlite_begin="DEFERRED")
        with reader.connect() as connection:  # a reader does not need the lock
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    finally:
        holder.rollback()
        holder.close()
    with engine.begin() as writer:  # the lock is free again
        writer.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()

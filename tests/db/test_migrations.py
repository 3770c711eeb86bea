import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import (
    DatabaseNotReady,
    alembic_config,
    check_schema,
    current_revision,
    head_revision,
)


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

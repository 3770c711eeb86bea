"""Schema migrations (Alembic) and the check that a database is on the current schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from verenigingen.errors import DatabaseNotReady

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Raise :class:`DatabaseNotReady` with the command to run when the schema is not current."""
    try:
        current = current_revision(engine)
    except OperationalError as error:
        raise DatabaseNotReady(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{str(error.orig).splitlines()[0]}. Check VERENIGINGEN_DATABASE_URL."
        ) from None
    head = head_revision(engine)
    if current is None:
        raise DatabaseNotReady("the database is empty; run `verenigingen init` first")
    if current != head:
        raise DatabaseNotReady(
            f"the database schema is at {current}, this version needs {head}; "
            "run `verenigingen init` to upgrade it"
        )

"""Alembic environment. The URL comes from the config (see ``verenigingen.db.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import verenigingen.models  # noqa: F401  (registers every table on the metadata)
from verenigingen.db.base import Base
from verenigingen.db.engine import make_engine

config = context.config
target_metadata = Base.metadata


# Indexes the online index manager adds (verenigingen.indexes.catalog.MANAGED_PREFIX) live
# outside the models on purpose: a migration must never propose to drop them.
MANAGED_INDEX_PREFIX = "ixm_"
SEARCH_INDEX_PREFIX = "ixs_"
"""PostgreSQL's member search indexes (migration 0021), which the models do not declare."""


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    outside_the_models = (name or "").startswith((MANAGED_INDEX_PREFIX, SEARCH_INDEX_PREFIX))
    return not (type_ == "index" and reflected and outside_the_models)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()

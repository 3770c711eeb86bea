"""SQLite: ``CREATE INDEX IF NOT EXISTS``, then ``ANALYZE`` so the planner knows the new index.

SQLite has no online build: the build holds the write lock (writers wait on busy_timeout, readers
in WAL mode go on). DDL is transactional, which ``hidden`` uses: drop inside a transaction,
measure, roll back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.dialects import (
    BuildFailed,
    BuildOptions,
    ExistingIndex,
    Parameters,
    column_list,
    quote,
    rolled_back,
)


class SqliteIndexes:
    name = "sqlite"
    _explained = 0

    def existing_indexes(self, connection: Connection, table: str) -> list[ExistingIndex]:
        found = []
        quoted = quote(connection.engine, table)
        for row in connection.exec_driver_sql(f"PRAGMA index_list({quoted})").all():
            name, unique = str(row[1]), bool(row[2])
            info = connection.exec_driver_sql(
                f"PRAGMA index_info({quote(connection.engine, name)})"
            ).all()
            columns = tuple(str(column[2]) for column in sorted(info, key=lambda c: c[0]))
            found.append(ExistingIndex(name, columns, unique=unique))
        return found

    def leftovers(self, connection: Connection, table: str) -> list[str]:
        return []

    def create_ddl(self, engine: Engine, spec: IndexSpec) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {quote(engine, spec.name)} "
            f"ON {quote(engine, spec.table)} ({column_list(engine, spec)})",
            f"ANALYZE {quote(engine, spec.table)}",
        ]

    def drop_ddl(self, engine: Engine, spec: IndexSpec) -> str:
        return f"DROP INDEX IF EXISTS {quote(engine, spec.name)}"

    def build(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> list[str]:
        statements = self.create_ddl(engine, spec)
        try:
            with engine.begin() as connection:
                for statement in statements:
                    connection.exec_driver_sql(statement)
        except DBAPIError as error:
            # The transaction rolled back: nothing was left behind.
            raise BuildFailed(str(error.orig).splitlines()[0], built=False) from None
        return statements

    def drop(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql(self.drop_ddl(engine, spec))

    def ignore(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> bool:
        return False

    @contextlib.contextmanager
    def hidden(self, connection: Connection, spec: IndexSpec) -> Iterator[None]:
        with rolled_back(connection):
            connection.exec_driver_sql(f"DROP INDEX {quote(connection.engine, spec.name)}")
            yield

    def explain(self, connection: Connection, sql: str, parameters: Parameters) -> str:
        # An EXPLAIN program does not check the schema version, so sqlite3's statement cache
        # would replay the plan from before an index was dropped: a unique comment defeats it.
        self._explained += 1
        statement = f"EXPLAIN QUERY PLAN {sql} /* plan {self._explained} */"
        rows = connection.exec_driver_sql(statement, parameters).all()
        return "\n".join(str(row[3]) for row in rows)


DIALECT = SqliteIndexes()

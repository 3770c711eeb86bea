"""Scratch copies the advisor proves its candidates on: private, of the same engine as the data,
thrown away when the proof ends.

- SQLite: the embedded shape's file, copied with SQLite's online backup (consistent while in use).
- PostgreSQL and MariaDB: a throw-away database beside the association's on the same server. The
  tables the statements read (and the tables their foreign keys point at) are reflected from the
  association's database, so the copy has exactly its indexes (an index dropped or added there is
  dropped or added here; an invalid PostgreSQL index is left out, as the planner ignores it;
  a PostgreSQL index on expressions, which reflection cannot carry whole, is made again from its
  definition, after the extensions the association's database has), then their rows are copied
  in batches and the tables analysed. Plans on the copy are the plans the
  association's own server would choose.

Copying reads every row of those tables once; on a server that also serves the association, run
``advise`` when the load is low.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Column, Connection, Engine, MetaData, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError

from verenigingen.db.engine import make_engine
from verenigingen.db.scratch import throwaway_database
from verenigingen.indexes.dialects import for_engine, quote
from verenigingen.indexes.errors import ScratchUnavailable
from verenigingen.perf.workloads.database import DemoDatabase

COPY_BATCH = 5_000
"""Rows per INSERT when a server table is copied."""


class ScratchSource(Protocol):
    @property
    def where(self) -> str:
        """Where the proof runs, as the advice shows it."""
        ...

    def fresh_copy(self, tables: Collection[str]) -> AbstractContextManager[Engine]:
        """An engine on a private copy of the data (at least ``tables``), gone after the block."""
        ...


@dataclass(frozen=True)
class SqliteFileCopy:
    """A copy of a whole SQLite database file."""

    path: Path
    where: str = "a copy of this database"

    @contextlib.contextmanager
    def fresh_copy(self, tables: Collection[str] = ()) -> Iterator[Engine]:
        with tempfile.TemporaryDirectory(prefix="advise-") as directory:
            copy = Path(directory) / "scratch.db"
            with (
                contextlib.closing(sqlite3.connect(self.path)) as source,
                contextlib.closing(sqlite3.connect(copy)) as target,
            ):
                source.backup(target)
            engine = make_engine(f"sqlite:///{copy}")
            try:
                yield engine
            finally:
                engine.dispose()


@dataclass(frozen=True)
class DemoCopy:
    """A copy of the seeded demo association the workloads run on (SQLite)."""

    database: DemoDatabase
    where: str = "a copy of the demo association"

    def fresh_copy(self, tables: Collection[str] = ()) -> AbstractContextManager[Engine]:
        return self.database.fresh_copy()


@dataclass(frozen=True)
class ServerDatabaseCopy:
    """A throw-away database on the server of ``url`` holding a copy of the tables asked for."""

    url: str
    where: str = "a copy of this database on its own server"

    @contextlib.contextmanager
    def fresh_copy(self, tables: Collection[str]) -> Iterator[Engine]:
        source = make_engine(self.url, pool_size=1, max_overflow=0)
        try:
            with contextlib.ExitStack() as stack:
                try:
                    url = stack.enter_context(throwaway_database(self.url, "advise"))
                except SQLAlchemyError as error:
                    raise ScratchUnavailable(
                        "cannot create a scratch database on the server (the advisor needs the "
                        f"right to create databases): {getattr(error, 'orig', error)!s}"
                    ) from None
                scratch = make_engine(url, pool_size=1, max_overflow=0)
                stack.callback(scratch.dispose)
                copy_tables(source, scratch, tables)
                yield scratch
        finally:
            source.dispose()


def copy_tables(source: Engine, target: Engine, tables: Collection[str]) -> list[str]:
    """Reflect ``tables`` (and the tables their foreign keys name) from ``source``, create them
    with their indexes in the empty ``target``, copy the rows and analyse. Returns the tables
    copied, parents first."""
    metadata = MetaData()
    with source.connect() as connection:
        present = set(source.dialect.get_table_names(connection))
        wanted = sorted(set(tables) & present)
        metadata.reflect(connection, only=wanted, resolve_fks=True)
        _without_invalid_indexes(connection, metadata)
        made_again = _expression_indexes(connection, metadata)
    for table in metadata.tables.values():
        for column in table.columns:
            # Defaults are for inserts the copy never gets; a reflected nextval() would name a
            # sequence the scratch database does not have.
            column.server_default = None
    ordered = list(metadata.sorted_tables)
    with target.begin() as writing:
        for extension in made_again.extensions:  # before the tables: an operator class may need one
            writing.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {quote(target, extension)}")
    metadata.create_all(target)
    with target.begin() as writing:
        for definition in made_again.definitions:
            writing.exec_driver_sql(definition)
    with source.connect() as reading, target.begin() as writing:
        for table in ordered:
            _copy_rows(reading, writing, table)
    _analyse(target, [t.name for t in ordered])
    return [t.name for t in ordered]


def _without_invalid_indexes(connection: Connection, metadata: MetaData) -> None:
    dialect = for_engine(connection.engine)
    for table in metadata.tables.values():
        invalid = {i.name for i in dialect.existing_indexes(connection, table.name) if not i.valid}
        for index in [i for i in table.indexes if i.name in invalid]:
            table.indexes.discard(index)
    connection.rollback()


@dataclass(frozen=True)
class _Definitions:
    extensions: list[str]
    definitions: list[str]


def _expression_indexes(connection: Connection, metadata: MetaData) -> _Definitions:
    """PostgreSQL's indexes on expressions (the member search's trigram and ``lower()``
    indexes): taken out of the reflected tables, whose copy would lose their operator classes,
    and returned as the statements that make them, with the extensions they may need."""
    if connection.dialect.name != "postgresql":
        return _Definitions([], [])
    definitions = []
    for table in metadata.tables.values():
        for index in [
            i
            for i in table.indexes
            if i.expressions
            and any(not isinstance(expression, Column) for expression in i.expressions)
        ]:
            table.indexes.discard(index)
            definitions.append(
                connection.exec_driver_sql(
                    "SELECT pg_get_indexdef(%(name)s::regclass)", {"name": index.name}
                ).scalar_one()
            )
    extensions = list(
        connection.exec_driver_sql(
            "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname"
        ).scalars()
    )
    connection.rollback()
    return _Definitions(extensions, definitions)


def _copy_rows(reading: Connection, writing: Connection, table: Table) -> None:
    result = reading.execution_options(stream_results=True, yield_per=COPY_BATCH).execute(
        select(table)
    )
    statement = insert(table)
    for batch in result.mappings().partitions(COPY_BATCH):
        writing.execute(statement, [dict(row) for row in batch])


def _analyse(engine: Engine, tables: list[str]) -> None:
    keyword = "ANALYZE TABLE" if engine.dialect.name in ("mysql", "mariadb") else "ANALYZE"
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        for name in tables:
            connection.exec_driver_sql(f"{keyword} {quote(engine, name)}").close()

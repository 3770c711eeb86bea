"""SQLite: ``CREATE INDEX IF NOT EXISTS``, then ``ANALYZE`` so the planner knows the new index.

SQLite has no online build: the build holds the write lock (writers wait on busy_timeout, readers
in WAL mode go on). DDL is transactional, which ``hidden`` uses: drop inside a transaction,
measure, roll back.

The manager's lock on an index is an OS file lock (``flock``) on ``<name>.lock`` in the folder
``<database file>.index-locks`` beside the database, which every process opening the file finds.
The kernel drops it when the process dies; a thread of the same process holds its own, as each
opens the file anew. The holder writes its operation and the time into the file for the next one
to read. A database in memory lives in one process, so its locks are a table in that process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from verenigingen import clock
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.dialects import (
    BuildFailed,
    BuildOptions,
    ExistingIndex,
    IndexOperation,
    LockHolder,
    Parameters,
    column_list,
    operation_named,
    quote,
    rolled_back,
)

_LOCK_REFUSALS = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


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

    @contextlib.contextmanager
    def exclusive(
        self, engine: Engine, names: Sequence[str], operation: IndexOperation
    ) -> Iterator[LockHolder | None]:
        database = engine.url.database
        if not database or database == ":memory:":
            with _MEMORY_LOCKS.exclusive(str(engine.url), names, operation) as holder:
                yield holder
            return
        folder = Path(database).resolve().with_name(f"{Path(database).name}.index-locks")
        folder.mkdir(exist_ok=True)
        with contextlib.ExitStack() as held:
            for name in names:
                taken = _take_file_lock(folder / f"{name}.lock", name, operation)
                if isinstance(taken, LockHolder):
                    yield taken
                    return
                held.callback(_release_file_lock, taken)
            yield None

    def lock_timed_out(self, error: DBAPIError) -> bool:
        code = getattr(error.orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _LOCK_REFUSALS  # primary of an extended code


def _take_file_lock(path: Path, name: str, operation: IndexOperation) -> IO[str] | LockHolder:
    """The open, locked file with this holder written in it; or who holds it."""
    lock_file = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+", encoding="utf-8")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with lock_file:
            return _holder_written(lock_file.read(), name)
    lock_file.truncate()
    since = clock.as_utc(clock.now()).isoformat()
    lock_file.write(json.dumps({"operation": operation.value, "since": since}))
    lock_file.flush()
    return lock_file


def _holder_written(text: str, name: str) -> LockHolder:
    try:
        written = json.loads(text)
        return LockHolder(
            name, operation_named(written["operation"]), dt.datetime.fromisoformat(written["since"])
        )
    except (ValueError, KeyError, TypeError):
        return LockHolder(name)  # taken a moment ago: not written yet


def _release_file_lock(lock_file: IO[str]) -> None:
    with lock_file:
        lock_file.truncate(0)  # no holder left written for the next one to misread
        fcntl.flock(lock_file, fcntl.LOCK_UN)


class _MemoryLocks:
    """The index locks of databases that live in this process's memory, by URL and name."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[tuple[str, str], LockHolder] = {}

    @contextlib.contextmanager
    def exclusive(
        self, database: str, names: Sequence[str], operation: IndexOperation
    ) -> Iterator[LockHolder | None]:
        keys = [(database, name) for name in names]
        with self._guard:
            holder = next((self._held[key] for key in keys if key in self._held), None)
            if holder is None:
                since = clock.as_utc(clock.now())
                self._held.update({key: LockHolder(key[1], operation, since) for key in keys})
        if holder is not None:
            yield holder
            return
        try:
            yield None
        finally:
            with self._guard:
                for key in keys:
                    del self._held[key]


_MEMORY_LOCKS = _MemoryLocks()


DIALECT = SqliteIndexes()

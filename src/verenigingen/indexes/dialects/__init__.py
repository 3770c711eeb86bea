"""Per-dialect index work: what exists, how to build it online, how to take it away again.

Every module offers the same functions (see :class:`IndexDialect`); :func:`for_engine` picks one.
DDL never runs inside a caller's transaction: PostgreSQL refuses ``CONCURRENTLY`` in one and
MariaDB commits implicitly around DDL, so each dialect opens its own connection for it.

Each also holds the index manager's locks on index names (:meth:`IndexDialect.exclusive`), with
what its engine offers that dies with the process holding it: a session-level advisory lock on
PostgreSQL, a user lock (``GET_LOCK``) on MariaDB, an OS file lock beside the SQLite file.
:func:`verenigingen.indexes.locking.exclusive` is how the manager takes them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.errors import UnsupportedDialect


@dataclass(frozen=True)
class ExistingIndex:
    name: str
    columns: tuple[str, ...]
    valid: bool = True
    """False for a PostgreSQL index left by a failed ``CREATE INDEX CONCURRENTLY``."""
    ignored: bool = False
    """MariaDB: marked IGNORED, so the optimizer does not use it."""
    unique: bool = False


@dataclass(frozen=True)
class BuildOptions:
    lock_timeout_ms: int = 5_000
    """How long DDL may wait for a lock before it gives up (MariaDB: rounded up to seconds)."""
    statement_timeout_ms: int = 0
    """PostgreSQL: cancel a build that runs longer (0: no limit). The index is left invalid."""


class BuildFailed(Exception):
    """The database refused or cancelled the DDL; ``built`` tells whether an index was left."""

    def __init__(self, detail: str, *, built: bool, statements: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.built = built
        self.statements = list(statements)
        """What was sent before the database refused (each algorithm tried, say)."""


class IndexOperation(enum.StrEnum):
    """What the index manager does to one index; each holds the index's lock while it runs."""

    ADD = "add"
    IMPACT = "impact"
    ROLLBACK = "rollback"


def operation_named(text: str) -> IndexOperation | None:
    """The operation a lock's holder wrote down, or None for anything else."""
    try:
        return IndexOperation(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class LockHolder:
    """Who holds an index's lock, as far as the database can tell."""

    index: str
    operation: IndexOperation | None = None
    """None when the holder has not said yet (it took the lock a moment ago)."""
    since: dt.datetime | None = None
    """When it took the lock, aware and in UTC."""


Parameters = Sequence[Any] | Mapping[str, Any]


class IndexDialect(Protocol):
    name: str

    def existing_indexes(self, connection: Connection, table: str) -> list[ExistingIndex]: ...

    def leftovers(self, connection: Connection, table: str) -> list[str]:
        """Debris of failed online builds (PostgreSQL ``_ccnew`` indexes)."""
        ...

    def create_ddl(self, engine: Engine, spec: IndexSpec) -> list[str]: ...

    def drop_ddl(self, engine: Engine, spec: IndexSpec) -> str: ...

    def build(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> list[str]:
        """Build the index online; return the statements sent. Raise :class:`BuildFailed`."""
        ...

    def drop(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> None: ...

    def ignore(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> bool:
        """Hide the index from the optimizer without dropping it; False where impossible."""
        ...

    def hidden(
        self, connection: Connection, spec: IndexSpec
    ) -> contextlib.AbstractContextManager[None]:
        """Inside the block, statements on ``connection`` are planned without the index."""
        ...

    def explain(self, connection: Connection, sql: str, parameters: Parameters) -> str: ...

    def exclusive(
        self, engine: Engine, names: Sequence[str], operation: IndexOperation
    ) -> contextlib.AbstractContextManager[LockHolder | None]:
        """Hold the index manager's lock on each of ``names`` for the block, or none of them.

        Never waits: the block gets None when every lock was taken, else the holder of the first
        one another operation (in this process or another) holds. The locks go when the block
        ends, and with the process that holds them if it dies.
        """
        ...

    def lock_timed_out(self, error: DBAPIError) -> bool:
        """The database refused a statement because a lock wait timed out (or a deadlock)."""
        ...


def quote(engine: Engine, identifier: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(identifier)


def column_list(engine: Engine, spec: IndexSpec) -> str:
    return ", ".join(quote(engine, column) for column in spec.columns)


@contextlib.contextmanager
def rolled_back(connection: Connection) -> Iterator[None]:
    """A transaction on ``connection`` that is always rolled back (transactional DDL dialects)."""
    if connection.in_transaction():
        connection.rollback()
    transaction = connection.begin()
    try:
        yield
    finally:
        transaction.rollback()


def for_engine(engine: Engine) -> IndexDialect:
    from verenigingen.indexes.dialects import mariadb, postgresql, sqlite

    dialects: dict[str, IndexDialect] = {
        "postgresql": postgresql.DIALECT,
        "mysql": mariadb.DIALECT,
        "mariadb": mariadb.DIALECT,
        "sqlite": sqlite.DIALECT,
    }
    try:
        return dialects[engine.dialect.name]
    except KeyError:
        raise UnsupportedDialect(
            f"the index manager does not support {engine.dialect.name}"
        ) from None

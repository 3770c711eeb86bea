"""PostgreSQL: ``CREATE INDEX CONCURRENTLY`` on an autocommit connection of its own.

A concurrent build does not block writes, but it cannot run in a transaction, and when it fails
(cancelled, timed out, a deadlock) it leaves the index behind marked invalid
(``pg_index.indisvalid = false``): maintained on every write, never used by the planner. The next
``add`` drops such an index concurrently and builds it again. ``REINDEX CONCURRENTLY`` that failed
leaves ``<name>_ccnew`` (and ``_ccold``) indexes: they are reported, not touched.

The manager's lock on an index is a session-level advisory lock on a connection of its own,
keyed by two integers: the manager's namespace and a hash of the index name (so no other user of
advisory locks in this database meets ours). The server drops it when that connection ends, a
killed process's too. The connection's ``application_name`` says which operation holds it.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

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

_INDEXES = text(
    """
    SELECT i.relname AS name, x.indisvalid AS valid, x.indisunique AS is_unique,
           ARRAY(
               SELECT a.attname
               FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
               ORDER BY k.position
           ) AS columns
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE t.relname = :table AND n.nspname = current_schema()
    ORDER BY i.relname
    """
)

_LOCK_NAMESPACE = zlib.crc32(b"verenigingen.indexes") & 0x7FFF_FFFF
"""The first key of every index lock; the second is :func:`_lock_key` of the index name."""
_TRY_LOCK = text("SELECT pg_try_advisory_lock(CAST(:namespace AS integer), CAST(:key AS integer))")
_LOCK_HOLDER = text(
    """
    SELECT a.application_name, a.query_start
    FROM pg_locks AS l
    LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND CAST(l.classid AS bigint) = :namespace AND CAST(l.objid AS bigint) = :key
    """
)
_HOLDER_PREFIX = "verenigingen index "
"""The ``application_name`` of a lock's connection: this prefix, then the operation."""
# lock_not_available (lock_timeout), deadlock_detected
_LOCK_REFUSALS = ("55P03", "40P01")


def _lock_key(name: str) -> dict[str, int]:
    # Non-negative, so that pg_locks shows the keys as we wrote them (its columns are oids). Two
    # names of one hash would only take turns, never share a lock.
    return {"namespace": _LOCK_NAMESPACE, "key": zlib.crc32(name.encode()) & 0x7FFF_FFFF}


class PostgresIndexes:
    name = "postgresql"

    def existing_indexes(self, connection: Connection, table: str) -> list[ExistingIndex]:
        rows = connection.execute(_INDEXES, {"table": table}).all()
        return [
            ExistingIndex(row.name, tuple(row.columns), valid=row.valid, unique=row.is_unique)
            for row in rows
        ]

    def leftovers(self, connection: Connection, table: str) -> list[str]:
        return [
            index.name
            for index in self.existing_indexes(connection, table)
            if "_ccnew" in index.name or "_ccold" in index.name
        ]

    def create_ddl(self, engine: Engine, spec: IndexSpec) -> list[str]:
        return [
            f"CREATE INDEX CONCURRENTLY {quote(engine, spec.name)} "
            f"ON {quote(engine, spec.table)} ({column_list(engine, spec)})",
            f"ANALYZE {quote(engine, spec.table)}",
        ]

    def drop_ddl(self, engine: Engine, spec: IndexSpec) -> str:
        return f"DROP INDEX CONCURRENTLY IF EXISTS {quote(engine, spec.name)}"

    @contextlib.contextmanager
    def _autocommit(self, engine: Engine, options: BuildOptions) -> Iterator[Connection]:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            # Session settings on a pooled connection: set for this work, reset before it goes
            # back to the pool so no later request inherits a short statement timeout.
            connection.exec_driver_sql(f"SET lock_timeout = {int(options.lock_timeout_ms)}")
            connection.exec_driver_sql(
                f"SET statement_timeout = {int(options.statement_timeout_ms)}"
            )
            try:
                yield connection
            finally:
                connection.exec_driver_sql("RESET lock_timeout")
                connection.exec_driver_sql("RESET statement_timeout")

    def build(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> list[str]:
        create, analyze = self.create_ddl(engine, spec)
        sent = []
        with self._autocommit(engine, options) as connection:
            current = self._find(connection, spec)
            if current is not None and not current.valid:
                # A failed earlier build: useless to the planner, a cost on every write.
                sent.append(self.drop_ddl(engine, spec))
                self._run(connection, sent[-1], spec)
            sent.append(create)
            self._run(connection, create, spec)
            connection.exec_driver_sql("RESET statement_timeout")  # ANALYZE has no deadline
            connection.exec_driver_sql(analyze)
            sent.append(analyze)
        return sent

    def _run(self, connection: Connection, statement: str, spec: IndexSpec) -> None:
        try:
            connection.exec_driver_sql(statement)
        except DBAPIError as error:
            left = self._find(connection, spec)
            raise BuildFailed(str(error.orig).splitlines()[0], built=left is not None) from None

    def _find(self, connection: Connection, spec: IndexSpec) -> ExistingIndex | None:
        return next(
            (i for i in self.existing_indexes(connection, spec.table) if i.name == spec.name),
            None,
        )

    def drop(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> None:
        with self._autocommit(engine, options) as connection:
            connection.exec_driver_sql(self.drop_ddl(engine, spec))

    def ignore(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> bool:
        return False  # PostgreSQL cannot hide an index from the planner without dropping it

    @contextlib.contextmanager
    def hidden(self, connection: Connection, spec: IndexSpec) -> Iterator[None]:
        # DDL is transactional: the drop is undone by the rollback. It holds an ACCESS EXCLUSIVE
        # lock on the table while the block runs (a few query executions), so it may wait at
        # most a second for it rather than queue behind a long transaction.
        with rolled_back(connection):
            connection.exec_driver_sql("SET LOCAL lock_timeout = 1000")
            connection.exec_driver_sql(f"DROP INDEX {quote(connection.engine, spec.name)}")
            yield

    def explain(self, connection: Connection, sql: str, parameters: Parameters) -> str:
        rows = connection.exec_driver_sql(f"EXPLAIN {sql}", parameters).all()
        return "\n".join(str(row[0]) for row in rows)

    @contextlib.contextmanager
    def exclusive(
        self, engine: Engine, names: Sequence[str], operation: IndexOperation
    ) -> Iterator[LockHolder | None]:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            for name in names:
                if not connection.execute(_TRY_LOCK, _lock_key(name)).scalar_one():
                    yield self._holder(connection, name)
                    return
            # Said after the locks are taken, so this statement's start is when they were.
            connection.execute(
                text("SELECT set_config('application_name', :holder, false)"),
                {"holder": f"{_HOLDER_PREFIX}{operation}"},
            )
            yield None
        finally:
            # Released here and now: the server would let them go only once it has noticed the
            # close, a moment after the next operation may have asked. Should the connection be
            # broken, they went with it. Closed, not pooled: no later user inherits its name.
            with contextlib.suppress(DBAPIError):
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
            connection.invalidate()
            connection.close()

    def _holder(self, connection: Connection, name: str) -> LockHolder:
        row = connection.execute(_LOCK_HOLDER, _lock_key(name)).first()
        if row is None:
            return LockHolder(name)  # released a moment ago
        # Another role's session shows neither (unless this role may read all statistics).
        said = str(row.application_name or "").removeprefix(_HOLDER_PREFIX)
        return LockHolder(name, operation_named(said), row.query_start)

    def lock_timed_out(self, error: DBAPIError) -> bool:
        return getattr(error.orig, "sqlstate", None) in _LOCK_REFUSALS


DIALECT = PostgresIndexes()

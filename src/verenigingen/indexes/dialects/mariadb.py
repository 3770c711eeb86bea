"""MariaDB: ``ALTER TABLE … ADD INDEX …, ALGORITHM=NOCOPY, LOCK=NONE`` with a session
``lock_wait_timeout``.

``LOCK=NONE`` keeps reads and writes going during the build; ``NOCOPY`` (10.3.7+) adds the index
without rebuilding the table, and where the server refuses it the build falls back to ``INPLACE``.
Where ``INPLACE`` is refused too (a table of an engine without online DDL, Aria or MyISAM) the
add fails: ``ALGORITHM=COPY`` would lock the table against writes for the whole build. InnoDB on
10.11 accepts ``NOCOPY`` for every plain index.
The ALTER still needs an exclusive metadata lock for a moment at its start and end: an open
transaction that has read the table holds it off, and ``lock_wait_timeout`` makes the ALTER give
up cleanly instead of queueing every later query behind it. Rollback first marks the index
IGNORED (10.6+; instant, and reversible), so its absence can be measured before it is dropped.

The manager's lock on an index is a user lock (``GET_LOCK``) on a connection of its own. User
locks are server-wide, so the name carries a hash of the database and the index (names are at
most 64 characters); the server drops it when that connection ends, a killed process's too. A
second lock on the same connection, the name and the operation, says which operation holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
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
    quote,
)

_STATISTICS = text(
    """
    SELECT INDEX_NAME AS name, COLUMN_NAME AS column_name, NON_UNIQUE AS non_unique,
           IGNORED AS ignored
    FROM information_schema.STATISTICS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table
    ORDER BY INDEX_NAME, SEQ_IN_INDEX
    """
)
# ER_ALTER_OPERATION_NOT_SUPPORTED and ER_ALTER_OPERATION_NOT_SUPPORTED_REASON: the algorithm
# asked for cannot do this change on this table; ER_PARSE_ERROR: a server older than 10.3.7 (or
# MySQL) does not know NOCOPY.
_ALGORITHM_REFUSED = (1845, 1846, 1064)
_EXPLAIN_FIELDS = ("table", "type", "key", "rows", "Extra")
# ER_LOCK_WAIT_TIMEOUT (lock_wait_timeout, innodb_lock_wait_timeout), ER_LOCK_DEADLOCK
_LOCK_REFUSALS = (1205, 1213)
_HELD_SINCE = text(
    """
    SELECT UTC_TIMESTAMP(6) - INTERVAL ROUND(TIME_MS * 1000) MICROSECOND AS since
    FROM information_schema.PROCESSLIST
    WHERE ID = :connection
    """
)


_MARKED_BY = ", ".join(f"IS_USED_LOCK(:{o}) AS `{o}`" for o in IndexOperation)


def _lock_name(database: str, index: str, operation: IndexOperation | None = None) -> str:
    """``verenigingen.index.<32 hex>`` (51 characters), with ``.<operation>`` for its marker."""
    digest = hashlib.blake2b(f"{database}/{index}".encode(), digest_size=16).hexdigest()
    return f"verenigingen.index.{digest}" + (f".{operation}" if operation else "")


def _error_code(error: DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class MariadbIndexes:
    name = "mariadb"

    def existing_indexes(self, connection: Connection, table: str) -> list[ExistingIndex]:
        indexes: dict[str, ExistingIndex] = {}
        for row in connection.execute(_STATISTICS, {"table": table}):
            previous = indexes.get(row.name)
            columns = (*(previous.columns if previous else ()), str(row.column_name))
            indexes[row.name] = ExistingIndex(
                row.name, columns, ignored=row.ignored == "YES", unique=not row.non_unique
            )
        return list(indexes.values())

    def leftovers(self, connection: Connection, table: str) -> list[str]:
        return []  # a failed ALTER leaves nothing behind: InnoDB drops the half-built index

    def _add(self, engine: Engine, spec: IndexSpec, algorithm: str) -> str:
        return (
            f"ALTER TABLE {quote(engine, spec.table)} ADD INDEX {quote(engine, spec.name)} "
            f"({column_list(engine, spec)}), ALGORITHM={algorithm}, LOCK=NONE"
        )

    def create_ddl(self, engine: Engine, spec: IndexSpec) -> list[str]:
        return [self._add(engine, spec, "NOCOPY"), f"ANALYZE TABLE {quote(engine, spec.table)}"]

    def drop_ddl(self, engine: Engine, spec: IndexSpec) -> str:
        return (
            f"ALTER TABLE {quote(engine, spec.table)} DROP INDEX {quote(engine, spec.name)}, "
            "ALGORITHM=NOCOPY, LOCK=NONE"
        )

    @contextlib.contextmanager
    def _session(self, engine: Engine, options: BuildOptions) -> Iterator[Connection]:
        seconds = max(1, math.ceil(options.lock_timeout_ms / 1000))  # the server's unit
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {seconds}")
            try:
                yield connection
            finally:
                connection.exec_driver_sql("SET SESSION lock_wait_timeout = DEFAULT")

    def build(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> list[str]:
        sent: list[str] = []
        with self._session(engine, options) as connection:
            for algorithm in ("NOCOPY", "INPLACE"):
                statement = self._add(engine, spec, algorithm)
                sent.append(statement)
                try:
                    connection.exec_driver_sql(statement)
                    break
                except DBAPIError as error:
                    if _error_code(error) in _ALGORITHM_REFUSED and algorithm == "NOCOPY":
                        continue
                    # A lock wait timeout (1205), INPLACE refused too (COPY would block writes
                    # for the whole build: never tried) or any other refusal: the ALTER was
                    # rolled back, no index exists.
                    raise BuildFailed(str(error.orig), built=False, statements=sent) from None
            analyze = f"ANALYZE TABLE {quote(engine, spec.table)}"
            connection.exec_driver_sql(analyze).all()
            sent.append(analyze)
        return sent

    def drop(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> None:
        with self._session(engine, options) as connection:
            connection.exec_driver_sql(self.drop_ddl(engine, spec))

    def ignore(self, engine: Engine, spec: IndexSpec, options: BuildOptions) -> bool:
        with self._session(engine, options) as connection:
            connection.exec_driver_sql(self._ignored(engine, spec, True))
        return True

    def _ignored(self, engine: Engine, spec: IndexSpec, ignored: bool) -> str:
        return (
            f"ALTER TABLE {quote(engine, spec.table)} ALTER INDEX {quote(engine, spec.name)} "
            f"{'IGNORED' if ignored else 'NOT IGNORED'}"
        )

    @contextlib.contextmanager
    def hidden(self, connection: Connection, spec: IndexSpec) -> Iterator[None]:
        # No transactional DDL here; IGNORED is the reversible, metadata-only way to hide it.
        engine = connection.engine
        if connection.in_transaction():
            connection.rollback()  # release our metadata lock, or the ALTER waits for itself
        current = {i.name: i for i in self.existing_indexes(connection, spec.table)}
        already = current[spec.name].ignored if spec.name in current else True
        connection.rollback()
        if not already:
            # Wait at most a second for the table's metadata lock, as PostgreSQL's drop does:
            # behind a long transaction, a waiting ALTER holds up every later query on the table.
            connection.exec_driver_sql("SET SESSION lock_wait_timeout = 1")
            try:
                connection.exec_driver_sql(self._ignored(engine, spec, True))
            finally:
                connection.exec_driver_sql("SET SESSION lock_wait_timeout = DEFAULT")
        try:
            yield
        finally:
            if connection.in_transaction():
                connection.rollback()
            if not already:
                connection.exec_driver_sql(self._ignored(engine, spec, False))

    @contextlib.contextmanager
    def exclusive(
        self, engine: Engine, names: Sequence[str], operation: IndexOperation
    ) -> Iterator[LockHolder | None]:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            database = str(connection.exec_driver_sql("SELECT DATABASE()").scalar_one())
            for name in names:
                if not self._take(connection, _lock_name(database, name)):
                    yield self._holder(connection, database, name)
                    return
            for name in names:  # the markers: nobody else takes these names
                self._take(connection, _lock_name(database, name, operation))
            yield None
        finally:
            # Released here and now: the server would let them go only once it has noticed the
            # close, a moment after the next operation may have asked. Should the connection be
            # broken, they went with it. Closed, not pooled, like PostgreSQL's.
            with contextlib.suppress(DBAPIError):
                connection.execute(text("SELECT RELEASE_ALL_LOCKS()"))
            connection.invalidate()
            connection.close()

    def _take(self, connection: Connection, lock: str) -> bool:
        return connection.execute(text("SELECT GET_LOCK(:lock, 0)"), {"lock": lock}).scalar() == 1

    def _holder(self, connection: Connection, database: str, name: str) -> LockHolder:
        # Which connection holds the lock, and which holds each operation's marker.
        markers = {str(o): _lock_name(database, name, o) for o in IndexOperation}
        row = connection.execute(
            text(f"SELECT IS_USED_LOCK(:lock) AS holder, {_MARKED_BY}"),
            {"lock": _lock_name(database, name), **markers},
        ).one()
        holder = row.holder
        if holder is None:
            return LockHolder(name)  # released a moment ago
        operation = next((o for o in IndexOperation if row._mapping[str(o)] == holder), None)
        since = connection.execute(_HELD_SINCE, {"connection": holder}).scalar()
        return LockHolder(name, operation, since.replace(tzinfo=dt.UTC) if since else None)

    def lock_timed_out(self, error: DBAPIError) -> bool:
        return _error_code(error) in _LOCK_REFUSALS

    def explain(self, connection: Connection, sql: str, parameters: Parameters) -> str:
        result = connection.exec_driver_sql(f"EXPLAIN {sql}", parameters)
        keys = list(result.keys())
        lines = []
        for row in result.all():
            values = dict(zip(keys, row, strict=True))
            lines.append(" ".join(f"{field}={values.get(field)}" for field in _EXPLAIN_FIELDS))
        return "\n".join(lines)


DIALECT = MariadbIndexes()

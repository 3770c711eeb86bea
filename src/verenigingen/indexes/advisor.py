"""The index advisor: candidates from the statements the workloads send, each proven on a scratch
copy before it is proposed.

Input is the query log of a profiler run (``performance_baseline.json``: fingerprints with their
count and time) or a live capture of the workloads. Each SELECT's shape (``shapes``) gives one
candidate per table: equality columns, then range, then ORDER BY, at most three. Candidates on
small tables, or already served by the leading columns of an existing index, are set aside.
The rest are proven on a scratch copy of the data, of the same engine (``scratch``: a copy of the
SQLite file, or a throw-away database on the association's PostgreSQL or MariaDB server): the
statements are written in the copy's SQL dialect with representative values from the data, their
plans and median times are taken without and with the candidate, and only a candidate that the
planner uses and that makes its statements at least 30 % faster is proposed, ranked by the time it
would save over the log. A statement the copy's engine refuses is left out of the proof.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, inspect, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql.expression import ColumnClause
from sqlglot import exp

from verenigingen.db.base import Base
from verenigingen.indexes import catalog
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.dialects import BuildOptions, IndexDialect, for_engine
from verenigingen.indexes.errors import InvalidIndexSpec
from verenigingen.indexes.impact import IMPROVEMENT_BAR
from verenigingen.indexes.scratch import ScratchSource
from verenigingen.indexes.shapes import parse, table_shapes
from verenigingen.perf.workloads import select_workloads
from verenigingen.perf.workloads.database import LARGE, DemoDatabase, cache_dir
from verenigingen.perf.workloads.runner import run_workload

MIN_ROWS = 1_000
"""Tables with fewer rows are left alone: a scan of them is as fast as an index."""
TIMED_RUNS = 5
_SCRATCH_OPTIONS = BuildOptions()


@dataclass(frozen=True)
class StatementStat:
    workload: str
    sql: str
    count: int
    total_ms: float


@dataclass
class Candidate:
    spec: IndexSpec
    statements: list[StatementStat] = field(default_factory=list)
    plan_before: str = ""
    plan_after: str = ""
    before_ms: float = 0.0
    after_ms: float = 0.0
    reason: str = ""
    """Why it was set aside (empty for a proven candidate)."""

    @property
    def workloads(self) -> list[str]:
        return sorted({s.workload for s in self.statements})

    @property
    def spent_ms(self) -> float:
        return sum(s.total_ms for s in self.statements)

    @property
    def improvement(self) -> float:
        return 1 - self.after_ms / self.before_ms if self.before_ms > 0 else 0.0

    @property
    def saved_ms(self) -> float:
        """Time the log's statements would not have spent with the index."""
        return max(0.0, self.spent_ms * self.improvement)

    @property
    def proven(self) -> bool:
        return not self.reason


@dataclass
class Advice:
    source: str
    proposed: list[Candidate]
    """Proven candidates, most time saved first."""
    set_aside: list[Candidate]

    def missing_for(self) -> list[str]:
        """Workloads with at least one proven missing index."""
        return sorted({w for c in self.proposed for w in c.workloads})


def stats_from_profile(path: Path) -> list[StatementStat]:
    """The statements of a ``perf profile`` run, from its ``performance_baseline.json``."""
    document = json.loads(path.read_text(encoding="utf-8"))
    stats = []
    for workload, entry in document.get("workloads", {}).items():
        for item in entry.get("fingerprints", []):
            stats.append(
                StatementStat(
                    workload,
                    str(item["fingerprint"]),
                    int(item["count"]),
                    float(item.get("time_ms", 0.0)),
                )
            )
    return stats


def stats_from_live(names: Sequence[str] | None, database: DemoDatabase) -> list[StatementStat]:
    """Run the workloads once each under capture and aggregate their statements."""
    stats = []
    for workload in select_workloads(names):
        result = run_workload(workload, database)
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for query in result.log.queries:
            totals[query.fingerprint][0] += 1
            totals[query.fingerprint][1] += query.duration_ns
        for sql, (count, ns) in totals.items():
            stats.append(StatementStat(workload.name, sql, count, ns / 1e6))
    return stats


def demo_database() -> DemoDatabase:
    return DemoDatabase(LARGE, cache_dir())


def advise(
    stats: Iterable[StatementStat],
    database: ScratchSource,
    *,
    source: str,
    min_rows: int = MIN_ROWS,
) -> Advice:
    candidates = _candidates(stats)
    proposed: list[Candidate] = []
    set_aside: list[Candidate] = []
    if not candidates:
        return Advice(source, proposed, set_aside)
    with database.fresh_copy(_tables_read(candidates.values())) as scratch:
        for candidate in candidates.values():
            _judge(scratch, candidate, min_rows)
            (proposed if candidate.proven else set_aside).append(candidate)
    proposed.sort(key=lambda c: c.saved_ms, reverse=True)
    return Advice(source, proposed, set_aside)


def _tables_read(candidates: Iterable[Candidate]) -> set[str]:
    """Every table the candidates' statements read (joins and subqueries included)."""
    names = set()
    for candidate in candidates:
        names.add(candidate.spec.table)
        for stat in candidate.statements:
            tree = parse(stat.sql)
            if tree is not None:
                names.update(t.name for t in tree.find_all(exp.Table) if t.name)
    return names & set(Base.metadata.tables)


def _candidates(stats: Iterable[StatementStat]) -> dict[tuple[str, tuple[str, ...]], Candidate]:
    found: dict[tuple[str, tuple[str, ...]], Candidate] = {}
    for stat in stats:
        if not stat.sql.lstrip().upper().startswith("SELECT"):
            continue
        for shape in table_shapes(stat.sql):
            columns = _without_trailing_key(shape.table, shape.candidate(catalog.MAX_COLUMNS))
            try:
                spec = catalog.adhoc(shape.table, columns)
            except InvalidIndexSpec:
                continue  # not one of our tables (a subquery alias) or not a real column
            key = (spec.table, spec.columns)
            candidate = found.setdefault(key, Candidate(spec))
            if stat not in candidate.statements:
                candidate.statements.append(stat)
    return found


def _without_trailing_key(table_name: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    # Lists order by "..., id" for a stable order; a secondary index already ends with the row's
    # key on SQLite and InnoDB, and a tie-break on it is cheap on PostgreSQL.
    table_ = Base.metadata.tables.get(table_name)
    key = {c.name for c in table_.primary_key.columns} if table_ is not None else set()
    while len(columns) > 1 and columns[-1] in key:
        columns = columns[:-1]
    return columns


def _judge(scratch: Engine, candidate: Candidate, min_rows: int) -> None:
    spec = candidate.spec
    dialect = for_engine(scratch)
    with scratch.connect() as connection:
        rows = connection.scalar(select(func.count()).select_from(table(spec.table))) or 0
        if rows < min_rows:
            candidate.reason = f"small table ({rows} rows < {min_rows})"
            return
        covering = _covering_index(connection, spec)
        if covering:
            candidate.reason = f"already served by the leading columns of {covering}"
            return
        statements = [_concrete(connection, s.sql) for s in candidate.statements]
        concrete = _accepted(connection, dialect, [s for s in statements if s is not None])
        if not concrete:
            candidate.reason = "no statement could be given representative values"
            return
        candidate.plan_before = _plans(connection, dialect, concrete)
        candidate.before_ms = _median_total(connection, concrete)
        connection.rollback()  # only reads: end them so the build below is not blocked by them
    dialect.build(scratch, spec, _SCRATCH_OPTIONS)
    try:
        with scratch.connect() as connection:
            candidate.plan_after = _plans(connection, dialect, concrete)
            candidate.after_ms = _median_total(connection, concrete)
    finally:
        dialect.drop(scratch, spec, _SCRATCH_OPTIONS)
    if spec.name not in candidate.plan_after:
        candidate.reason = "the planner does not use it"
    elif candidate.improvement < IMPROVEMENT_BAR:
        candidate.reason = f"its statements get only {candidate.improvement:.0%} faster"


def _covering_index(connection: Connection, spec: IndexSpec) -> str | None:
    dialect = for_engine(connection.engine)
    width = len(spec.columns)
    existing = [(i.name, i.columns) for i in dialect.existing_indexes(connection, spec.table)]
    primary = inspect(connection).get_pk_constraint(spec.table)
    existing.append(("the primary key", tuple(primary.get("constrained_columns") or ())))
    for name, columns in existing:
        if columns[:width] == spec.columns:
            return name
    return None


_SQLGLOT_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def _accepted(connection: Connection, dialect: IndexDialect, statements: list[str]) -> list[str]:
    """The statements the copy's engine can plan (a statement written for another engine may
    use a function this one lacks)."""
    accepted = []
    for sql in statements:
        try:
            dialect.explain(connection, sql, ())
        except DBAPIError:
            connection.rollback()  # PostgreSQL: the failed statement aborted the transaction
            continue
        accepted.append(sql)
    connection.rollback()
    return accepted


def _concrete(connection: Connection, sql: str) -> str | None:
    """``sql`` in the connection's SQL dialect with each placeholder replaced by a representative
    value from its column: the most frequent value for equality and IN, the median for a range,
    50 for LIMIT, 0 for OFFSET."""
    tree = parse(sql)
    if tree is None:
        return None
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}

    def value(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Placeholder):
            return node
        parent = node.parent
        if isinstance(parent, exp.Limit):
            return exp.Literal.number(50)
        if isinstance(parent, exp.Offset):
            return exp.Literal.number(0)
        target = _compared_column(node)
        if target is None:
            return exp.Null()
        table_name = aliases.get(target.table, target.table)
        ranged = isinstance(parent, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between))
        sample = _sample(connection, table_name, target.name, ranged=ranged)
        if sample is None:
            return exp.Null()
        if isinstance(sample, bool | int | float):
            return exp.Literal.number(int(sample) if isinstance(sample, bool) else sample)
        return exp.Literal.string(str(sample))

    try:
        written = _SQLGLOT_DIALECTS.get(connection.dialect.name, "sqlite")
        return tree.transform(value).sql(dialect=written)
    except Exception:  # a shape sqlglot cannot write back: leave the statement out
        return None


def _compared_column(node: exp.Expr) -> exp.Column | None:
    parent = node.parent
    if isinstance(parent, exp.Tuple | exp.Paren):
        parent = parent.parent
    if isinstance(parent, exp.In) and isinstance(parent.this, exp.Column):
        return parent.this
    if isinstance(parent, exp.Binary):
        for side in (parent.left, parent.right):
            if isinstance(side, exp.Column):
                return side
    if isinstance(parent, exp.Between) and isinstance(parent.this, exp.Column):
        return parent.this
    return None


def _sample(connection: Connection, table_name: str, name: str, *, ranged: bool) -> object:
    if not table_name or not inspect(connection).has_table(table_name):
        return None
    columns = {c["name"] for c in inspect(connection).get_columns(table_name)}
    if name not in columns:
        return None  # only real columns reach SQL, quoted by SQLAlchemy
    source = table(table_name)
    target: ColumnClause[Any] = sql_column(name)
    if ranged:
        total = connection.scalar(select(func.count()).select_from(source)) or 0
        statement = select(target).select_from(source).order_by(target).offset(total // 2)
        return connection.scalar(statement.limit(1))
    return connection.scalar(
        select(target)
        .select_from(source)
        .where(target.is_not(None))
        .group_by(target)
        .order_by(func.count().desc())
        .limit(1)
    )


def _plans(connection: Connection, dialect: IndexDialect, statements: Sequence[str]) -> str:
    plans = [f"{sql[:160]}\n{dialect.explain(connection, sql, ())}" for sql in statements]
    connection.rollback()
    return "\n\n".join(plans)


def _median_total(connection: Connection, statements: Sequence[str]) -> float:
    total = 0.0
    for sql in statements:
        connection.exec_driver_sql(sql).all()  # warm
        samples = []
        for _ in range(TIMED_RUNS):
            started = time.perf_counter_ns()
            connection.exec_driver_sql(sql).all()
            samples.append((time.perf_counter_ns() - started) / 1e6)
        total += statistics.median(samples)
    connection.rollback()
    return total

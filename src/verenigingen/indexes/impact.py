"""Measured impact: the reads an index is for, planned and timed with and without it.

The reads are the spec's probes (the real services, with representative parameters from the
data). Their statements are captured with their parameters on a connection of our own and
replayed: the plan of each (EXPLAIN / EXPLAIN QUERY PLAN) with and without the index, and the
median of interleaved timed runs, so a change of load on the machine hits both sides alike.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.dialects import IndexDialect, Parameters, for_engine, rolled_back
from verenigingen.jobs import report_progress
from verenigingen.perf.fingerprint import normalise

IMPROVEMENT_BAR = 0.30
"""An index that makes its reads less than 30 % faster is flagged (the plan's bar)."""
DEFAULT_RUNS = 7


@dataclass(frozen=True)
class ProbeStatement:
    sql: str
    parameters: Parameters

    @property
    def label(self) -> str:
        return normalise(self.sql)


@dataclass(frozen=True)
class QueryImpact:
    sql: str
    plan_without: str
    plan_with: str
    median_without_ms: float
    median_with_ms: float
    uses_index: bool

    @property
    def improvement(self) -> float:
        if self.median_without_ms <= 0:
            return 0.0
        return 1 - self.median_with_ms / self.median_without_ms


@dataclass(frozen=True)
class ImpactReport:
    index: str
    table: str
    runs: int
    queries: list[QueryImpact]

    @property
    def total_without_ms(self) -> float:
        return sum(q.median_without_ms for q in self.queries)

    @property
    def total_with_ms(self) -> float:
        return sum(q.median_with_ms for q in self.queries)

    @property
    def improvement(self) -> float:
        if self.total_without_ms <= 0:
            return 0.0
        return 1 - self.total_with_ms / self.total_without_ms

    @property
    def flagged(self) -> bool:
        """Improves its reads by less than :data:`IMPROVEMENT_BAR`: offer the rollback."""
        return self.improvement < IMPROVEMENT_BAR

    def plans(self, *, with_index: bool) -> str:
        return "\n\n".join(
            f"{q.sql[:200]}\n{q.plan_with if with_index else q.plan_without}" for q in self.queries
        )

    def timings(self, *, with_index: bool) -> dict[str, Any]:
        return {
            f"{number}. {q.sql[:200]}": round(
                q.median_with_ms if with_index else q.median_without_ms, 3
            )
            for number, q in enumerate(self.queries, 1)
        }


def measuring_connection(engine: Engine) -> Connection:
    # On SQLite a read must not take the write lock (the engine's default BEGIN IMMEDIATE).
    return engine.connect().execution_options(sqlite_begin="DEFERRED")


def capture_probes(connection: Connection, spec: IndexSpec, user: User) -> list[ProbeStatement]:
    """Run the spec's probes in a rolled-back transaction; keep the SELECTs on its table."""
    mentions = re.compile(rf"\b{re.escape(spec.table)}\b")
    seen: dict[tuple[str, str], ProbeStatement] = {}
    recording = False

    def record(
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if not recording or executemany or not statement.lstrip().upper().startswith("SELECT"):
            return
        if mentions.search(statement):
            seen.setdefault((statement, repr(parameters)), ProbeStatement(statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        with rolled_back(connection), Session(bind=connection) as session:
            for probe in spec.probes:
                chosen = probe.choose(session)
                recording = True
                probe.read(session, user, chosen)
                recording = False
    finally:
        event.remove(connection, "before_cursor_execute", record)
    return list(seen.values())


def _timed(connection: Connection, statement: ProbeStatement) -> float:
    # One untimed execution first, on both sides alike: it pays for the transaction's start and,
    # after the index was hidden and restored, for re-reading the schema and re-preparing.
    connection.exec_driver_sql(statement.sql, statement.parameters).all()
    started = time.perf_counter_ns()
    connection.exec_driver_sql(statement.sql, statement.parameters).all()
    return (time.perf_counter_ns() - started) / 1e6


@contextmanager
def _visible(connection: Connection) -> Iterator[None]:
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()


def measure(
    connection: Connection,
    dialect: IndexDialect,
    spec: IndexSpec,
    statements: Sequence[ProbeStatement],
    runs: int = DEFAULT_RUNS,
) -> ImpactReport:
    """Plans and medians of ``statements`` with the index and hidden from the planner; the
    rounds done are reported as progress (a job's, when the desk runs it as one)."""
    plans_with = {}
    with _visible(connection):
        for s in statements:
            plans_with[s.sql] = dialect.explain(connection, s.sql, s.parameters)
    plans_without = {}
    with dialect.hidden(connection, spec):
        for s in statements:
            plans_without[s.sql] = dialect.explain(connection, s.sql, s.parameters)
    with_ms: dict[str, list[float]] = {s.sql: [] for s in statements}
    without_ms: dict[str, list[float]] = {s.sql: [] for s in statements}
    for number in range(runs + 1):  # the first round warms the caches and is not counted
        for s in statements:
            sides = [True, False] if number % 2 == 0 else [False, True]
            for with_index in sides:
                if with_index:
                    with _visible(connection):
                        elapsed = _timed(connection, s)
                else:
                    with dialect.hidden(connection, spec):
                        elapsed = _timed(connection, s)
                if number:
                    (with_ms if with_index else without_ms)[s.sql].append(elapsed)
        report_progress(number + 1, runs + 1)
    queries = [
        QueryImpact(
            sql=s.label,
            plan_without=plans_without[s.sql],
            plan_with=plans_with[s.sql],
            median_without_ms=statistics.median(without_ms[s.sql]),
            median_with_ms=statistics.median(with_ms[s.sql]),
            uses_index=spec.name in plans_with[s.sql],
        )
        for s in statements
    ]
    return ImpactReport(spec.name, spec.table, runs, queries)


def measure_index(
    engine: Engine, spec: IndexSpec, user: User, runs: int = DEFAULT_RUNS
) -> ImpactReport:
    """Capture the spec's reads on ``engine`` and measure them with and without the index."""
    dialect = for_engine(engine)
    with measuring_connection(engine) as connection:
        statements = capture_probes(connection, spec, user)
        return measure(connection, dialect, spec, statements, runs)


def current_plans(engine: Engine, spec: IndexSpec, user: User) -> str:
    """The plans of the spec's reads as the database would run them now."""
    dialect = for_engine(engine)
    with measuring_connection(engine) as connection:
        statements = capture_probes(connection, spec, user)
        with _visible(connection):
            return "\n\n".join(
                f"{s.label[:200]}\n{dialect.explain(connection, s.sql, s.parameters)}"
                for s in statements
            )


def median_now(engine: Engine, spec: IndexSpec, user: User, runs: int = DEFAULT_RUNS) -> float:
    """Total median milliseconds of the spec's reads as the database runs them now."""
    with measuring_connection(engine) as connection:
        statements = capture_probes(connection, spec, user)
        total = 0.0
        for s in statements:
            samples = []
            for _ in range(runs):
                with _visible(connection):
                    samples.append(_timed(connection, s))
            total += statistics.median(samples)
        return total

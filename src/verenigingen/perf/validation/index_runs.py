"""The index criterion: the reads the strategic indexes are for, on the bare schema against the
indexed one.

The reads are each strategic index's probes (the real services' reads, ``indexes.catalog``),
captured with their parameters on the ``on`` side. They are replayed on both sides' databases
(the same data: both got the same requests), interleaved, median of ``runs`` each. A statement
counts as served when the ``on`` side's plan for it uses an index the bare schema lacks (a
strategic one, or a history index the migrations ship); the criterion sums those.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from verenigingen.db.session import make_session_factory
from verenigingen.indexes import catalog
from verenigingen.indexes.dialects import for_engine
from verenigingen.indexes.impact import ProbeStatement, capture_probes, measuring_connection
from verenigingen.perf.validation.association import HISTORY_INDEXES, administrator


@dataclass(frozen=True)
class StatementFigures:
    index: str
    """The strategic index whose probe sent it."""
    sql: str
    bare_ms: float
    indexed_ms: float
    served_by: str | None
    """The index the indexed plan uses that the bare schema lacks; None: not served."""


def measure_strategic_indexes(bare: Engine, indexed: Engine, runs: int) -> list[StatementFigures]:
    with make_session_factory(indexed)() as session:
        user = administrator(session)
        session.expunge(user)
    missing_on_bare = {*catalog.strategic_names(), *HISTORY_INDEXES}
    dialect = for_engine(indexed)
    figures = []
    with measuring_connection(indexed) as on, measuring_connection(bare) as off:
        for spec in catalog.STRATEGIC:
            for statement in capture_probes(on, spec, user):
                plan = dialect.explain(on, statement.sql, statement.parameters)
                on.rollback()
                served = next((name for name in sorted(missing_on_bare) if name in plan), None)
                bare_ms, indexed_ms = _interleaved_medians(off, on, statement, runs)
                figures.append(
                    StatementFigures(spec.name, statement.label, bare_ms, indexed_ms, served)
                )
    return figures


def _interleaved_medians(
    off: Connection, on: Connection, statement: ProbeStatement, runs: int
) -> tuple[float, float]:
    samples: dict[int, list[float]] = {id(off): [], id(on): []}
    for number in range(runs + 1):  # the first round warms the caches and is not counted
        for connection in (off, on) if number % 2 == 0 else (on, off):
            connection.exec_driver_sql(statement.sql, statement.parameters).all()
            started = time.perf_counter_ns()
            connection.exec_driver_sql(statement.sql, statement.parameters).all()
            elapsed = (time.perf_counter_ns() - started) / 1e6
            connection.rollback()
            if number:
                samples[id(connection)].append(elapsed)
    return statistics.median(samples[id(off)]), statistics.median(samples[id(on)])

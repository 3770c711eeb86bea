"""``perf profile``: where the time goes in each workload, measured several ways.

Per workload, each on a fresh copy of the demo association:

* ``repeat`` plain runs under capture: wall and CPU medians, statements, rows, N+1 findings;
* one run under tracemalloc: peak memory (kept apart, tracing slows every allocation);
* one run under cProfile: functions by own time (kept apart, profiling inflates timings);
* one run under pyinstrument: the HTML call tree a person can click through.

The last three run without the query capture, so they show the application's cost and not the
toolkit's. The timed runs include it (bench/capture_overhead.py measures what it adds).
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import statistics
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinstrument import Profiler

from verenigingen.perf import nplusone
from verenigingen.perf.baseline import QueryMetrics, n_plus_one_findings, query_metrics
from verenigingen.perf.workloads import Workload
from verenigingen.perf.workloads.database import DemoDatabase
from verenigingen.perf.workloads.runner import RunResult, run_workload

TOP_FUNCTIONS = 15


@dataclass(frozen=True)
class FunctionStat:
    function: str
    """``path:line(name)``, shortened to the package path for libraries."""
    area: str
    calls: int
    own_s: float
    share: float
    """Own time over the total own time of the profiled run (0..1)."""


@dataclass
class WorkloadProfile:
    workload: Workload[Any]
    iterations: int
    runs: list[RunResult]
    metrics: QueryMetrics
    findings: list[nplusone.Finding]
    peak_memory_bytes: int = 0
    top_functions: list[FunctionStat] = field(default_factory=list)
    profiled_s: float = 0.0
    """Total own time that cProfile saw in its run."""
    html: Path | None = None

    @property
    def wall_ms_median(self) -> float:
        return statistics.median(run.wall_ns / 1e6 for run in self.runs)

    @property
    def cpu_ms_median(self) -> float:
        return statistics.median(run.cpu_ns / 1e6 for run in self.runs)


def runs_per_workload(repeat: int) -> int:
    return repeat + 3


def profile_workload(
    workload: Workload[Any],
    database: DemoDatabase,
    out: Path,
    *,
    repeat: int,
    iterations: int | None = None,
    advance: Callable[[str], None] = lambda _label: None,
) -> WorkloadProfile:
    runs = []
    for number in range(repeat):
        runs.append(run_workload(workload, database, iterations=iterations))
        advance(f"{workload.name} run {number + 1}/{repeat}")
    result = WorkloadProfile(
        workload,
        runs[0].iterations,
        runs,
        query_metrics(runs[0].log),
        n_plus_one_findings(runs[0]),
    )

    peak: list[int] = []
    run_workload(
        workload,
        database,
        iterations=iterations,
        instrument=lambda: _traced(peak),
        capture_queries=False,
    )
    result.peak_memory_bytes = peak[0]
    advance(f"{workload.name} memory")

    profile = cProfile.Profile()
    run_workload(
        workload,
        database,
        iterations=iterations,
        instrument=lambda: _enabled(profile),
        capture_queries=False,
    )
    result.top_functions, result.profiled_s = top_functions(profile)
    advance(f"{workload.name} cProfile")

    profiler = Profiler()
    run_workload(
        workload,
        database,
        iterations=iterations,
        instrument=lambda: _sampling(profiler),
        capture_queries=False,
    )
    result.html = out / f"profile-{workload.name}.html"
    result.html.write_text(profiler.output_html(), encoding="utf-8")
    advance(f"{workload.name} pyinstrument")
    return result


def profile_workloads(
    workloads: Sequence[Workload[Any]],
    database: DemoDatabase,
    out: Path,
    *,
    repeat: int,
    iterations: int | None = None,
    advance: Callable[[str], None] = lambda _label: None,
) -> list[WorkloadProfile]:
    out.mkdir(parents=True, exist_ok=True)
    return [
        profile_workload(w, database, out, repeat=repeat, iterations=iterations, advance=advance)
        for w in workloads
    ]


@contextlib.contextmanager
def _traced(peak: list[int]) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


@contextlib.contextmanager
def _enabled(profile: cProfile.Profile) -> Iterator[None]:
    profile.enable()
    try:
        yield
    finally:
        profile.disable()


@contextlib.contextmanager
def _sampling(profiler: Profiler) -> Iterator[None]:
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()


def top_functions(profile: cProfile.Profile) -> tuple[list[FunctionStat], float]:
    """The functions with the most own time, and the total own time of the run."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    entries: list[tuple[tuple[str, int, str], int, float]] = [
        (key, calls, own) for key, (_cc, calls, own, _cum, _callers) in stats.items()
    ]
    total = sum(own for _key, _calls, own in entries) or 1.0
    entries.sort(key=lambda entry: entry[2], reverse=True)
    return [
        FunctionStat(_label(key), area_of(key), calls, own, own / total)
        for key, calls, own in entries[:TOP_FUNCTIONS]
    ], total


def _label(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":
        return name  # a built-in: "<method 'execute' of 'sqlite3.Cursor' objects>"
    for marker in ("site-packages/", "src/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = Path(path).name
    return f"{path}:{line}({name})"


def area_of(key: tuple[str, int, str]) -> str:
    """Which layer a function belongs to, for a reader deciding where to look."""
    path, _line, name = key
    if "sqlite3" in name or "sqlite3" in path:
        return "database (SQLite)"
    if "sqlalchemy" in path:
        return "SQLAlchemy"
    if "pydantic" in path:
        return "validation (Pydantic)"
    if "verenigingen" in path:
        return "application"
    if path == "~":
        return "Python built-ins"
    return "libraries"

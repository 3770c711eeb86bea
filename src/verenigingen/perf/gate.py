"""The regression gate: re-run the workloads and compare with the committed baseline.

Deterministic metrics gate (total statements, executions per fingerprint, rows): any of them
worse than the tolerance fails, and so does a statement whose count grows with the size of the
association unless the baseline already knew it. Timings are compared as a ratio to a fixed
calibration task measured in the same process, interleaved with the workloads, so a slower
machine does not look like slower code; they fail only when asked to.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from verenigingen.perf import nplusone
from verenigingen.perf.baseline import (
    FORMAT,
    QueryMetrics,
    demo_description,
    describe_key,
    environment,
    environment_key,
    query_metrics,
    scaling_findings,
)
from verenigingen.perf.workloads import Workload
from verenigingen.perf.workloads.database import DemoDatabase
from verenigingen.perf.workloads.runner import run_workload

SCALING_ITERATIONS = 5
"""Units of work of the two scale-check runs (the same at both association sizes)."""


class GateRefusal(Exception):
    """The comparison cannot be made (another environment, other workload sizes)."""


@dataclass
class GateMeasurement:
    workload: str
    iterations: int
    metrics: QueryMetrics
    scaling: list[nplusone.Finding]
    wall_ms: list[float]
    """Measured part of each interleaved run."""
    calibration_ms: list[float]
    stable: bool
    """Every repeat sent the same statements the same number of times."""

    @property
    def wall_ms_median(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def ratio(self) -> float:
        """Median time of the workload over median time of the calibration task."""
        return self.wall_ms_median / statistics.median(self.calibration_ms)


def calibrate() -> float:
    """Milliseconds for a fixed mix of Python and SQLite work: the yardstick of timings."""
    started = time.perf_counter()
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, amount NUMERIC)")
        connection.executemany(
            "INSERT INTO t (name, amount) VALUES (?, ?)",
            ((f"lid {i}", i * 1.25) for i in range(5000)),
        )
        for i in range(300):
            connection.execute("SELECT name, amount FROM t WHERE id = ?", (i * 7 + 1,)).fetchall()
        connection.execute("SELECT sum(amount) FROM t GROUP BY id % 10").fetchall()
    finally:
        connection.close()
    text = {f"key{i}": str(i) * 3 for i in range(20000)}
    sorted(text.items(), key=lambda item: item[1])
    return (time.perf_counter() - started) * 1000


def measure(
    workloads: Sequence[Workload[Any]],
    large: DemoDatabase,
    small: DemoDatabase,
    *,
    repeat: int,
    iterations: int | None = None,
    advance: Callable[[str], None] = lambda _label: None,
) -> list[GateMeasurement]:
    """Run each workload ``repeat`` times, interleaved (A B C A B C …) with the calibration
    task, then once more at two association sizes for the scale check."""
    walls: dict[str, list[float]] = {w.name: [] for w in workloads}
    counts: dict[str, list[dict[str, int]]] = {w.name: [] for w in workloads}
    first: dict[str, QueryMetrics] = {}
    calibration: list[float] = []
    for _ in range(repeat):
        calibration.append(calibrate())
        for workload in workloads:
            result = run_workload(workload, large, iterations=iterations)
            metrics = query_metrics(result.log)
            first.setdefault(workload.name, metrics)
            walls[workload.name].append(result.wall_ns / 1e6)
            counts[workload.name].append({k: s.count for k, s in metrics.fingerprints.items()})
            advance(workload.name)
    measurements = []
    for workload in workloads:
        size = iterations if iterations is not None else workload.iterations
        scale_size = min(SCALING_ITERATIONS, size)
        small_run = run_workload(workload, small, iterations=scale_size)
        large_run = run_workload(workload, large, iterations=scale_size)
        advance(f"{workload.name} (scale check)")
        runs = counts[workload.name]
        measurements.append(
            GateMeasurement(
                workload=workload.name,
                iterations=size,
                metrics=first[workload.name],
                scaling=scaling_findings(small_run, large_run, small.size, large.size),
                wall_ms=walls[workload.name],
                calibration_ms=calibration,
                stable=all(run == runs[0] for run in runs),
            )
        )
    return measurements


def baseline_document(
    measurements: Sequence[GateMeasurement], large: DemoDatabase, small: DemoDatabase
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "environment_key": environment_key(),
        "environment": environment(),
        "demo": {"measured": demo_description(large), "scale_check": demo_description(small)},
        "workloads": {m.workload: _workload_entry(m) for m in measurements},
    }


def _workload_entry(m: GateMeasurement) -> dict[str, Any]:
    return {
        "iterations": m.iterations,
        "queries": m.metrics.queries,
        "rows": m.metrics.rows,
        "fingerprints": {
            key: stat.to_dict(with_time=False) for key, stat in m.metrics.fingerprints.items()
        },
        "scaling": [finding.to_dict() for finding in m.scaling],
        # Informative only: timings are machine-dependent and never gate without --timing.
        "timing": {"wall_ms_median": round(m.wall_ms_median, 3), "ratio": round(m.ratio, 4)},
    }


def merge_baseline(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new``, keeping the old entries of workloads that were not re-run, when comparable."""
    if old is None or old.get("environment_key") != new["environment_key"]:
        return new
    if old.get("demo") != new["demo"]:
        return new
    return {**new, "workloads": {**old["workloads"], **new["workloads"]}}


@dataclass
class Change:
    workload: str
    metric: str
    baseline: float | None
    current: float
    fingerprint: str = ""
    call_site: list[str] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        """Relative change; None for something the baseline did not have."""
        if not self.baseline:
            return None
        return (self.current - self.baseline) / self.baseline


@dataclass
class Verdict:
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    timings: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.regressions


def check_comparable(baseline: dict[str, Any], large: DemoDatabase, small: DemoDatabase) -> None:
    current = environment_key()
    if baseline["environment_key"] != current:
        recorded = describe_key(baseline["environment_key"])
        raise GateRefusal(
            f"the baseline was recorded in another environment ({recorded}); "
            f"this one is {describe_key(current)}. Counts are only comparable within one "
            "environment: record a baseline here with `verenigingen perf check --update`"
        )
    demo = {"measured": demo_description(large), "scale_check": demo_description(small)}
    if baseline.get("demo") != demo:
        raise GateRefusal(
            "the baseline was recorded on another demo association; "
            "rewrite it with `verenigingen perf check --update`"
        )


def compare(
    baseline: dict[str, Any],
    measurements: Sequence[GateMeasurement],
    *,
    tolerance: float,
    timing: bool,
    timing_tolerance: float,
    all_workloads: bool,
) -> Verdict:
    verdict = Verdict()
    recorded: dict[str, Any] = baseline["workloads"]
    ran = {m.workload for m in measurements}
    if all_workloads:
        gone = sorted(set(recorded) - ran)
        if gone:
            raise GateRefusal(
                f"the baseline has workloads that no longer exist ({', '.join(gone)}); "
                "rewrite it with `verenigingen perf check --update`"
            )
    for m in measurements:
        entry = recorded.get(m.workload)
        if entry is None:
            verdict.notes.append(
                f"{m.workload} is not in the baseline and was not gated; "
                "add it with `verenigingen perf check --update`"
            )
            continue
        if entry["iterations"] != m.iterations:
            raise GateRefusal(
                f"the baseline ran {m.workload} with {entry['iterations']} units of work, this "
                f"run with {m.iterations}; run the same size or rewrite it with --update"
            )
        if not m.stable:
            verdict.regressions.append(Change(m.workload, "unstable counts", None, 0))
        _compare_workload(verdict, m, entry, tolerance)
        _compare_timing(verdict, m, entry, timing, timing_tolerance)
    return verdict


def _worse(current: float, baseline: float, tolerance: float) -> bool:
    return current > baseline * (1 + tolerance)


def _compare_workload(
    verdict: Verdict, m: GateMeasurement, entry: dict[str, Any], tolerance: float
) -> None:
    for metric, current in (("queries", m.metrics.queries), ("rows", m.metrics.rows)):
        change = Change(m.workload, metric, entry[metric], current)
        if _worse(current, entry[metric], tolerance):
            verdict.regressions.append(change)
        elif current < entry[metric]:
            verdict.improvements.append(change)
    recorded: dict[str, dict[str, Any]] = entry["fingerprints"]
    for key, stat in m.metrics.fingerprints.items():
        old = recorded.get(key)
        if old is None:
            verdict.regressions.append(
                Change(
                    m.workload, "new statement", None, stat.count, stat.fingerprint, stat.call_site
                )
            )
            continue
        change = Change(
            m.workload, "executions", old["count"], stat.count, stat.fingerprint, stat.call_site
        )
        if _worse(stat.count, old["count"], tolerance):
            verdict.regressions.append(change)
        elif stat.count < old["count"]:
            verdict.improvements.append(change)
    for key, old in recorded.items():
        if key not in m.metrics.fingerprints:
            verdict.improvements.append(
                Change(
                    m.workload,
                    "statement gone",
                    old["count"],
                    0,
                    str(old.get("fingerprint", key)),
                    list(old.get("call_site", [])),
                )
            )
    known = {finding.get("fingerprint") for finding in entry.get("scaling", [])}
    for finding in m.scaling:
        if finding.fingerprint not in known:
            verdict.regressions.append(
                Change(
                    m.workload,
                    "grows with N",
                    None,
                    finding.count,
                    finding.fingerprint,
                    [str(frame) for frame in finding.call_site],
                )
            )


def _compare_timing(
    verdict: Verdict, m: GateMeasurement, entry: dict[str, Any], timing: bool, tolerance: float
) -> None:
    recorded = entry.get("timing", {}).get("ratio")
    change = Change(m.workload, "time ratio", recorded, round(m.ratio, 4))
    verdict.timings.append(change)
    if timing and isinstance(recorded, int | float) and _worse(m.ratio, recorded, tolerance):
        verdict.regressions.append(change)

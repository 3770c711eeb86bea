"""The baseline criterion: the regression gate (``perf check``) against the committed baseline,
on the gate's own demo associations (``perf.workloads.database``), one interleaved run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verenigingen.perf import gate
from verenigingen.perf.baseline import BaselineError, load_baseline
from verenigingen.perf.workloads import select_workloads
from verenigingen.perf.workloads.database import LARGE, SMALL, DemoDatabase, cache_dir


@dataclass
class BaselineFigures:
    path: Path
    tolerance: float
    workloads: int = 0
    regressions: list[str] = field(default_factory=list)
    improvements: int = 0
    refusal: str = ""
    """Why the comparison could not be made (another environment, a missing baseline)."""

    @property
    def passed(self) -> bool:
        return not self.refusal and not self.regressions


def check_baseline(
    path: Path, tolerance: float, workloads: Sequence[str] | None = None
) -> BaselineFigures:
    """Re-run the workloads (all, or those named) and compare them with the baseline at
    ``path``; a regression or a refusal fails the criterion."""
    figures = BaselineFigures(path, tolerance)
    directory = cache_dir()
    large, small = DemoDatabase(LARGE, directory), DemoDatabase(SMALL, directory)
    try:
        recorded = load_baseline(path)
        gate.check_comparable(recorded, large, small)
        chosen = select_workloads(workloads)
        measurements = gate.measure(chosen, large, small, repeat=1)
        verdict = gate.compare(
            recorded,
            measurements,
            tolerance=tolerance,
            timing=False,
            timing_tolerance=0.0,
            all_workloads=not workloads,
        )
    except (BaselineError, gate.GateRefusal) as error:
        figures.refusal = str(error)
        return figures
    figures.workloads = len(measurements)
    figures.improvements = len(verdict.improvements)
    figures.regressions = [
        f"{change.workload} {change.metric}: {change.baseline} -> {change.current}"
        + (f" ({change.fingerprint[:120]})" if change.fingerprint else "")
        for change in verdict.regressions
    ]
    return figures

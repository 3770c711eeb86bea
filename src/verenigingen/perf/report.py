"""The profile's files: ``performance_baseline.json`` and ``optimization_priority_matrix.json``
(the Markdown report is in :mod:`verenigingen.perf.report_markdown`).

Every number written here was measured by the profile run. Where the matrix needs a judgement
(optimisation potential, effort), it is a label given by a stated rule, never a made-up figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verenigingen.perf import nplusone
from verenigingen.perf.baseline import demo_description, environment, environment_key
from verenigingen.perf.profiler import WorkloadProfile
from verenigingen.perf.workloads import pending_workloads
from verenigingen.perf.workloads.database import DemoDatabase

CPU_HOT_SPOTS_PER_WORKLOAD = 5
MIN_TIME_SHARE = 0.02
"""Hot spots below 2 % of a workload's time are left out of the matrix."""
SCORE_RULE = (
    "priority score = time share in percent x 2 for CPU and database-time hot spots; "
    "query multiplier x 3 for N+1 patterns (queries per unit of work that one query could do)"
)


def performance_baseline(
    profiles: Sequence[WorkloadProfile], database: DemoDatabase, repeat: int
) -> dict[str, Any]:
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "environment_key": environment_key(),
        "environment": environment(),
        "demo": demo_description(database),
        "repeat": repeat,
        "workloads": {p.workload.name: _workload(p) for p in profiles},
        "pending_workloads": [
            {"name": p.name, "description": p.description, "brought_by": p.brought_by}
            for p in pending_workloads()
        ],
    }


def _workload(p: WorkloadProfile) -> dict[str, Any]:
    return {
        "description": p.workload.description,
        "iterations": p.iterations,
        "wall_ms_median": round(p.wall_ms_median, 3),
        "cpu_ms_median": round(p.cpu_ms_median, 3),
        "wall_ms_per_iteration": round(p.wall_ms_median / p.iterations, 3),
        "wall_ms_runs": [round(run.wall_ns / 1e6, 3) for run in p.runs],
        "queries": p.metrics.queries,
        "queries_per_iteration": round(p.metrics.queries / p.iterations, 2),
        "rows": p.metrics.rows,
        "fingerprints": [stat.to_dict() for stat in p.metrics.fingerprints.values()],
        "peak_memory_bytes": p.peak_memory_bytes,
        "top_functions": [
            {
                "function": f.function,
                "area": f.area,
                "calls": f.calls,
                "own_s": round(f.own_s, 6),
                "share": round(f.share, 4),
            }
            for f in p.top_functions
        ],
        "n_plus_one": [finding.to_dict() for finding in p.findings],
    }


@dataclass(frozen=True)
class Bottleneck:
    area: str
    """The workload it was seen in."""
    kind: str
    """``cpu`` (a function's own time), ``database time`` (one statement) or ``n+1``."""
    what: str
    layer: str
    impact_time_share_pct: float
    query_multiplier: float | None
    optimization_potential: str
    effort: str
    priority_score: float
    evidence: str
    hint: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "area": self.area,
            "kind": self.kind,
            "what": self.what,
            "layer": self.layer,
            "impact_time_share_pct": self.impact_time_share_pct,
            "query_multiplier": self.query_multiplier,
            "optimization_potential": self.optimization_potential,
            "effort": self.effort,
            "priority_score": self.priority_score,
            "evidence": self.evidence,
            "hint": self.hint,
        }


def bottlenecks(profiles: Sequence[WorkloadProfile]) -> list[Bottleneck]:
    """Every hot spot and N+1 pattern of every workload, highest priority first."""
    found: list[Bottleneck] = []
    for p in profiles:
        found.extend(_cpu_hot_spots(p))
        found.extend(_statement_hot_spots(p))
        found.extend(_n_plus_one(p, finding) for finding in p.findings)
    return sorted(found, key=lambda b: (-b.priority_score, b.area, b.what))


def _potential(share: float) -> str:
    # Rule: the larger the share of time, the more removing the cost can gain.
    return "high" if share >= 0.20 else "medium" if share >= 0.05 else "low"


def _cpu_hot_spots(p: WorkloadProfile) -> list[Bottleneck]:
    spots = []
    for f in p.top_functions[:CPU_HOT_SPOTS_PER_WORKLOAD]:
        if f.share < MIN_TIME_SHARE:
            continue
        pct = round(f.share * 100, 1)
        spots.append(
            Bottleneck(
                area=p.workload.name,
                kind="cpu",
                what=f.function,
                layer=f.area,
                impact_time_share_pct=pct,
                query_multiplier=None,
                optimization_potential=_potential(f.share),
                # Rule: our own code is ours to change; library time is cut by calling it less.
                effort="medium" if f.area == "application" else "high",
                priority_score=round(pct * 2, 1),
                evidence=f"{pct} % of own time under cProfile ({f.calls} calls, "
                f"{f.own_s * 1000:.1f} ms of {p.profiled_s * 1000:.1f} ms)",
            )
        )
    return spots


def _statement_hot_spots(p: WorkloadProfile) -> list[Bottleneck]:
    first = p.runs[0]
    spots = []
    for stat in p.metrics.fingerprints.values():
        share = stat.time_ns / first.wall_ns if first.wall_ns else 0.0
        if share < MIN_TIME_SHARE * 2.5:  # a statement must take 5 % of the time to be listed
            continue
        pct = round(share * 100, 1)
        spots.append(
            Bottleneck(
                area=p.workload.name,
                kind="database time",
                what=stat.fingerprint[:160],
                layer="database",
                impact_time_share_pct=pct,
                query_multiplier=round(stat.count / p.iterations, 2),
                optimization_potential=_potential(share),
                effort="medium",  # rule: an index or a narrower query, no code restructuring
                priority_score=round(pct * 2, 1),
                evidence=f"{stat.count} executions, {stat.time_ns / 1e6:.1f} ms of "
                f"{first.wall_ns / 1e6:.1f} ms wall time in the first run, {stat.rows} rows; "
                f"at {stat.call_site[0] if stat.call_site else 'unknown'}",
            )
        )
    return spots


def _n_plus_one(p: WorkloadProfile, finding: nplusone.Finding) -> Bottleneck:
    multiplier = finding.slope if finding.slope is not None else float(finding.count)
    stat = next(
        (s for s in p.metrics.fingerprints.values() if s.fingerprint == finding.fingerprint), None
    )
    first = p.runs[0]
    share = (stat.time_ns / first.wall_ns) if stat and first.wall_ns else 0.0
    site = str(finding.call_site[0]) if finding.call_site else "unknown"
    return Bottleneck(
        area=p.workload.name,
        kind="n+1",
        what=f"{finding.pattern}: {finding.fingerprint[:140]}",
        layer="database access",
        impact_time_share_pct=round(share * 100, 1),
        query_multiplier=round(multiplier, 2),
        optimization_potential="high",  # rule: k·N statements become one or two
        effort="low",  # rule: the remedy is a loader option or an IN query at one call site
        priority_score=round(multiplier * 3, 1),
        evidence=f"{finding.count} executions in one unit of work at {site}",
        hint=finding.hint,
    )


def priority_matrix(profiles: Sequence[WorkloadProfile]) -> dict[str, Any]:
    return {
        "score_rule": SCORE_RULE,
        "labels": {
            "optimization_potential": "high: 20 % of the time or more, or an N+1 pattern; "
            "medium: 5-20 %; low: below 5 %",
            "effort": "low: a loader option or IN query at one call site (N+1); medium: our own "
            "code or one statement; high: time inside a library, reduced only by calling it less",
        },
        "bottlenecks": [b.to_dict() for b in bottlenecks(profiles)],
    }

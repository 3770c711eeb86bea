"""The plan's criteria, and how each is judged from the figures of one validation run.

Each criterion compares the optimized side with the side whose optimizations are off, both
measured in the same run, except where the plan gives an absolute bar (the hit rate, the job
success rate, the memory, the smoke suite and the committed baseline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from verenigingen.perf.validation.baseline_run import BaselineFigures
from verenigingen.perf.validation.index_runs import StatementFigures
from verenigingen.perf.validation.jobs import JobFigures
from verenigingen.perf.validation.memory import MemoryFigures
from verenigingen.perf.validation.runs import Figures
from verenigingen.perf.validation.smoke import SmokeCheck


@dataclass(frozen=True)
class Thresholds:
    payment_speedup: float = 3.0
    """Server time of a treasurer's payment POST, off over on."""
    statement_reduction: float = 0.50
    """Statements per operation (history, payment POST, lists), 1 - on / off."""
    cache_hit_rate: float = 0.80
    job_success_rate: float = 0.95
    index_improvement: float = 0.30
    """1 - indexed / bare time of the statements the strategic indexes serve."""
    memory_mb: float = 100.0


PLAN = Thresholds()
"""The performance plan's criteria."""

STATEMENT_KINDS = ("history", "payment POST", "lists")


@dataclass(frozen=True)
class Criterion:
    key: str
    title: str
    goal: str
    measured: str
    passed: bool
    before: float | None = None
    """The side without the optimizations (or the bare schema), when there is one."""
    after: float | None = None
    unit: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def payment_speed(figures: Figures, limits: Thresholds) -> Criterion:
    off = figures.sides["off"].median_ms("payment POST")
    on = figures.sides["on"].median_ms("payment POST")
    ratio = off / on
    count = len(figures.sides["on"].server_ms["payment POST"])
    return Criterion(
        "payment_speed",
        "Payment operations faster",
        f">= {limits.payment_speedup:g}x",
        f"{ratio:.2f}x",
        ratio >= limits.payment_speedup,
        round(off, 3),
        round(on, 3),
        "ms",
        f"median server time of POST /api/v1/payments (submit: true) over {count} payments "
        f"per side: {off:.2f} ms with deferral off, {on:.2f} ms deferred",
    )


def statements(figures: Figures, limits: Thresholds) -> Criterion:
    per_kind = {
        kind: (
            figures.sides["off"].statements_per_request(kind),
            figures.sides["on"].statements_per_request(kind),
        )
        for kind in STATEMENT_KINDS
    }
    off = sum(before for before, _after in per_kind.values()) / len(per_kind)
    on = sum(after for _before, after in per_kind.values()) / len(per_kind)
    reduction = 1 - on / off
    kinds = "; ".join(
        f"{kind} {before:.2f} -> {after:.2f}" for kind, (before, after) in per_kind.items()
    )
    return Criterion(
        "statements",
        "Fewer statements per operation",
        f">= {limits.statement_reduction:.0%} fewer",
        f"{reduction:.1%} fewer",
        reduction >= limits.statement_reduction,
        round(off, 2),
        round(on, 2),
        "statements",
        f"mean statements per request of each kind, the kinds weighted alike: {kinds}",
    )


def cache_hit_rate(figures: Figures, limits: Thresholds) -> Criterion:
    lookups = figures.history_lookups
    rate = figures.history_hits / lookups if lookups else 0.0
    return Criterion(
        "cache_hit_rate",
        "Cache hit rate, mixed portal workload started cold",
        f"> {limits.cache_hit_rate:.0%}",
        f"{rate:.1%}",
        rate > limits.cache_hit_rate,
        None,
        round(rate * 100, 2),
        "%",
        f"{figures.history_hits} of {lookups} payment-history lookups hit; members drawn "
        "Zipf-skewed, one unit in ten a payment; the cache empty at the start",
    )


def job_success(jobs: JobFigures, limits: Thresholds) -> Criterion:
    rate = jobs.success_rate
    return Criterion(
        "job_success",
        "Job success after retries, with injected failures",
        f"> {limits.job_success_rate:.0%}",
        f"{rate:.1%}",
        rate > limits.job_success_rate,
        None,
        round(rate * 100, 2),
        "%",
        f"{jobs.completed} of {jobs.jobs} jobs completed ({jobs.failed} failed, "
        f"{jobs.still_queued} still queued); {jobs.injected_failures} injected failures "
        f"({jobs.failure_rate:.0%} of attempts) in {jobs.attempts} attempts, "
        f"{jobs.retried_jobs} jobs retried",
    )


def index_impact(statements: Sequence[StatementFigures], limits: Thresholds) -> Criterion:
    served = [figure for figure in statements if figure.served_by is not None]
    bare = sum(figure.bare_ms for figure in served)
    indexed = sum(figure.indexed_ms for figure in served)
    improvement = 1 - indexed / bare if bare > 0 else 0.0
    by_index: dict[str, list[StatementFigures]] = {}
    for figure in served:
        by_index.setdefault(figure.served_by or "", []).append(figure)
    each = "; ".join(
        f"{name}: {len(group)} statements, {sum(f.bare_ms for f in group):.3f} -> "
        f"{sum(f.indexed_ms for f in group):.3f} ms"
        for name, group in sorted(by_index.items())
    )
    return Criterion(
        "index_impact",
        "Strategic indexes on the statements they serve",
        f"> {limits.index_improvement:.0%} faster",
        f"{improvement:.1%} faster",
        improvement > limits.index_improvement,
        round(bare, 4),
        round(indexed, 4),
        "ms",
        f"{len(served)} of {len(statements)} probe statements use an index the bare schema "
        f"lacks; sum of their medians {bare:.3f} ms bare, {indexed:.3f} ms indexed ({each})",
    )


def memory(figures: MemoryFigures, limits: Thresholds) -> Criterion:
    passed = figures.rss_end_mb < limits.memory_mb and figures.errors == 0
    errors = f"; {figures.errors} requests were not answered 2xx" if figures.errors else ""
    return Criterion(
        "memory",
        "API process memory after the requests",
        f"< {limits.memory_mb:g} MB RSS",
        f"{figures.rss_end_mb:.1f} MB",
        passed,
        round(figures.rss_start_mb, 1),
        round(figures.rss_end_mb, 1),
        "MB",
        f"VmRSS of a `verenigingen serve` process: {figures.rss_start_mb:.1f} MB before the "
        f"first request, {figures.rss_end_mb:.1f} MB after {figures.requests:,} requests "
        f"({figures.seconds:.0f} s){errors}",
    )


def smoke(checks: Sequence[SmokeCheck]) -> Criterion:
    failed = [check for check in checks if not check.passed]
    return Criterion(
        "smoke",
        "Functional smoke suite",
        "all pass",
        f"{len(checks) - len(failed)} of {len(checks)} pass",
        not failed,
        detail="; ".join(f"{c.name}: {c.detail}" for c in (failed or checks)),
    )


def baseline(figures: BaselineFigures) -> Criterion:
    if figures.refusal:
        measured, detail = "not comparable", figures.refusal
    elif figures.regressions:
        measured, detail = f"{len(figures.regressions)} regressions", "; ".join(figures.regressions)
    else:
        measured = "met"
        detail = (
            f"{figures.workloads} workloads within {figures.tolerance:.0%} of {figures.path}; "
            f"{figures.improvements} metrics improved"
        )
    return Criterion(
        "baseline",
        "Committed baseline met or improved",
        f"no count worse than {figures.tolerance:.0%}",
        measured,
        figures.passed,
        detail=detail,
    )


def judge(
    figures: Figures,
    jobs: JobFigures,
    indexes: Sequence[StatementFigures],
    serve: MemoryFigures,
    checks: Sequence[SmokeCheck],
    gate: BaselineFigures,
    limits: Thresholds,
) -> list[Criterion]:
    return [
        payment_speed(figures, limits),
        statements(figures, limits),
        cache_hit_rate(figures, limits),
        job_success(jobs, limits),
        index_impact(indexes, limits),
        memory(serve, limits),
        smoke(checks),
        baseline(gate),
    ]

"""``bottleneck_analysis_report.md``: the profile in words, for a treasurer's IT volunteer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verenigingen.perf.profiler import WorkloadProfile
from verenigingen.perf.report import SCORE_RULE, Bottleneck, bottlenecks

TOP = 10


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(profiles: Sequence[WorkloadProfile], baseline: dict[str, Any]) -> str:
    env = baseline["environment"]
    demo = baseline["demo"]
    lines = [
        "# Bottleneck analysis",
        "",
        f"Measured {baseline['generated_at']} on Python {env['python']} ({env['platform']}), "
        f"SQLite {env['dialect_version']}, verenigingen {env['package']}.",
        f"Each workload ran on a fresh copy of the demo association ({demo['members']} members, "
        f"{demo['months']} months, seed {demo['seed']}, ending {demo['end']}), "
        f"{baseline['repeat']} times; times are medians of those runs, with the query capture on.",
        "",
        "## How to read this",
        "",
        "A *workload* is something the association does often: booking payments, showing a "
        "member's payment history, approving new members. Each one was run as the real "
        "application runs it, one transaction per action. For each we count the database "
        "statements (the same code and data always send the same number, so these counts are "
        "exact) and measure the time (which depends on the machine). A *bottleneck* is where the "
        "time goes; an *N+1 pattern* is a statement sent once per item where one statement for "
        "all items would do, the most common reason an administration slows down as it grows.",
        "",
        "## Workloads",
        "",
        "| workload | actions | median time | per action | CPU | statements | per action "
        "| rows | peak memory |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in profiles:
        lines.append(
            f"| {p.workload.name} | {p.iterations} | {p.wall_ms_median:.1f} ms "
            f"| {p.wall_ms_median / p.iterations:.2f} ms | {p.cpu_ms_median:.1f} ms "
            f"| {p.metrics.queries} | {p.metrics.queries / p.iterations:.1f} | {p.metrics.rows} "
            f"| {p.peak_memory_bytes / 1024 / 1024:.1f} MiB |"
        )
    lines += ["", *(f"- **{p.workload.name}**: {p.workload.description}." for p in profiles)]
    lines += _bottlenecks(bottlenecks(profiles)[:TOP])
    lines += _findings(profiles)
    lines += _pending(baseline)
    lines += [
        "",
        "## Files",
        "",
        "- `performance_baseline.json`: every figure above, per workload, with each statement's "
        "fingerprint and call site.",
        "- `optimization_priority_matrix.json`: all bottlenecks with their scores.",
        *(
            f"- `profile-{p.workload.name}.html`: the call tree of one run (open in a browser)."
            for p in profiles
        ),
        "",
        "Reproduce with `verenigingen perf profile`.",
        "",
    ]
    return "\n".join(lines)


def _bottlenecks(top: Sequence[Bottleneck]) -> list[str]:
    lines = [
        "",
        f"## Top {len(top)} bottlenecks",
        "",
        f"Ordered by priority ({SCORE_RULE}).",
        "",
        "| # | workload | kind | where | share of time | score | evidence |",
        "|---:|---|---|---|---:|---:|---|",
    ]
    for rank, b in enumerate(top, 1):
        lines.append(
            f"| {rank} | {b.area} | {b.kind} ({b.layer}) | `{_cell(b.what)}` "
            f"| {b.impact_time_share_pct} % | {b.priority_score} | {_cell(b.evidence)} |"
        )
    if not top:
        lines.append("| | | | nothing took 2 % of a workload's time | | | |")
    lines += [
        "",
        "*cpu* is time spent inside one function (the rest of the program not counted); "
        "*database time* is time waiting for one kind of statement.",
    ]
    return lines


def _findings(profiles: Sequence[WorkloadProfile]) -> list[str]:
    lines = ["", "## N+1 patterns", ""]
    findings = [(p.workload.name, f) for p in profiles for f in p.findings]
    if not findings:
        lines.append(
            "None found: within one action, no statement was repeated per item "
            "(the detector looks for the same statement from the same place five times or more, "
            "and for lazy loads)."
        )
        return lines
    for workload, finding in findings:
        lines += [
            f"### {workload}: {finding.pattern}, {finding.count} times",
            "",
            "```sql",
            finding.example_sql,
            "```",
            "",
            "Sent from:",
            "",
            *(f"- `{frame}`" for frame in finding.call_site),
            "",
            f"**Fix:** {finding.hint}",
            "",
        ]
    return lines


def _pending(baseline: dict[str, Any]) -> list[str]:
    pending = baseline.get("pending_workloads", [])
    if not pending:
        return []
    lines = ["", "## Not measured yet", ""]
    lines += [
        f"- **{p['name']}** ({p['description']}): comes with {p['brought_by']}." for p in pending
    ]
    return lines

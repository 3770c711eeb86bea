"""``validation_report.json`` and ``validation_report.md``: the verdict, every criterion with its
figures, and the run's details, from one :class:`ValidationResult`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from verenigingen.perf.validation.criteria import STATEMENT_KINDS
from verenigingen.perf.validation.suite import ValidationResult

FORMAT = 1
OUTSIDE_REFERENCE = {
    "what": "the original system's recorded figure for one member payment history load",
    "statements": 67,
    "seconds": 0.10,
    "note": "an outside reference quoted from the original system's records; not measured here",
}
KINDS = (*STATEMENT_KINDS, "portal payment")
LEAVES_OUT = (
    "Server times are measured inside the server (the Server-Timing header of the in-process "
    "ASGI app): no socket, no HTTP parsing by uvicorn, no network; the memory run alone goes "
    "through a real socket.",
    "Both sides are SQLite files of the embedded shape on one machine; PostgreSQL, MariaDB and "
    "Redis are not measured here.",
    "The deferred side's payment POST leaves its follow-up work to jobs; their run time is "
    "measured nowhere in the speed criterion (the job criterion checks that they succeed).",
    "The hit rate counts every member's first read as a miss (the cache starts empty): it "
    "rises with the number of reads per member, so a shorter portal run gives a lower rate.",
    "Timings on a shared machine move with its load; both sides are interleaved so that a "
    "change of load hits them alike.",
)


def document(result: ValidationResult, command: str) -> dict[str, Any]:
    options = result.options
    return {
        "format": FORMAT,
        "generated_at": result.started_at.isoformat(timespec="seconds"),
        "command": command,
        "passed": result.passed,
        "failed_criteria": [criterion.key for criterion in result.failed],
        "seconds": round(result.seconds, 1),
        "environment": result.environment,
        "association": {"members": options.members, "months": options.months},
        "sizes": {
            "payments": options.payments,
            "portal_units": options.portal_units,
            "list_requests": options.list_requests,
            "serve_requests": options.requests,
            "index_runs": options.index_runs,
        },
        "thresholds": asdict(result.thresholds),
        "criteria": [criterion.to_dict() for criterion in result.criteria],
        "operations": _operations(result),
        "hit_rate_series": [
            {"units": units, "hit_rate": round(rate, 4)}
            for units, rate in result.figures.hit_rate_series
        ],
        "jobs": {**asdict(result.jobs), "success_rate": round(result.jobs.success_rate, 4)},
        "index_statements": [asdict(figure) for figure in result.indexes],
        "memory": {
            **asdict(result.memory),
            "rss_peak_mb": round(result.memory.rss_peak_mb, 1),
        },
        "smoke": [asdict(check) for check in result.smoke],
        "baseline": {
            "path": str(result.baseline.path),
            "tolerance": result.baseline.tolerance,
            "workloads": result.baseline.workloads,
            "regressions": result.baseline.regressions,
            "improvements": result.baseline.improvements,
            "refusal": result.baseline.refusal,
        },
        "outside_reference": OUTSIDE_REFERENCE,
        "leaves_out": list(LEAVES_OUT),
    }


def _operations(result: ValidationResult) -> dict[str, dict[str, Any]]:
    operations: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        entry: dict[str, Any] = {}
        for name, side in result.figures.sides.items():
            if kind not in side.statements:
                continue
            entry[name] = {
                "requests": len(side.statements[kind]),
                "median_server_ms": round(side.median_ms(kind), 3),
                "statements_per_request": round(side.statements_per_request(kind), 3),
            }
        if entry:
            operations[kind] = entry
    return operations


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def _cell(value: object) -> str:
    return "-" if value is None else str(value).replace("|", "\\|")


def render_markdown(data: dict[str, Any]) -> str:
    verdict = "PASS" if data["passed"] else "FAIL: " + ", ".join(data["failed_criteria"])
    lines = [
        "# Validation report",
        "",
        f"**{verdict}** — {data['generated_at']}, {data['seconds']} s, `{data['command']}`",
        "",
        f"A fresh demo association of {data['association']['members']} members over "
        f"{data['association']['months']} months; the optimizations off (deferral off, history "
        "cache off, bare schema) and on (all three), measured in the same run, interleaved.",
        "",
        "| criterion | goal | measured | off / bare | on | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for c in data["criteria"]:
        unit = f" {c['unit']}" if c["unit"] else ""
        before = None if c["before"] is None else f"{c['before']}{unit}"
        after = None if c["after"] is None else f"{c['after']}{unit}"
        lines.append(
            f"| {c['title']} | {_cell(c['goal'])} | {_cell(c['measured'])} | {_cell(before)} | "
            f"{_cell(after)} | {'pass' if c['passed'] else '**FAIL**'} |"
        )
    lines += ["", "## Per criterion", ""]
    lines += [f"- **{c['title']}** ({c['key']}): {c['detail']}" for c in data["criteria"]]
    lines += [
        "",
        "## Operations (server time and statements per request)",
        "",
        "| operation | side | requests | median server ms | statements per request |",
        "|---|---|---|---|---|",
    ]
    for kind, sides in data["operations"].items():
        for name, figures in sides.items():
            lines.append(
                f"| {kind} | {name} | {figures['requests']} | {figures['median_server_ms']} | "
                f"{figures['statements_per_request']} |"
            )
    reference = data["outside_reference"]
    lines += [
        "",
        f"Outside reference, not a measurement: {reference['what']} was about "
        f"{reference['statements']} statements and {reference['seconds']:.2f} s "
        f"({reference['note']}).",
        "",
        "## Smoke suite",
        "",
    ]
    lines += [
        f"- {'pass' if s['passed'] else '**FAIL**'}: {s['name']}: {s['detail']}"
        for s in data["smoke"]
    ]
    lines += ["", "## Environment", ""]
    lines += [f"- {key}: {value}" for key, value in data["environment"].items()]
    lines += ["", "## What these figures leave out", ""]
    lines += [f"- {item}" for item in data["leaves_out"]]
    return "\n".join(lines) + "\n"

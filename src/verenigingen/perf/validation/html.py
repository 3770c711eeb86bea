"""``validation_report.html``: one self-contained page (inline CSS and SVG, no script, nothing
fetched) drawn from the same document as the JSON report."""

from __future__ import annotations

from html import escape
from typing import Any

from verenigingen.perf.validation import charts
from verenigingen.perf.validation.charts import FAIL_COLOUR, OFF_COLOUR, ON_COLOUR, BarRow

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a202c; }
h1 { margin-bottom: 0.2rem; } .verdict { font-size: 1.3rem; font-weight: bold; }
.pass { color: #276749; } .fail { color: #c53030; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 0.3rem 0.5rem; text-align: left; }
td.number { text-align: right; } .charts svg { display: block; margin: 1.5rem 0; }
.reference { border-left: 4px solid #718096; padding: 0.3rem 0.8rem; background: #f7fafc; }
.detail { color: #4a5568; font-size: 0.85rem; }
"""


SHORT_TITLES = {
    "payment_speed": "Payment POST, server time",
    "statements": "Statements per request",
    "cache_hit_rate": "Cache hit rate, cold start",
    "job_success": "Jobs done after retries",
    "index_impact": "Statements the indexes serve",
    "memory": "serve process RSS",
}


def _criterion_rows(data: dict[str, Any]) -> list[BarRow]:
    limits = data["thresholds"]
    rows = []
    for c in data["criteria"]:
        colour = ON_COLOUR if c["passed"] else FAIL_COLOUR
        before, after, key = c["before"], c["after"], c["key"]
        label = f"{SHORT_TITLES.get(key, key)} ({c['goal']})"
        if key == "payment_speed":
            speedup = limits["payment_speedup"]
            goal = before / speedup if speedup > 0 else None
            bars = [("off", before, OFF_COLOUR), ("on", after, colour)]
        elif key == "statements":
            goal = max(before * (1 - limits["statement_reduction"]), 0.0)
            bars = [("off", before, OFF_COLOUR), ("on", after, colour)]
        elif key == "index_impact":
            goal = max(before * (1 - limits["index_improvement"]), 0.0)
            bars = [("bare", before, OFF_COLOUR), ("indexed", after, colour)]
        elif key == "memory":
            goal = limits["memory_mb"]
            bars = [("at start", before, OFF_COLOUR), ("after the requests", after, colour)]
        elif key in ("cache_hit_rate", "job_success"):
            goal = limits["cache_hit_rate" if key == "cache_hit_rate" else "job_success_rate"] * 100
            bars = [("measured", after, colour)]
        else:
            continue
        rows.append(BarRow(label, bars, c["unit"], goal))
    return rows


def chart_svgs(data: dict[str, Any]) -> list[str]:
    reference = data["outside_reference"]
    groups = [
        (
            kind,
            [
                (
                    side,
                    figures["statements_per_request"],
                    OFF_COLOUR if side == "off" else ON_COLOUR,
                )
                for side, figures in sides.items()
            ],
        )
        for kind, sides in data["operations"].items()
    ]
    hit_rate = [(p["units"], p["hit_rate"] * 100) for p in data["hit_rate_series"]]
    memory = [(float(n), mb) for n, mb in data["memory"]["samples"]]
    limits = data["thresholds"]
    return [
        charts.bar_rows(
            "Before and after, per criterion (dashed: the goal; red: missed)",
            _criterion_rows(data),
        ),
        charts.grouped_bars(
            "Statements per request, by operation",
            groups,
            "statements",
            reference=(
                f"original system, history load: {reference['statements']} statements "
                "(outside reference, not measured)",
                float(reference["statements"]),
            ),
        ),
        charts.line_chart(
            "Cache hit rate of the mixed portal workload from a cold start, cumulative",
            hit_rate,
            "portal units",
            "%",
            goal=(f"goal > {limits['cache_hit_rate']:.0%}", limits["cache_hit_rate"] * 100),
            y_max=100.0,
        ),
        charts.line_chart(
            "RSS of the verenigingen serve process",
            memory,
            "requests",
            "MB",
            goal=(f"limit {limits['memory_mb']:g} MB", limits["memory_mb"]),
        ),
    ]


def _verdict_class(criterion: dict[str, Any]) -> str:
    return "pass" if criterion["passed"] else "fail"


def render_html(data: dict[str, Any]) -> str:
    passed = data["passed"]
    verdict = "PASS" if passed else "FAIL: " + ", ".join(data["failed_criteria"])
    rows = "".join(
        f"<tr><td>{escape(c['title'])}<div class='detail'>{escape(c['detail'])}</div></td>"
        f"<td>{escape(c['goal'])}</td><td class='number'>{escape(c['measured'])}</td>"
        f"<td class='{_verdict_class(c)}'>{'pass' if c['passed'] else 'FAIL'}</td></tr>"
        for c in data["criteria"]
    )
    operations = "".join(
        f"<tr><td>{escape(kind)}</td><td>{escape(side)}</td><td class='number'>{f['requests']}</td>"
        f"<td class='number'>{f['median_server_ms']:.2f}</td>"
        f"<td class='number'>{f['statements_per_request']:.2f}</td></tr>"
        for kind, sides in data["operations"].items()
        for side, f in sides.items()
    )
    smoke = "".join(
        f"<li class='{'pass' if s['passed'] else 'fail'}'>{escape(s['name'])}: "
        f"<span class='detail'>{escape(s['detail'])}</span></li>"
        for s in data["smoke"]
    )
    reference = data["outside_reference"]
    leaves_out = "".join(f"<li>{escape(item)}</li>" for item in data["leaves_out"])
    environment = ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in data["environment"].items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Validation report</title>
<style>{STYLE}</style></head><body>
<h1>Validation report</h1>
<p class="verdict {"pass" if passed else "fail"}">{escape(verdict)}</p>
<p>{escape(data["generated_at"])} · {data["seconds"]} s · <code>{escape(data["command"])}</code><br>
A fresh demo association of {data["association"]["members"]} members over
{data["association"]["months"]} months; the optimizations off (deferral off, history cache off,
bare schema) and on, measured in the same run, interleaved.</p>
<table><tr><th>criterion</th><th>goal</th><th>measured</th><th>verdict</th></tr>{rows}</table>
<div class="charts">{"".join(chart_svgs(data))}</div>
<p class="reference">Outside reference, not a measurement: {escape(reference["what"])} was
about {reference["statements"]} statements and {reference["seconds"]:.2f} s
({escape(reference["note"])}).</p>
<h2>Operations</h2>
<table><tr><th>operation</th><th>side</th><th>requests</th><th>median server ms</th>
<th>statements per request</th></tr>{operations}</table>
<h2>Smoke suite</h2><ul>{smoke}</ul>
<h2>What these figures leave out</h2><ul>{leaves_out}</ul>
<p class="detail">{environment}</p>
</body></html>
"""

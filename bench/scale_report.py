"""The scale figures as a markdown table and as a small self-contained SVG chart of cost against
size (both axes logarithmic), written without any plotting library."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

SERIES = (
    ("payment history, warm", "p50"),
    ("payment history, cold", "p50"),
    ("/api/v1/members first page", "p50"),
    ("/api/v1/members deep page", "p50"),
    ("/api/v1/invoices first page", "p50"),
    ("/api/v1/invoices deep page", "p50"),
    ("/api/v1/payments deep page", "p50"),
    ("search by last name", "p50"),
    ("search by member id", "p50"),
    ("search by IBAN's last four", "p50"),
)
COLOURS = (
    "#1b9e77",
    "#66a61e",
    "#7570b3",
    "#a6761d",
    "#d95f02",
    "#e7298a",
    "#666666",
    "#1f78b4",
    "#e31a1c",
    "#b15928",
)


def _size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


def markdown_table(results: dict[str, Any]) -> str:
    """Rows: each figure; columns: each size, and the largest against the smallest."""
    sizes = sorted(results, key=int)
    header = ["figure", *(f"{_size_label(int(size))} members" for size in sizes)]
    if len(sizes) > 1:
        header.append(f"{_size_label(int(sizes[-1]))} / {_size_label(int(sizes[0]))}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def row(label: str, values: list[float | None], unit: str, digits: int = 2) -> None:
        cells = [f"{value:,.{digits}f} {unit}" if value is not None else "–" for value in values]
        if len(sizes) > 1:
            first, last = values[0], values[-1]
            cells.append(f"{last / first:.1f}×" if first and last is not None else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    def load(size: str, *keys: str) -> Any:
        value: Any = results[size]
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    row("rows loaded", [load(size, "load", "rows") for size in sizes], "", 0)
    row(
        "load: rows generated and copied",
        [load(size, "load", "seconds", "rows") for size in sizes],
        "s",
        1,
    )
    row(
        "load: indexes and constraints made",
        [load(size, "load", "seconds", "indexes and constraints") for size in sizes],
        "s",
        1,
    )
    row(
        "load: whole (with analytics, ANALYZE)",
        [load(size, "load", "seconds", "total") for size in sizes],
        "s",
        1,
    )
    row("dues run: schedules due", [load(size, "dues", "due") for size in sizes], "", 0)
    row("dues run: invoices made", [load(size, "dues", "invoices") for size in sizes], "", 0)
    row(
        "dues run: the workers' start to their exit",
        [load(size, "dues", "seconds") for size in sizes],
        "s",
        1,
    )
    row(
        "dues run: first job's start to last job's end",
        [load(size, "dues", "jobs_span_seconds") for size in sizes],
        "s",
        1,
    )
    for name in load(sizes[-1], "requests") or {}:
        values = [load(size, "requests", name, "p50") for size in sizes]
        dbs = [load(size, "requests", name, "db") for size in sizes]
        cells = [
            "–" if value is None else f"{value:,.2f} ms ({db:,.2f})"
            for value, db in zip(values, dbs, strict=True)
        ]
        if len(sizes) > 1:
            first, last = values[0], values[-1]
            cells.append(f"{last / first:.1f}×" if first and last is not None else "–")
        lines.append(f"| {name}: p50 (database part) | " + " | ".join(cells) + " |")
        if name.startswith("payment history"):
            row(f"{name}: p99", [load(size, "requests", name, "p99") for size in sizes], "ms")
    return "\n".join(lines)


Series = list[tuple[str, str, list[tuple[int, float]]]]
"""(name, colour, (members, ms) points) of each line."""


def write_chart(results: dict[str, Any], path: Path) -> None:
    """Two panels against the number of members: the median server time of the main requests
    (p50), and its database part (median), which the load of a shared machine disturbs less."""
    sizes = sorted(int(size) for size in results)
    panels: list[Series] = []
    for stat in ("p50", "db"):
        series: Series = []
        for (name, _), colour in zip(SERIES, COLOURS, strict=True):
            points = [
                (size, results[str(size)].get("requests", {}).get(name, {}).get(stat))
                for size in sizes
            ]
            kept = [(size, value) for size, value in points if value]
            if kept:
                series.append((name, colour, kept))
        panels.append(series)
    path.write_text(_svg(sizes, panels))


PANEL_WIDTH, HEIGHT = 380, 420
LEFT, GAP, TOP, BOTTOM, LEGEND = 60, 70, 50, 50, 230
TITLES = ("server time, median (ms)", "its database part, median (ms)")


def _svg(sizes: list[int], panels: list[Series]) -> str:
    width = LEFT + len(panels) * PANEL_WIDTH + (len(panels) - 1) * GAP + LEGEND
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">'
        "What a request costs against the number of members (both axes logarithmic)</text>",
    ]
    for index, (series, title) in enumerate(zip(panels, TITLES, strict=False)):
        parts += _panel(sizes, series, title, LEFT + index * (PANEL_WIDTH + GAP))
    legend_x = LEFT + len(panels) * PANEL_WIDTH + (len(panels) - 1) * GAP + 20
    for index, (name, colour, _) in enumerate(panels[0] if panels else []):
        legend_y = TOP + 10 + index * 18
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 20}" y1="{legend_y - 4}" '
            f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{legend_x + 26}" y="{legend_y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(sizes: list[int], series: Series, title: str, left: int) -> list[str]:
    right = left + PANEL_WIDTH
    values = [value for _, _, points in series for _, value in points] or [1.0]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    if high <= low:
        high = low * 10
    x_low = math.log10(min(sizes)) if sizes else 0.0
    x_high = math.log10(max(sizes)) if sizes else 1.0
    if x_high <= x_low:
        x_high = x_low + 1

    def x(size: float) -> float:
        return left + (math.log10(size) - x_low) / (x_high - x_low) * PANEL_WIDTH

    def y(ms: float) -> float:
        span = math.log10(high) - math.log10(low)
        return TOP + (1 - (math.log10(ms) - math.log10(low)) / span) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<text x="{left}" y="{TOP - 12}" font-weight="bold">{escape(title)}</text>']
    decade = low
    while decade <= high:
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y(decade):.1f}" y2="{y(decade):.1f}" '
            'stroke="#dddddd"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{decade:g}</text>'
        )
        decade *= 10
    for size in sizes:
        parts.append(
            f'<line x1="{x(size):.1f}" x2="{x(size):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
            'stroke="#dddddd"/>'
        )
        parts.append(
            f'<text x="{x(size):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
            f"{_size_label(size)}</text>"
        )
    parts.append(
        f'<text x="{left + PANEL_WIDTH / 2:.0f}" y="{HEIGHT - 12}" text-anchor="middle">'
        "members</text>"
    )
    for name, colour, points in series:
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x(size):.1f},{y(value):.1f}"
            for i, (size, value) in enumerate(points)
        )
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for size, value in points:
            parts.append(
                f'<circle cx="{x(size):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {value:.2f} ms at {size:,} members</title></circle>"
            )
    return parts

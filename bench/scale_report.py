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
    row("dues run: invoices made", [load(size, "dues", "invoices") for size in sizes], "", 0)
    row(
        "dues run: two workers, until both jobs ended",
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


def write_chart(results: dict[str, Any], path: Path) -> None:
    """Median server time of the main requests against the number of members."""
    sizes = sorted(int(size) for size in results)
    series = []
    for (name, stat), colour in zip(SERIES, COLOURS, strict=True):
        points = [
            (size, results[str(size)].get("requests", {}).get(name, {}).get(stat)) for size in sizes
        ]
        points = [(size, value) for size, value in points if value]
        if points:
            series.append((name, colour, points))
    path.write_text(_svg(sizes, series))


def _svg(sizes: list[int], series: list[tuple[str, str, list[tuple[int, float]]]]) -> str:
    width, height = 760, 420
    left, right, top, bottom = 60, 250, 40, 50
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
        return left + (math.log10(size) - x_low) / (x_high - x_low) * (width - left - right)

    def y(ms: float) -> float:
        span = math.log10(high) - math.log10(low)
        return top + (1 - (math.log10(ms) - math.log10(low)) / span) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="14" font-weight="bold">'
        "Server time of a request (median, ms, log scale) against members</text>",
    ]
    decade = low
    while decade <= high:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(decade):.1f}" y2="{y(decade):.1f}" '
            'stroke="#dddddd"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{decade:g}</text>'
        )
        decade *= 10
    for size in sizes:
        parts.append(
            f'<line x1="{x(size):.1f}" x2="{x(size):.1f}" y1="{top}" y2="{height - bottom}" '
            'stroke="#dddddd"/>'
        )
        parts.append(
            f'<text x="{x(size):.1f}" y="{height - bottom + 18}" text-anchor="middle">'
            f"{_size_label(size)}</text>"
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 12}" text-anchor="middle">'
        "members (log scale)</text>"
    )
    for index, (name, colour, points) in enumerate(series):
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x(size):.1f},{y(value):.1f}"
            for i, (size, value) in enumerate(points)
        )
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for size, value in points:
            parts.append(
                f'<circle cx="{x(size):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {value:.2f} ms at {size:,}</title></circle>"
            )
        legend_y = top + 10 + index * 18
        parts.append(
            f'<line x1="{width - right + 14}" x2="{width - right + 34}" y1="{legend_y - 4}" '
            f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{width - right + 40}" y="{legend_y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

"""The report's charts as inline SVG, drawn here: no library, no script, nothing fetched.

Three shapes are enough: a row of paired bars per criterion (each row on its own scale, since
the criteria have different units), grouped bars (statements per kind of operation) and a line
over time (the hit rate, the memory), each with its goal drawn as a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

OFF_COLOUR = "#b0b7c3"
ON_COLOUR = "#2b6cb0"
FAIL_COLOUR = "#c53030"
GOAL_COLOUR = "#dd6b20"
REFERENCE_COLOUR = "#718096"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class BarRow:
    label: str
    bars: Sequence[tuple[str, float, str]]
    """(name, value, colour), drawn top to bottom."""
    unit: str
    goal: float | None = None
    """Where the goal lies on this row's scale, drawn as a dashed line."""


def _text(x: float, y: float, value: str, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT} {extra}>'
        f"{escape(value)}</text>"
    )


def _svg(width: int, height: int, title: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _format(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f} %"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"


def bar_rows(title: str, rows: Sequence[BarRow], width: int = 760) -> str:
    """One row per criterion, its bars on the row's own scale (the larger of its bars and goal)."""
    label_width, value_width, bar_height, gap = 290, 190, 16, 14
    chart_width = width - label_width - value_width
    body = [_text(0, 16, title, extra='font-weight="bold" font-size="14"')]
    y = 32
    for row in rows:
        top = max([value for _name, value, _colour in row.bars] + [row.goal or 0.0]) or 1.0
        body.append(_text(0, y + bar_height - 3, row.label))
        for name, value, colour in row.bars:
            length = max(chart_width * value / top, 1.0)
            body.append(
                f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
                f'fill="{colour}"><title>{escape(name)}: {escape(_format(value, row.unit))}'
                "</title></rect>"
            )
            body.append(
                _text(
                    label_width + length + 4,
                    y + bar_height - 3,
                    f"{name} {_format(value, row.unit)}",
                )
            )
            y += bar_height + 2
        if row.goal is not None:
            x = label_width + chart_width * row.goal / top
            body.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - (bar_height + 2) * len(row.bars) - 2}" '
                f'y2="{y}" stroke="{GOAL_COLOUR}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
        y += gap
    return _svg(width, y + 4, title, body)


def grouped_bars(
    title: str,
    groups: Sequence[tuple[str, Sequence[tuple[str, float, str]]]],
    unit: str,
    reference: tuple[str, float] | None = None,
    width: int = 760,
    height: int = 300,
) -> str:
    """Vertical bars grouped by label; ``reference`` a labelled dashed line (an outside
    figure, not a measurement)."""
    left, bottom, top_margin = 50, 40, 30
    plot_height = height - bottom - top_margin
    values = [value for _label, bars in groups for _name, value, _colour in bars]
    top = max([*values, reference[1] if reference else 0.0]) * 1.1 or 1.0
    body = [_text(0, 16, title, extra='font-weight="bold" font-size="14"')]
    body.append(
        f'<line x1="{left}" x2="{width}" y1="{height - bottom}" y2="{height - bottom}" '
        'stroke="#4a5568"/>'
    )
    for fraction in (0.25, 0.5, 0.75, 1.0):
        y = height - bottom - plot_height * fraction
        body.append(_text(left - 6, y + 4, f"{top * fraction:.0f}", anchor="end"))
        body.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
    group_width = (width - left) / max(len(groups), 1)
    for index, (label, bars) in enumerate(groups):
        bar_width = min(40.0, group_width * 0.7 / max(len(bars), 1))
        x = left + index * group_width + (group_width - bar_width * len(bars)) / 2
        for name, value, colour in bars:
            bar = plot_height * value / top
            y = height - bottom - bar
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bar:.1f}" '
                f'fill="{colour}"><title>{escape(label)}, {escape(name)}: '
                f"{escape(_format(value, unit))}</title></rect>"
            )
            body.append(_text(x + bar_width / 2, y - 4, f"{value:.1f}", anchor="middle"))
            x += bar_width
        body.append(
            _text(left + (index + 0.5) * group_width, height - bottom + 16, label, "middle")
        )
    if reference is not None:
        name, value = reference
        y = height - bottom - plot_height * value / top
        body.append(
            f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{REFERENCE_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        body.append(_text(width - 4, y - 5, name, anchor="end", extra=f'fill="{REFERENCE_COLOUR}"'))
    body.append(_legend(left, height - 8, [("optimizations off", OFF_COLOUR), ("on", ON_COLOUR)]))
    return _svg(width, height, title, body)


def line_chart(
    title: str,
    points: Sequence[tuple[float, float]],
    x_label: str,
    unit: str,
    goal: tuple[str, float] | None = None,
    y_max: float | None = None,
    width: int = 760,
    height: int = 260,
) -> str:
    """A line through ``points`` (x, y), from zero on both axes, with a dashed goal line."""
    left, bottom, top_margin, right = 55, 40, 30, 20
    plot_width, plot_height = width - left - right, height - bottom - top_margin
    x_top = max((x for x, _y in points), default=1.0) or 1.0
    y_top = y_max or (max([y for _x, y in points] + [goal[1] if goal else 0.0]) * 1.15 or 1.0)

    def at(x: float, y: float) -> tuple[float, float]:
        return left + plot_width * x / x_top, height - bottom - plot_height * y / y_top

    body = [_text(0, 16, title, extra='font-weight="bold" font-size="14"')]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        _x, y = at(0, y_top * fraction)
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
        )
        body.append(_text(left - 6, y + 4, _format(y_top * fraction, unit), anchor="end"))
    for fraction in (0.0, 0.5, 1.0):
        x, _y = at(x_top * fraction, 0)
        body.append(_text(x, height - bottom + 16, f"{x_top * fraction:,.0f}", anchor="middle"))
    body.append(_text(left + plot_width / 2, height - 6, x_label, anchor="middle"))
    if goal is not None:
        name, value = goal
        _x, y = at(0, value)
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GOAL_COLOUR}" stroke-width="2" stroke-dasharray="4 3"/>'
        )
        body.append(_text(width - right, y - 5, name, anchor="end", extra=f'fill="{GOAL_COLOUR}"'))
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(px, py) for px, py in points))
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{ON_COLOUR}" stroke-width="2"/>'
        )
        for px, py in points:
            x, y = at(px, py)
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{ON_COLOUR}">'
                f"<title>{px:,.0f}: {escape(_format(py, unit))}</title></circle>"
            )
    return _svg(width, height, title, body)


def _legend(x: float, y: float, entries: Sequence[tuple[str, str]]) -> str:
    parts = []
    for name, colour in entries:
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, y, name))
        x += 24 + 7 * len(name)
    return "".join(parts)

"""The desk's performance page, for administrators: what the performance system is doing, in one
place instead of on the command line.

* The optimizations: the three runtime flags as they are now (changed on the settings page).
* The latest ``perf validate`` report, when there is one: the desk reads
  ``<data dir>/validation/validation_report.json`` (``verenigingen perf validate --out
  <data dir>/validation`` writes it there) and draws its charts with the report's own SVG
  (``perf.validation.html.chart_svgs``: inline SVG, no script, as the CSP wants).
* The cache's statistics per namespace (``cache.report``; with the in-memory cache, this
  process's only).
* The strategic indexes as the index ledger has them, with the buttons that measure, roll back
  and build them as jobs (:mod:`.desk_indexes`), and the ledger's latest entries, newest first,
  with the impact each measurement recorded (the summed medians of the index's reads with and
  without it; under 30 % flagged, as ``indexes impact`` flags it). The indexes as the database's
  catalog has them stay with ``verenigingen indexes status`` and the API: they read on
  connections of their own, which on SQLite would wait for the page's transaction.
* N+1 findings: ``perf profile`` writes them into its Markdown report and stores nothing the
  desk could read, so the page says where to find them instead of inventing any.
* The request metrics of the last hour, sampled at each view of this page
  (:mod:`verenigingen.web.metric_samples`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.cache.report import cache_statistics
from verenigingen.indexes.impact import IMPROVEMENT_BAR
from verenigingen.indexes.models import IndexChange
from verenigingen.jobs.schemas import JobProgressOut
from verenigingen.perf.validation import charts
from verenigingen.perf.validation.html import chart_svgs
from verenigingen.settings.registry import Kind
from verenigingen.settings.service import list_settings, require_administrator
from verenigingen.web.deps import ContextDep, SessionDep
from verenigingen.web.metric_samples import Interval, MetricSamples
from verenigingen.web.metrics import AppMetrics
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.desk_indexes import measured_impact, strategic_indexes
from verenigingen.web.pages.desk_jobs import POLL_SECONDS
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

VALIDATION_DIR = "validation"
REPORT_NAME = "validation_report.json"
LEDGER_ROWS = 20
"""Index ledger entries shown, newest first."""


@dataclass(frozen=True)
class LedgerEntry:
    change: IndexChange
    impact: float | None
    """1 - (with the index) / (without it) over the measured reads; None before a measurement."""

    @property
    def flagged(self) -> bool:
        return self.impact is not None and self.impact < IMPROVEMENT_BAR


def index_ledger(session: Session) -> list[LedgerEntry]:
    """The ledger's latest entries with their impact: one statement."""
    changes = session.scalars(
        select(IndexChange).order_by(IndexChange.id.desc()).limit(LEDGER_ROWS)
    )
    return [LedgerEntry(change, measured_impact(change)) for change in changes]


def validation_report_path(data_dir: Path) -> Path:
    """Where the desk looks for the latest ``perf validate`` report."""
    return data_dir / VALIDATION_DIR / REPORT_NAME


def read_validation_report(path: Path) -> tuple[dict[str, Any] | None, bool]:
    """The report at ``path`` and whether it could be read: (None, True) when there is none,
    (None, False) when the file is there but is not a report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, True
    except (OSError, ValueError):
        return None, False
    if not isinstance(data, dict) or not isinstance(data.get("criteria"), list):
        return None, False
    return data, True


def _report_charts(data: dict[str, Any]) -> list[Markup]:
    try:
        return [Markup(svg) for svg in chart_svgs(data)]  # noqa: S704 (the report's own SVG, escaped by charts)
    except (KeyError, TypeError, ValueError):
        return []


def _samples_of(request: Request) -> tuple[AppMetrics | None, MetricSamples]:
    state = request.app.state
    metrics: AppMetrics | None = getattr(state, "metrics", None)
    samples: MetricSamples | None = getattr(state, "metric_samples", None)
    if samples is None:
        samples = state.metric_samples = MetricSamples()
    return metrics, samples


def _series(intervals: list[Interval]) -> dict[str, list[tuple[float, float]]]:
    """Each figure of the intervals against its place in the hour (60 = the newest sample)."""
    at = [max(60 - interval.minutes_ago, 0.0) for interval in intervals]
    return {
        "requests": [(x, i.requests) for x, i in zip(at, intervals, strict=True)],
        "mean_ms": [(x, i.mean_ms) for x, i in zip(at, intervals, strict=True)],
        "statements": [(x, i.statements_per_request) for x, i in zip(at, intervals, strict=True)],
    }


def line_chart(title: str, points: list[tuple[float, float]], x_label: str, unit: str) -> Markup:
    """A line chart as inline SVG (the charts module escapes every text it draws)."""
    return Markup(charts.line_chart(title, points, x_label, unit))  # noqa: S704


@router.get("/desk/performance")
def performance(
    request: Request, session: SessionDep, context: ContextDep, viewer: SignedIn
) -> Response:
    """The performance dashboard: five statements (the sign-in, the settings, the strategic
    indexes' latest ledger entries, their waiting or running jobs, the ledger)."""
    require_desk_role(viewer)
    require_administrator(viewer)
    flags = [s for s in list_settings(session, viewer) if s.definition.kind is Kind.FLAG]
    report, readable = read_validation_report(validation_report_path(context.settings.data_dir))
    metrics, samples = _samples_of(request)
    intervals = samples.sample(metrics) if metrics is not None else []
    return render(
        request,
        "desk/performance.html",
        {
            "flags": flags,
            "report": report,
            "report_readable": readable,
            "report_path": validation_report_path(context.settings.data_dir),
            "report_charts": _report_charts(report) if report else [],
            "cache": cache_statistics(viewer, context.cache),
            "strategic": strategic_indexes(session),
            "progress_of": JobProgressOut.of,
            "poll_seconds": POLL_SECONDS,
            "ledger": index_ledger(session),
            "improvement_bar": IMPROVEMENT_BAR,
            "metrics_on": metrics is not None,
            "intervals": intervals,
            "series": _series(intervals),
            "line_chart": line_chart,
            "nav": desk_nav(viewer),
        },
    )

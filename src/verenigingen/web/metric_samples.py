"""The last hour of the request metrics, for the desk's performance page.

Prometheus keeps a scrape's history; the app does not. To draw the last hour without a store,
each view of the performance page reads the request histograms' running totals (requests,
seconds, statements: what ``/metrics`` exposes, from the same registry) and keeps them in a ring
buffer of this process. Between two samples the difference gives the requests, the mean server
time and the statements per request of that interval. What this leaves out, and the page says
so: other processes (each ``serve`` worker has its own registry), and any interval in which
nobody opened the page is one long interval (its mean, not its peaks).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import deque
from dataclasses import dataclass

from prometheus_client import Histogram

from verenigingen import clock
from verenigingen.web.metrics import AppMetrics

WINDOW = dt.timedelta(hours=1)
MIN_SPACING = dt.timedelta(seconds=10)
"""Samples closer together than this replace the newest one (a page reloaded in a loop does not
fill the buffer)."""
MAX_SAMPLES = int(WINDOW / MIN_SPACING) + 1


@dataclass(frozen=True)
class Totals:
    """The request histograms' running totals at one moment."""

    at: dt.datetime
    requests: float
    seconds: float
    statements: float


@dataclass(frozen=True)
class Interval:
    """What happened between two samples."""

    minutes_ago: float
    """When the interval ended, in minutes before the newest sample."""
    requests: float
    mean_ms: float
    statements_per_request: float


def _sum_and_count(histogram: Histogram) -> tuple[float, float]:
    total = count = 0.0
    for family in histogram.collect():
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                total += sample.value
            elif sample.name.endswith("_count"):
                count += sample.value
    return total, count


def read_totals(metrics: AppMetrics) -> Totals:
    seconds, requests = _sum_and_count(metrics.duration)
    statements, _count = _sum_and_count(metrics.statements)
    return Totals(clock.now(), requests, seconds, statements)


class MetricSamples:
    """A ring buffer of :class:`Totals`, the last hour of them."""

    def __init__(self) -> None:
        self._samples: deque[Totals] = deque(maxlen=MAX_SAMPLES)
        self._lock = threading.Lock()

    def sample(self, metrics: AppMetrics) -> list[Interval]:
        """Add the totals of now and return the intervals of the last hour, oldest first."""
        now = read_totals(metrics)
        with self._lock:
            while self._samples and now.at - self._samples[0].at > WINDOW:
                self._samples.popleft()
            if self._samples and now.at - self._samples[-1].at < MIN_SPACING:
                self._samples.pop()
            self._samples.append(now)
            samples = list(self._samples)
        return [_interval(before, after, now.at) for before, after in itertools.pairwise(samples)]


def _interval(before: Totals, after: Totals, newest: dt.datetime) -> Interval:
    requests = after.requests - before.requests
    return Interval(
        minutes_ago=(newest - after.at).total_seconds() / 60,
        requests=requests,
        mean_ms=(after.seconds - before.seconds) * 1000 / requests if requests else 0.0,
        statements_per_request=(after.statements - before.statements) / requests
        if requests
        else 0.0,
    )

"""``GET /metrics``: the app's figures in the Prometheus text format.

Each app has a registry of its own (not prometheus-client's global one), so that tests and
several apps in one process never count into each other. Three kinds of figures:

* each request as it ends, from the capture the Server-Timing middleware makes anyway
  (``web.timing``): its latency, its statements and its database time, labelled by the route's
  template (``/api/v1/members/{member_id}``, never the path: an id in a label would make a
  series per member), the method and the status class;
* the cache's hits and misses, from the cache's own statistics, read at scrape time (on Redis
  those of every process sharing it, in memory this process's);
* the jobs, read from the job table at scrape time: workers are other processes, so counters
  kept here would miss their work. Queue depth per queue and status, outcomes per task.

Who may read them is the ``metrics_public`` setting: by default a request with an
Administrator's token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import redis
from fastapi import APIRouter, Depends, Response
from fastapi.responses import PlainTextResponse
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute
from starlette.types import Scope

from verenigingen.cache.versioned import VersionedCache
from verenigingen.errors import PermissionDenied
from verenigingen.jobs.models import ACTIVE_STATUSES, Queue
from verenigingen.perf.capture import QueryLog
from verenigingen.web import job_figures
from verenigingen.web.deps import CurrentUserOutsideTransaction
from verenigingen.web.openapi import ERROR_BODY

log = logging.getLogger(__name__)

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of what ``generate_latest`` writes."""

SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200)

UNMATCHED = "unmatched"
"""The route label of a request no route matched (an unknown path): one value for all of them."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
"""The method label of any method but :data:`METHODS`: a client may send any word."""


def method_label(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in METHODS else OTHER_METHOD


class AppMetrics:
    """The registry of one app: the request histograms, and the figures read at scrape time
    from the cache and the job table (through ``sessions``, the app's read sessions)."""

    def __init__(self, cache: VersionedCache, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.duration = Histogram(
            "verenigingen_http_request_duration_seconds",
            "Time from a request's start to its response's last byte.",
            ["route", "method", "status_class"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.statements = Histogram(
            "verenigingen_http_request_statements",
            "Database statements a request sent (transaction control not counted).",
            ["route", "method"],
            buckets=STATEMENT_BUCKETS,
            registry=self.registry,
        )
        self.database_time = Histogram(
            "verenigingen_http_request_database_seconds",
            "Time a request spent in database statements.",
            ["route", "method"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(ScrapeTimeCollector(cache, sessions))
        self._templates: dict[int, str] = {}

    def learn_routes(self, routes: Sequence[BaseRoute]) -> None:
        """Learn the template each of the app's routes answers on.

        The router leaves the route that answered in the scope, but a route of an included
        router knows only its own part of the path (``/members/{member_id}``, not the
        ``/api/v1`` in front): FastAPI's ``iter_route_contexts`` gives each route with the path
        it answers on, as the OpenAPI document has it. Keyed by the route object's identity
        (routes compare by value and are not hashable).
        """
        for context in iter_route_contexts(routes):
            if context.path_format is not None:
                self._templates[id(context.original_route)] = context.path_format

    def route_label(self, scope: Scope) -> str:
        """The template of the route that answered; one value for requests no route matched."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        template = self._templates.get(id(route)) or getattr(route, "path_format", None)
        return template if isinstance(template, str) else UNMATCHED

    def observe_request(self, scope: Scope, status: int, seconds: float, log: QueryLog) -> None:
        """A finished request (the Server-Timing middleware's observer)."""
        route, method = self.route_label(scope), method_label(scope)
        self.duration.labels(route, method, f"{status // 100}xx").observe(seconds)
        self.statements.labels(route, method).observe(log.count)
        self.database_time.labels(route, method).observe(log.duration_ms / 1000)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ScrapeTimeCollector:
    """Figures read when Prometheus asks: the cache's counters and the job table.

    A source that cannot be read (Redis or the database down) leaves its figures out of the
    scrape and says so in ``verenigingen_metrics_source_up``, rather than failing the scrape.
    """

    def __init__(self, cache: VersionedCache, sessions: sessionmaker[Session]) -> None:
        self.cache = cache
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "verenigingen_metrics_source_up",
            "1 when the source could be read for this scrape, 0 when its figures are missing.",
            labels=["source"],
        )
        cache_families = self._cache_families()
        up.add_metric(["cache"], 0 if cache_families is None else 1)
        yield from cache_families or []
        job_families = self._job_families()
        up.add_metric(["jobs"], 0 if job_families is None else 1)
        yield from job_families or []
        yield up

    def _cache_families(self) -> list[Metric] | None:
        try:
            stats = self.cache.stats()
        except redis.RedisError as error:
            log.warning("metrics: the cache statistics cannot be read: %s", error)
            return None
        hits = CounterMetricFamily(
            "verenigingen_cache_hits",
            "Cache lookups served from the cache, per namespace.",
            labels=["namespace"],
        )
        misses = CounterMetricFamily(
            "verenigingen_cache_misses",
            "Cache lookups computed anew, per namespace and reason: cold (no entry), "
            "invalidated (the data changed), expired (past its time to live).",
            labels=["namespace", "reason"],
        )
        for namespace, counts in sorted(stats.items()):
            hits.add_metric([namespace], counts.hits)
            for reason, count in (
                ("cold", counts.cold),
                ("invalidated", counts.invalidated),
                ("expired", counts.expired),
            ):
                misses.add_metric([namespace, reason], count)
        return [hits, misses]

    def _job_families(self) -> list[Metric] | None:
        try:
            with self.sessions() as session:
                active = job_figures.active_per_queue(session)
                finished = job_figures.finished_per_task(session)
        except SQLAlchemyError as error:
            log.warning("metrics: the job table cannot be read: %s", error)
            return None
        depth = GaugeMetricFamily(
            "verenigingen_job_queue_depth",
            "Queued and Running jobs per queue and status, from the job table.",
            labels=["queue", "status"],
        )
        # Every queue and status, 0 included: a series that vanishes when its queue empties
        # cannot be told from one that is not scraped.
        counts = dict.fromkeys(((q.value, s.value) for q in Queue for s in ACTIVE_STATUSES), 0)
        for (queue, status), count in sorted((counts | active).items()):
            depth.add_metric([queue, status], count)
        outcomes = CounterMetricFamily(
            "verenigingen_jobs_finished",
            "Jobs that ended, per task and final status (Completed, Failed, Cancelled), "
            "from the job table.",
            labels=["task", "status"],
        )
        for (task, status), count in sorted(finished.items()):
            outcomes.add_metric([task, status], count)
        return [depth, outcomes]


def administrator_only(user: CurrentUserOutsideTransaction) -> None:
    """401 without a valid token, 403 for a user who is not an enabled Administrator."""
    if not (user.enabled and user.is_administrator):
        raise PermissionDenied("only an administrator may read the metrics")


def metrics_router(metrics: AppMetrics, *, public: bool) -> APIRouter:
    """``GET /metrics``, for anyone when ``public``, else for Administrators."""
    router = APIRouter(tags=["health"])
    responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
    }
    if not public:
        # Spelled out: a ``model`` would be documented in the route's own media type, text.
        refused = {"content": {"application/json": {"schema": ERROR_BODY}}}
        responses |= {
            401: {"description": "No token, or an unknown, revoked or expired one", **refused},
            403: {"description": "The user is not an enabled Administrator", **refused},
        }

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses=responses,
        dependencies=[] if public else [Depends(administrator_only)],
    )
    def read_metrics() -> Response:
        """Request latency, statements and database time per route, cache hits and misses,
        job queue depth and outcomes, in the Prometheus text format; an Administrator's token
        unless ``metrics_public``."""
        return Response(metrics.exposition(), media_type=TEXT_FORMAT)

    return router

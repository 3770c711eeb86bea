"""/api/v1/perf/cache: hit and miss statistics of the version-tagged cache, for administrators."""

from __future__ import annotations

from fastapi import APIRouter

from verenigingen.cache.report import cache_statistics
from verenigingen.cache.schemas import CacheStatsOut
from verenigingen.web.deps import ContextDep, CurrentUser, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/perf/cache",
    tags=["perf"],
    responses={code: {"model": ErrorBody} for code in (401, 403)},
)


@router.get("")
def cache_stats(user: CurrentUser, context: ContextDep) -> CacheStatsOut:
    """Per namespace: lookups, hits, misses (cold, invalidated, expired), hit rate, fill time."""
    return cache_statistics(user, context.cache)

"""The statistics as the API and the command line show them."""

from __future__ import annotations

from pydantic import BaseModel

from verenigingen.cache.stats import NamespaceStats


class NamespaceStatsOut(BaseModel):
    namespace: str
    lookups: int
    hits: int
    misses: int
    cold: int
    invalidated: int
    expired: int
    hit_rate: float
    """hits / lookups, 0.0 before the first lookup."""
    fill_count: int
    fill_ms_total: float
    fill_ms_mean: float

    @classmethod
    def of(cls, namespace: str, stats: NamespaceStats) -> NamespaceStatsOut:
        return cls(
            namespace=namespace,
            lookups=stats.lookups,
            hits=stats.hits,
            misses=stats.misses,
            cold=stats.cold,
            invalidated=stats.invalidated,
            expired=stats.expired,
            hit_rate=round(stats.hit_rate, 4),
            fill_count=stats.fill_count,
            fill_ms_total=round(stats.fill_ms_total, 3),
            fill_ms_mean=round(stats.fill_ms_mean, 3),
        )


class CacheStatsOut(BaseModel):
    backend: str
    """``memory`` (this process only) or ``redis`` (every process sharing it)."""
    namespaces: list[NamespaceStatsOut]

    @classmethod
    def of(cls, backend: str, stats: dict[str, NamespaceStats]) -> CacheStatsOut:
        return cls(
            backend=backend,
            namespaces=[NamespaceStatsOut.of(name, item) for name, item in sorted(stats.items())],
        )

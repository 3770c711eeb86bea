"""Reading the cache's statistics: for administrators only."""

from __future__ import annotations

from verenigingen.auth.models import User
from verenigingen.cache.schemas import CacheStatsOut
from verenigingen.cache.versioned import VersionedCache
from verenigingen.errors import PermissionDenied


def cache_statistics(user: User, cache: VersionedCache) -> CacheStatsOut:
    """Hits, misses by kind and fill time per namespace of this process's cache."""
    if not user.enabled or not user.is_administrator:
        raise PermissionDenied("only an administrator may read the cache statistics")
    return CacheStatsOut.of(cache.backend.name, cache.stats())

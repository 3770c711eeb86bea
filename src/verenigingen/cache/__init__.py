"""Version-tagged cache (DESIGN.md rule 5): tag versions in the database decide what is valid.

Writers call :func:`bump_tags` in their transaction; readers call
``cache.get_or_fill(session, namespace, key, tags, fill, ttl=...)`` on the cache of the
application context (:mod:`verenigingen.app_context`).
"""

from verenigingen.cache.stats import NamespaceStats, Outcome
from verenigingen.cache.tags import bump_tags, current_versions
from verenigingen.cache.versioned import (
    OUTSTANDING_TTL_SECONDS,
    SETTLED_TTL_SECONDS,
    VersionedCache,
    cache_from_settings,
    money_ttl,
)

__all__ = [
    "OUTSTANDING_TTL_SECONDS",
    "SETTLED_TTL_SECONDS",
    "NamespaceStats",
    "Outcome",
    "VersionedCache",
    "bump_tags",
    "cache_from_settings",
    "current_versions",
    "money_ttl",
]

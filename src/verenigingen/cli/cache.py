"""``verenigingen cache``: the version-tagged cache's statistics, and emptying it."""

from __future__ import annotations

import redis
import typer
from rich.table import Table

from verenigingen.cache import VersionedCache, cache_from_settings
from verenigingen.cache.schemas import CacheStatsOut
from verenigingen.cli.context import console, fail, ready_engine
from verenigingen.config import get_settings
from verenigingen.db.installation import installation_id

app = typer.Typer(help="The cache: hit and miss statistics, clear.", no_args_is_help=True)


def command_cache() -> VersionedCache:
    """The cache this installation's processes use (its Redis keys carry the installation id,
    read from the configured database)."""
    engine = ready_engine()
    try:
        return cache_from_settings(get_settings(), installation_id(engine))
    finally:
        engine.dispose()


@app.command("stats")
def stats() -> None:
    """Lookups, hits, misses (cold, invalidated, expired), hit rate and fill time per namespace.

    With Redis these are the counts of every process; in memory only this one's, so the command
    line sees what the embedded server saw only when Redis holds the cache.
    """
    cache = command_cache()
    try:
        shown = CacheStatsOut.of(cache.backend.name, cache.stats())
    except redis.RedisError as error:
        raise fail(f"cannot reach the cache's Redis (VERENIGINGEN_REDIS_URL): {error}") from None
    table = Table(
        "namespace",
        "lookups",
        "hits",
        "cold",
        "invalidated",
        "expired",
        "hit rate",
        "fills",
        "fill ms (mean)",
        title=f"cache ({shown.backend})",
    )
    for row in shown.namespaces:
        table.add_row(
            row.namespace,
            str(row.lookups),
            str(row.hits),
            str(row.cold),
            str(row.invalidated),
            str(row.expired),
            f"{row.hit_rate:.1%}",
            str(row.fill_count),
            f"{row.fill_ms_mean:.3f}",
        )
    if not shown.namespaces:
        console.print(f"cache ({shown.backend}): no lookups yet")
        return
    console.print(table)


@app.command("clear")
def clear() -> None:
    """Drop every entry and counter. Never needed for correctness: changed data bumps versions."""
    cache = command_cache()
    try:
        cache.clear()
    except redis.RedisError as error:
        raise fail(f"cannot reach the cache's Redis (VERENIGINGEN_REDIS_URL): {error}") from None
    console.print(f"cache ({cache.backend.name}) cleared")

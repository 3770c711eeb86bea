"""The reader process of the two-process Redis test (started with multiprocessing, spawn)."""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

import redis
from cache_helpers import Ledger, outstanding

from verenigingen.cache import VersionedCache, money_ttl
from verenigingen.cache.redis_backend import RedisBackend
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory, read_only


def committed_key(prefix: str) -> str:
    return f"{prefix}:test:committed"


def ready_key(prefix: str) -> str:
    return f"{prefix}:test:ready"


def done_key(prefix: str) -> str:
    return f"{prefix}:test:done"


def read_history(cache: VersionedCache, session: Any, ledger: Ledger) -> Decimal:
    def fill() -> dict[str, Any]:
        value = outstanding(session, ledger)
        # Fills of uneven length, so that the writer's commits land inside some of them.
        time.sleep(random.uniform(0.0, 0.1))
        return {"outstanding": value}

    value = cache.get_or_fill(
        session,
        "history",
        ledger.key,
        ledger.tags,
        fill,
        ttl=lambda v: money_ttl(v["outstanding"]),
    )
    return Decimal(value["outstanding"])


def reader(database_url: str, redis_url: str, prefix: str, ledger: Ledger, results: Any) -> None:
    """Read the history through the shared cache until the writer is done.

    Before each lookup it reads the amount the writer last announced as committed; outstanding
    only goes down, so a lookup that returns more than that amount served stale money.
    """
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    cache = VersionedCache(RedisBackend(redis_url, prefix=prefix))
    client = redis.Redis.from_url(redis_url)
    reads, stale = 0, []
    try:
        while not client.exists(done_key(prefix)):
            announced = client.get(committed_key(prefix))
            assert announced is not None
            floor = Decimal(announced.decode())
            with read_only(factory) as session:
                got = read_history(cache, session, ledger)
            reads += 1
            client.set(ready_key(prefix), "1")
            if got > floor:
                stale.append((str(floor), str(got)))
        results.put({"reads": reads, "stale": stale})
    except BaseException as error:
        results.put({"error": repr(error)})
        raise
    finally:
        engine.dispose()

"""The distributed backend: entries, fill locks and statistics in Redis, shared by every process.

Keys, under a prefix (``verenigingen:cache`` by default) and the namespace:
``<prefix>:<namespace>:e:<key>`` the entry (versions, expiry and value as JSON, with a PX TTL),
``<prefix>:<namespace>:f:<key>`` the fill lock (``SET NX PX``), ``<prefix>:<namespace>:stats``
a hash of counters (HINCRBY), and ``<prefix>:namespaces`` the set of namespaces seen.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any, cast

import redis

from verenigingen.cache.backend import StoredEntry
from verenigingen.cache.stats import FILL_COUNT, FILL_MICROSECONDS, NamespaceStats, Outcome

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "verenigingen:cache"
# Redis keeps an entry this long past its expiry so that a late lookup is counted as "expired"
# (the entry was there but too old) rather than "cold"; the cache's clock decides expiry.
EXPIRED_GRACE_SECONDS = 600
# A filler that dies leaves its lock behind for at most this long.
FILL_LOCK_SECONDS = 30.0
POLL_SECONDS = 0.005
# A cache that is down must cost a request little: fail fast, then compute without the cache.
SOCKET_TIMEOUT_SECONDS = 1.0

# Compare-and-delete: a filler whose lock expired must not release the next filler's lock.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class _RedisLease:
    def __init__(self, backend: RedisBackend, lock_key: str, token: str, waited: bool) -> None:
        self.waited = waited
        self._backend = backend
        self._lock_key = lock_key
        self._token = token

    def release(self) -> None:
        try:
            self._backend._release(keys=[self._lock_key], args=[self._token])
        except redis.RedisError as error:  # the lock expires by itself (PX)
            log.warning("cache: could not release the fill lock %s: %s", self._lock_key, error)


class RedisBackend:
    name = "redis"

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        fill_lock_seconds: float = FILL_LOCK_SECONDS,
    ) -> None:
        self.client = (
            redis.Redis.from_url(
                url_or_client,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
            )
            if isinstance(url_or_client, str)
            else url_or_client
        )
        self.prefix = prefix
        self.fill_lock_ms = int(fill_lock_seconds * 1000)
        self._release = self.client.register_script(_RELEASE)

    def _key(self, namespace: str, kind: str, key: str = "") -> str:
        return f"{self.prefix}:{namespace}:{kind}{key}"

    # Lookups survive a Redis outage as misses computed from the database (correct, only
    # slower): read finds nothing, write and record are skipped, the fill lock is not taken.
    # Only RedisError is caught; stats() and clear() are operator commands and report it.

    def read(self, namespace: str, key: str) -> StoredEntry | None:
        try:
            raw = cast(bytes | None, self.client.get(self._key(namespace, "e:", key)))
        except redis.RedisError as error:
            log.warning("cache: Redis read failed, computing without the cache: %s", error)
            return None
        if raw is None:
            return None
        header, _, payload = raw.partition(b"\n")
        meta: dict[str, Any] = json.loads(header)
        return StoredEntry(
            versions=meta["v"], expires_at=float(meta["e"]), payload=payload.decode()
        )

    def write(self, namespace: str, key: str, entry: StoredEntry, ttl_seconds: float) -> None:
        header = json.dumps({"v": entry.versions, "e": entry.expires_at}, separators=(",", ":"))
        try:
            self.client.set(
                self._key(namespace, "e:", key),
                f"{header}\n{entry.payload}".encode(),
                px=int((ttl_seconds + EXPIRED_GRACE_SECONDS) * 1000),
            )
        except redis.RedisError as error:
            log.warning("cache: Redis write failed, entry not stored: %s", error)

    def acquire_fill(self, namespace: str, key: str, timeout: float) -> _RedisLease | None:
        lock_key = self._key(namespace, "f:", key)
        token = secrets.token_hex(8)
        deadline = time.monotonic() + timeout
        waited = False
        try:
            while not self.client.set(lock_key, token, nx=True, px=self.fill_lock_ms):
                waited = True
                if time.monotonic() >= deadline:
                    return None
                time.sleep(POLL_SECONDS)
        except redis.RedisError as error:
            log.warning("cache: Redis fill lock failed, computing alone: %s", error)
            return None
        return _RedisLease(self, lock_key, token, waited)

    def record(self, namespace: str, outcome: Outcome, fill_us: int | None) -> None:
        stats_key = self._key(namespace, "stats")
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(stats_key, outcome.value, 1)
        if fill_us is not None:
            pipe.hincrby(stats_key, FILL_COUNT, 1)
            pipe.hincrby(stats_key, FILL_MICROSECONDS, fill_us)
        pipe.sadd(f"{self.prefix}:namespaces", namespace)
        try:
            pipe.execute()
        except redis.RedisError as error:
            log.warning("cache: Redis statistics not counted: %s", error)

    def keys(self, namespace: str, limit: int) -> list[str]:
        prefix = self._key(namespace, "e:")
        found: list[str] = []
        if limit <= 0:
            return found
        for name in self.client.scan_iter(match=f"{prefix}*", count=500):
            found.append(cast(bytes, name).decode()[len(prefix) :])
            if len(found) >= limit:
                break
        return found

    def stats(self) -> dict[str, NamespaceStats]:
        members = cast(set[bytes], self.client.smembers(f"{self.prefix}:namespaces"))
        namespaces = sorted(member.decode() for member in members)
        pipe = self.client.pipeline(transaction=False)
        for namespace in namespaces:
            pipe.hgetall(self._key(namespace, "stats"))
        hashes = cast(list[dict[bytes, bytes]], pipe.execute())
        return {
            namespace: NamespaceStats.from_counters(
                {field.decode(): int(value) for field, value in counters.items()}
            )
            for namespace, counters in zip(namespaces, hashes, strict=True)
        }

    def clear(self) -> None:
        batch: list[Any] = []
        for name in self.client.scan_iter(match=f"{self.prefix}:*", count=500):
            batch.append(name)
            if len(batch) == 500:
                self.client.unlink(*batch)
                batch.clear()
        if batch:
            self.client.unlink(*batch)

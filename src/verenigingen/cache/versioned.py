"""The version-tagged cache (DESIGN.md rule 5): an entry is served only while its tags' versions
in the database are the ones it was computed from.

Order is everything. A lookup reads the current versions first (one primary-key query), and a
fill keeps those same versions, read BEFORE the value was computed. A fill that raced a commit
therefore carries the versions from before the commit, and is never served once the commit's
bump is visible. Reading the versions after computing would label old data with new versions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from verenigingen.cache import codec
from verenigingen.cache.backend import NOT_DECODED, CacheBackend, StoredEntry
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.stats import NamespaceStats, Outcome
from verenigingen.cache.tags import checked_tags, current_versions
from verenigingen.cache.writes import has_written
from verenigingen.config import Settings
from verenigingen.errors import DomainError

T = TypeVar("T")
Clock = Callable[[], float]

# The plan's policy: a history with money outstanding changes soon (a payment, a reminder), a
# settled one rarely. Versions make both correct; the TTL only bounds memory and drift. (The
# payment history takes both from its runtime settings, whose defaults these are.)
OUTSTANDING_TTL_SECONDS = 30 * 60
SETTLED_TTL_SECONDS = 60 * 60
FILL_WAIT_SECONDS = 5.0

_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def money_ttl(
    outstanding: Decimal,
    *,
    outstanding_seconds: int = OUTSTANDING_TTL_SECONDS,
    settled_seconds: int = SETTLED_TTL_SECONDS,
) -> int:
    """30 minutes (``outstanding_seconds``) while money is outstanding (either way), 60 minutes
    (``settled_seconds``) once settled."""
    return outstanding_seconds if outstanding != 0 else settled_seconds


def _identity(value: Any) -> Any:
    return value


class VersionedCache:
    def __init__(
        self,
        backend: CacheBackend,
        *,
        clock: Clock = time.time,
        fill_wait_seconds: float = FILL_WAIT_SECONDS,
    ) -> None:
        self.backend = backend
        self.clock = clock
        """Seconds; expiry is judged on it (tests replace it to move time)."""
        self.fill_wait_seconds = fill_wait_seconds
        """How long a lookup waits for another filler of the same key before computing alone."""

    def get_or_fill(
        self,
        session: Session,
        namespace: str,
        key: str,
        tags: Sequence[str],
        fill: Callable[[], T],
        *,
        ttl: Callable[[T], int] | int,
        encode: Callable[[T], Any] = _identity,
        decode: Callable[[Any], T] = _identity,
        versions: dict[str, int] | None = None,
        raw: bool = False,
    ) -> T:
        """The value of ``key`` cached from the current versions of ``tags``, else ``fill()``.

        ``fill`` reads through ``session`` (or sees what it sees); its result is stored as
        ``codec.dumps(encode(value))`` for ``ttl`` seconds (or ``ttl(value)``) and returned as it
        is, while a hit returns ``decode(codec.loads(...))``. A hit sends one statement.

        Values are read-only: in memory, every hit of an entry gets the same decoded object
        (frozen dataclasses and tuples make that safe). One namespace holds one shape: the
        ``decode`` of the first hit is the one whose result later hits share.

        ``versions``: the current versions of exactly ``tags``, when the caller has read them
        itself (``tags.tag_version``) in a statement sent before anything ``fill`` reads, in
        the same transaction. None: they are read here, first, with one statement.

        ``raw``: ``encode`` returns the stored text itself and ``decode`` is given it back, with
        no JSON codec around them (for a value that is text already: encoding a long string as
        JSON again costs more than the rest of storing it).
        """
        if versions is not None and sorted(versions) != checked_tags(tags):
            raise ValueError(f"versions {sorted(versions)} are not those of the tags {tags}")
        known = versions

        def read_versions() -> dict[str, int]:
            return known if known is not None else current_versions(session, tags)

        def fill_cold() -> tuple[T, dict[str, int]]:
            read = read_versions()  # first, before anything is read or computed
            return fill(), read

        return self.get_or_fill_from(
            session,
            namespace,
            key,
            read_versions=read_versions,
            fill=fill,
            fill_cold=fill_cold,
            ttl=ttl,
            encode=encode,
            decode=decode,
            raw=raw,
        )

    def get_or_fill_from(
        self,
        session: Session,
        namespace: str,
        key: str,
        *,
        read_versions: Callable[[], dict[str, int]],
        fill: Callable[[], T],
        fill_cold: Callable[[], tuple[T, dict[str, int]]],
        ttl: Callable[[T], int] | int,
        encode: Callable[[T], Any] = _identity,
        decode: Callable[[Any], T] = _identity,
        raw: bool = False,
    ) -> T:
        """:meth:`get_or_fill` for a caller that reads the versions itself, and that can read
        them with the value when nothing is stored for the key.

        ``read_versions()``: the current versions of the value's tags, in one statement sent
        before anything ``fill`` reads. Called when an entry is stored, to judge it; when it may
        not be served, ``fill()`` computes the value, stored with those versions.

        ``fill_cold()``: when no entry is stored (a cold key), the value and the versions of its
        tags, read by the statements that read the value: a version read in the same statement
        as the data (one snapshot) is exactly the one the data was computed from. A cold read is
        then the fill alone. A ``DomainError`` it raises (the caller's 403 or 404) is not
        counted as a lookup.
        """
        if not _NAMESPACE.fullmatch(namespace):
            raise ValueError(f"a cache namespace is 1-60 of [A-Za-z0-9_.-], got {namespace!r}")
        versions: dict[str, int] | None = None
        outcome, entry = Outcome.COLD, self.backend.read(namespace, key)
        if entry is not None:
            versions = read_versions()
            outcome, entry = self._judge(entry, versions)
            if entry is not None:
                self.backend.record(namespace, Outcome.HIT, None)
                return _decoded(entry, decode, raw)
        fill_us: int | None = None
        counted = True
        try:
            if has_written(session):
                # It may still roll back: not for anyone else.
                value, fill_us = _timed(fill if versions is not None else _first(fill_cold))
                return value
            lease = self.backend.acquire_fill(namespace, key, self.fill_wait_seconds)
            if lease is None:
                # Another filler holds the key too long: compute for this caller alone rather
                # than wait more or serve what is there.
                value, fill_us = _timed(fill if versions is not None else _first(fill_cold))
                return value
            try:
                if lease.waited:
                    entry = self.backend.read(namespace, key)
                    if entry is not None:
                        if versions is None:
                            versions = read_versions()
                        _, entry = self._judge(entry, versions)
                    if entry is not None:  # the other filler stored it for our versions
                        outcome = Outcome.HIT
                        return _decoded(entry, decode, raw)
                stored_versions: dict[str, int]
                if versions is None:
                    (value, stored_versions), fill_us = _timed(fill_cold)
                else:
                    value, fill_us = _timed(fill)
                    stored_versions = versions
                seconds = ttl(value) if callable(ttl) else ttl
                if seconds > 0:
                    payload = encode(value) if raw else codec.dumps(encode(value))
                    stored = StoredEntry(stored_versions, self.clock() + seconds, payload)
                    self.backend.write(namespace, key, stored, seconds)
                return value
            finally:
                lease.release()
        except DomainError:
            counted = False
            raise
        finally:
            if counted:
                self.backend.record(namespace, outcome, fill_us)

    def _judge(
        self, entry: StoredEntry | None, versions: dict[str, int]
    ) -> tuple[Outcome, StoredEntry | None]:
        """The lookup's outcome, and the entry when it may be served."""
        if entry is None:
            return Outcome.COLD, None
        if entry.versions != versions:
            return Outcome.INVALIDATED, None
        if entry.expires_at <= self.clock():
            return Outcome.EXPIRED, None
        return Outcome.HIT, entry

    def stats(self) -> dict[str, NamespaceStats]:
        """Counters per namespace, of every process sharing the backend."""
        return self.backend.stats()

    def clear(self) -> None:
        """Drop all entries and counters (entries would be recomputed anyway when data changes)."""
        self.backend.clear()


def _decoded(entry: StoredEntry, decode: Callable[[Any], T], raw: bool) -> T:
    # Decoding JSON costs more than the rest of a hit; an in-process entry is decoded once and
    # the same object is returned to every later hit (hence: cached values are read-only).
    if entry.decoded is NOT_DECODED:
        entry.decoded = decode(entry.payload if raw else codec.loads(entry.payload))
    value: T = entry.decoded
    return value


def _first(fill_cold: Callable[[], tuple[T, dict[str, int]]]) -> Callable[[], T]:
    return lambda: fill_cold()[0]


def _timed(fill: Callable[[], T]) -> tuple[T, int]:
    started = time.perf_counter_ns()
    value = fill()
    return value, (time.perf_counter_ns() - started) // 1000


def cache_from_settings(settings: Settings, installation: str) -> VersionedCache:
    """Redis when configured (``cache_backend`` redis, or auto with ``redis_url``), else memory.

    Redis keys live under ``<jobs namespace>:cache:<installation id>``: processes of one
    installation share them, and another installation on the same Redis (another namespace, or
    the same one on another database) never reads them. The in-process cache serves one
    process, so one installation, by construction.
    """
    choice = settings.cache_backend
    if choice == "auto":
        choice = "redis" if settings.redis_url else "memory"
    if choice == "redis":
        if not settings.redis_url:
            raise ValueError("VERENIGINGEN_CACHE_BACKEND=redis needs VERENIGINGEN_REDIS_URL")
        from verenigingen.cache.redis_backend import RedisBackend

        prefix = f"{settings.jobs_namespace}:cache:{installation}"
        return VersionedCache(RedisBackend(settings.redis_url, prefix=prefix))
    return VersionedCache(
        MemoryBackend(
            settings.cache_max_entries, max_characters=settings.cache_max_payload_mb * 1_000_000
        )
    )

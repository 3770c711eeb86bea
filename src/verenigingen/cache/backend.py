"""What a cache backend stores and does; the rules (versions, TTL, statistics) live above it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from verenigingen.cache.stats import NamespaceStats, Outcome

NOT_DECODED: Final = object()


@dataclass(slots=True)
class StoredEntry:
    versions: dict[str, int]
    """The versions of the entry's tags read before its value was computed."""
    expires_at: float
    """Seconds on the cache's clock after which the entry is no longer served."""
    payload: str
    """The value as JSON text (``cache.codec``): the same bytes in memory and in Redis."""
    decoded: Any = field(default=NOT_DECODED, compare=False)
    """The payload decoded by the first hit. The memory backend hands out the same entry on
    every read, so later hits in this process skip decoding; Redis reads are new entries."""


class FillLease(Protocol):
    """The right to fill one key; other fillers of that key wait for it or give up."""

    @property
    def waited(self) -> bool:
        """True when another filler held the key first (its entry may now be there)."""
        ...

    def release(self) -> None: ...


class CacheBackend(Protocol):
    name: str

    def read(self, namespace: str, key: str) -> StoredEntry | None: ...

    def write(self, namespace: str, key: str, entry: StoredEntry, ttl_seconds: float) -> None: ...

    def acquire_fill(self, namespace: str, key: str, timeout: float) -> FillLease | None:
        """Take the fill lock of the key, waiting up to ``timeout`` seconds; None if still held."""
        ...

    def record(self, namespace: str, outcome: Outcome, fill_us: int | None) -> None:
        """Count one lookup (and the time spent filling, when it filled)."""
        ...

    def keys(self, namespace: str, limit: int) -> list[str]:
        """Up to ``limit`` keys stored in ``namespace``, in no promised order (the safety
        monitor's sample of entries to recompute)."""
        ...

    def stats(self) -> dict[str, NamespaceStats]: ...

    def clear(self) -> None:
        """Drop every entry and every counter."""
        ...

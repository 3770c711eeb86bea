"""The embedded backend: a bounded LRU in this process, safe to share between threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from verenigingen.cache.backend import StoredEntry
from verenigingen.cache.stats import (
    COUNTERS,
    FILL_COUNT,
    FILL_MICROSECONDS,
    NamespaceStats,
    Outcome,
)


@dataclass(slots=True)
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    """Threads holding or waiting for the lock; the entry goes when the last one leaves."""


class _MemoryLease:
    def __init__(self, waited: bool, release: Callable[[], None]) -> None:
        self.waited = waited
        self._release = release

    def release(self) -> None:
        self._release()


class MemoryBackend:
    name = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], StoredEntry] = OrderedDict()
        self._counters: dict[str, dict[str, int]] = {}
        # One lock guards entries, counters and the table of key locks; it is held only for
        # dictionary work, never while a value is computed.
        self._lock = threading.Lock()
        self._fill_locks: dict[tuple[str, str], _KeyLock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def read(self, namespace: str, key: str) -> StoredEntry | None:
        with self._lock:
            entry = self._entries.get((namespace, key))
            if entry is not None:
                self._entries.move_to_end((namespace, key))
            return entry

    def write(self, namespace: str, key: str, entry: StoredEntry, ttl_seconds: float) -> None:
        # Expiry is judged by the cache on entry.expires_at; an expired entry stays until it is
        # overwritten or evicted, so that its lookup counts as "expired", not "cold".
        with self._lock:
            self._entries[(namespace, key)] = entry
            self._entries.move_to_end((namespace, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def acquire_fill(self, namespace: str, key: str, timeout: float) -> _MemoryLease | None:
        with self._lock:
            key_lock = self._fill_locks.setdefault((namespace, key), _KeyLock())
            key_lock.users += 1
        waited = not key_lock.lock.acquire(blocking=False)
        if waited and not key_lock.lock.acquire(timeout=timeout):
            self._leave(namespace, key, key_lock)
            return None

        def release() -> None:
            key_lock.lock.release()
            self._leave(namespace, key, key_lock)

        return _MemoryLease(waited, release)

    def _leave(self, namespace: str, key: str, key_lock: _KeyLock) -> None:
        with self._lock:
            key_lock.users -= 1
            if key_lock.users == 0:
                del self._fill_locks[(namespace, key)]

    def record(self, namespace: str, outcome: Outcome, fill_us: int | None) -> None:
        with self._lock:
            counters = self._counters.setdefault(namespace, dict.fromkeys(COUNTERS, 0))
            counters[outcome.value] += 1
            if fill_us is not None:
                counters[FILL_COUNT] += 1
                counters[FILL_MICROSECONDS] += fill_us

    def keys(self, namespace: str, limit: int) -> list[str]:
        with self._lock:
            stored = [key for (space, key) in reversed(self._entries) if space == namespace]
        return stored[:limit]  # the most recently used first

    def stats(self) -> dict[str, NamespaceStats]:
        with self._lock:
            return {
                namespace: NamespaceStats.from_counters(counters)
                for namespace, counters in sorted(self._counters.items())
            }

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counters.clear()

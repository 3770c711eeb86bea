"""The embedded backend: a bounded LRU in this process, safe to share between threads.

Bounded twice: by entries, and by the characters of their JSON payloads, so that the process's
memory does not grow with the size of what is cached (a history of many years is a long text).
A payload's decoded form, kept beside it after the first hit, is not counted.
"""

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

    def __init__(self, max_entries: int = 10_000, max_characters: int = 32_000_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if max_characters < 1:
            raise ValueError(f"max_characters must be at least 1, got {max_characters}")
        self.max_entries = max_entries
        self.max_characters = max_characters
        self._entries: OrderedDict[tuple[str, str], StoredEntry] = OrderedDict()
        self._characters = 0
        """The payloads' length together."""
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
            replaced = self._entries.pop((namespace, key), None)
            if replaced is not None:
                self._characters -= len(replaced.payload)
            self._entries[(namespace, key)] = entry
            self._characters += len(entry.payload)
            # The entry just written stays, even when it alone is over the bound.
            while len(self._entries) > 1 and (
                len(self._entries) > self.max_entries or self._characters > self.max_characters
            ):
                _key, evicted = self._entries.popitem(last=False)
                self._characters -= len(evicted.payload)

    @property
    def characters(self) -> int:
        """The length of the payloads held."""
        with self._lock:
            return self._characters

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
            self._characters = 0
            self._counters.clear()

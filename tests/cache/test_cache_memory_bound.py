"""The in-process cache is bounded by its payloads' length too, not only by its entries: a
process's memory must not grow with the size of what it caches."""

from __future__ import annotations

import pytest

from verenigingen.cache.backend import StoredEntry
from verenigingen.cache.memory import MemoryBackend
from verenigingen.cache.versioned import cache_from_settings
from verenigingen.config import Settings


def entry(characters: int) -> StoredEntry:
    return StoredEntry({"member:1": 1}, expires_at=60.0, payload="x" * characters)


def test_the_least_recently_used_go_when_the_payloads_are_over_the_bound() -> None:
    backend = MemoryBackend(max_entries=100, max_characters=250)
    for key in ("a", "b", "c"):
        backend.write("history", key, entry(100), ttl_seconds=60)
    # a (100) + b (100) + c (100) is over 250: a, the least recently used, went.
    assert backend.keys("history", 10) == ["c", "b"]
    assert backend.characters == 200
    assert backend.read("history", "b") is not None  # b is now more recent than c
    backend.write("history", "d", entry(100), ttl_seconds=60)
    assert backend.keys("history", 10) == ["d", "b"]


def test_rewriting_a_key_counts_its_new_payload_only() -> None:
    backend = MemoryBackend(max_entries=100, max_characters=250)
    backend.write("history", "a", entry(100), ttl_seconds=60)
    backend.write("history", "a", entry(200), ttl_seconds=60)
    assert backend.characters == 200
    assert backend.keys("history", 10) == ["a"]


def test_an_entry_over_the_bound_alone_is_kept_until_the_next_write() -> None:
    backend = MemoryBackend(max_entries=100, max_characters=250)
    backend.write("history", "a", entry(100), ttl_seconds=60)
    backend.write("history", "big", entry(300), ttl_seconds=60)
    assert backend.keys("history", 10) == ["big"]
    backend.write("history", "b", entry(100), ttl_seconds=60)
    assert backend.keys("history", 10) == ["b"]
    assert backend.characters == 100


def test_clear_forgets_the_length() -> None:
    backend = MemoryBackend(max_characters=250)
    backend.write("history", "a", entry(100), ttl_seconds=60)
    backend.clear()
    assert (len(backend), backend.characters) == (0, 0)


@pytest.mark.parametrize("bound", [0, -1])
def test_a_bound_below_one_is_refused(bound: int) -> None:
    with pytest.raises(ValueError, match="max_characters must be at least 1"):
        MemoryBackend(max_characters=bound)


def test_the_setting_gives_the_bound_in_millions_of_characters() -> None:
    settings = Settings(cache_backend="memory", cache_max_payload_mb=5)
    backend = cache_from_settings(settings, installation="").backend
    assert isinstance(backend, MemoryBackend)
    assert backend.max_characters == 5_000_000

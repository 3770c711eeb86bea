"""What a transaction pays to see the runtime settings live.

    .venv/bin/python bench/settings_check.py [--redis redis://127.0.0.1:6379/0] [--calls 5000]

A migrated SQLite database in a temporary directory, one ``LiveSettings`` per change signal. For
each signal, in rounds that alternate the signals:

* ``unchanged``: ``LiveSettings.current()`` when no setting changed since its last look, what the
  first ``runtime_of`` of a transaction costs almost always (reading the signal, no statement);
* ``after a change``: the look after another process announced a change: the signal, then the
  settings table read on a connection of its own (one statement).

Prints the median microseconds per look. Left out: ``runtime_of``'s own dictionary look-ups
(the later calls of a transaction cost only those), and Redis on another machine (add the
network's round trip).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.settings import LiveSettings
from verenigingen.settings.signal import ChangeSignal, FileSignal, MemorySignal, RedisSignal

ROUNDS = 7


def per_call_us(action: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--redis", help="a Redis URL; without it the Redis signal is left out")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="settings-bench-"))
    engine = make_engine(f"sqlite:///{directory / 'verenigingen.db'}")
    upgrade(engine)
    signals: dict[str, ChangeSignal] = {
        "memory (one process)": MemorySignal(),
        "file (embedded shape)": FileSignal(directory / "settings-changed"),
    }
    if args.redis:
        signals["redis (distributed)"] = RedisSignal(args.redis, "bench:settings:changed")
    views = {name: LiveSettings.start(Settings(), s, engine) for name, s in signals.items()}
    unchanged: dict[str, list[float]] = {name: [] for name in views}
    changed: dict[str, list[float]] = {name: [] for name in views}
    for round_number in range(ROUNDS):
        order = list(views)[round_number % len(views) :] + list(views)[: round_number % len(views)]
        for name in order:
            view = views[name]
            unchanged[name].append(per_call_us(view.current, args.calls))

            timings: list[float] = []
            for _ in range(max(args.calls // 50, 20)):
                view.signal.announce()  # another process's change (its cost is not counted)
                started = time.perf_counter()
                view.current()
                timings.append((time.perf_counter() - started) * 1e6)
            changed[name].append(statistics.median(timings))
    print(f"runtime settings: one look per transaction, median of {ROUNDS} rounds (µs per look)")
    print(f"  {'signal':<24}{'unchanged':>12}{'after a change':>18}")
    for name in views:
        print(
            f"  {name:<24}{statistics.median(unchanged[name]):>12.2f}"
            f"{statistics.median(changed[name]):>18.1f}"
        )
    for view in views.values():
        view.close()
    engine.dispose()


if __name__ == "__main__":
    main()

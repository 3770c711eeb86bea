"""Load the demo association into a fresh SQLite database and report time and rows per second.

    .venv/bin/python bench/demo_load.py [--members 2000] [--months 24] [--seed 7] [--repeat 1]

Goal (foundation issue): 2,000 members x 24 months on SQLite in under 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import make_session_factory
from verenigingen.demo.generator import DemoOptions, load_demo
from verenigingen.startup import load_subscribers

GOAL_SECONDS = 60.0


def run_once(options: DemoOptions) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        upgrade(engine)
        started = time.perf_counter()
        counts = load_demo(make_session_factory(engine), options)
        elapsed = time.perf_counter() - started
        engine.dispose()
    invoices = sum(counts.invoices_by_status.values())
    return elapsed, counts.rows, invoices


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 11, 30))
    arguments = parser.parse_args()
    options = DemoOptions(arguments.members, arguments.months, arguments.seed, arguments.end)

    timings = []
    for attempt in range(arguments.repeat):
        elapsed, rows, invoices = run_once(options)
        timings.append(elapsed)
        print(
            f"run {attempt + 1}: {elapsed:.1f} s, {rows} rows ({invoices} invoices), "
            f"{rows / elapsed:,.0f} rows/s"
        )
    median = statistics.median(timings)
    verdict = "meets" if median < GOAL_SECONDS else "MISSES"
    print(
        f"demo {arguments.members} members x {arguments.months} months on SQLite: "
        f"median {median:.1f} s of {len(timings)} run(s); {verdict} the goal of "
        f"< {GOAL_SECONDS:.0f} s ({median / GOAL_SECONDS:.2f} of the budget)"
    )


if __name__ == "__main__":
    main()

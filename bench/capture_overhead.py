"""What query capture costs: the member payment history workload with and without it.

    .venv/bin/python bench/capture_overhead.py [--rounds 21] [--reads 50]

One process, one copy of the demo association (200 members, 12 months), the same reads in the
same order. Each round runs one pass of ``--reads`` history reads in every mode, in an order that
rotates from round to round, so that drift of the machine touches every mode alike:

* ``off``: no capture (what production costs without the toolkit);
* ``server-timing``: ``perf.capture(detail=False)``, what every request pays for its
  ``Server-Timing`` header (statements, durations, rows; the goal applies to this one);
* ``capture``: ``perf.capture()`` as the tests and the N+1 detectors use it (call sites too);
* ``capture+rows``: ``perf.capture(count_rows=True)``, as the profiler and the gate use it.

Prints the median pass time of each mode and its ratio to ``off``; the goal for ``server-timing`` is
an overhead of at most 10 %.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from verenigingen import clock
from verenigingen.db.session import make_session_factory, read_only, unit_of_work
from verenigingen.perf.capture import capture
from verenigingen.perf.workloads import get_workload
from verenigingen.perf.workloads.database import LARGE, RUN_DAY, DemoDatabase, acting_user
from verenigingen.perf.workloads.runner import WORKLOAD_SEED
from verenigingen.startup import load_subscribers

GOAL = 0.10
MODES: dict[str, Callable[[], contextlib.AbstractContextManager[object]]] = {
    "off": contextlib.nullcontext,
    "server-timing": lambda: capture(detail=False),
    "capture": capture,
    "capture+rows": lambda: capture(count_rows=True),
}


def main() -> None:
    load_subscribers()  # as every entry point does: the services record events
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "verenigingen-bench"
    )
    args = parser.parse_args()

    workload = get_workload("member_payment_history")
    database = DemoDatabase(LARGE, args.cache)
    print(f"Building or reusing the demo association under {args.cache} …", flush=True)
    with database.fresh_copy() as engine, clock.frozen(RUN_DAY):
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:  # commits, so the user stays loaded
            user = acting_user(session)
            members = list(
                workload.plan(session, args.reads, random.Random(f"{WORKLOAD_SEED}:bench"))
            )

        def one_pass(mode: str) -> tuple[float, float]:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            with MODES[mode]():
                for member_id in members:
                    # One read per unit of work, as a request would: its own session.
                    with read_only(factory) as session:
                        workload.step(session, user, member_id)
            return time.perf_counter() - wall, time.process_time() - cpu

        for mode in MODES:  # warm-up: compiled statements, page cache
            one_pass(mode)
        walls: dict[str, list[float]] = {mode: [] for mode in MODES}
        cpus: dict[str, list[float]] = {mode: [] for mode in MODES}
        names = list(MODES)
        for number in range(args.rounds):
            rotation = names[number % len(names) :] + names[: number % len(names)]
            for mode in rotation:
                wall, cpu = one_pass(mode)
                walls[mode].append(wall)
                cpus[mode].append(cpu)

    print(
        f"member payment history: {len(members)} reads per pass, {args.rounds} rounds, "
        "modes interleaved"
    )
    # CPU time is printed beside wall time: on a shared machine other processes stretch the
    # wall clock of whichever pass they land on, while the process's CPU time is its own work.
    print(f"{'mode':<14} {'wall':>10} {'ratio':>7} {'CPU':>10} {'ratio':>7} {'wall/read':>10}")
    wall_base, cpu_base = statistics.median(walls["off"]), statistics.median(cpus["off"])
    for mode in MODES:
        wall, cpu = statistics.median(walls[mode]), statistics.median(cpus[mode])
        print(
            f"{mode:<14} {wall * 1000:>7.1f} ms {wall / wall_base:>7.3f} "
            f"{cpu * 1000:>7.1f} ms {cpu / cpu_base:>7.3f} {wall / len(members) * 1e6:>7.0f} µs"
        )
    # The goal is for the capture every request pays (the Server-Timing header); the detailed
    # capture of tests and the profiler is reported beside it.
    for mode in ("server-timing", "capture"):
        for clock_name, base, values in (
            ("wall", wall_base, walls[mode]),
            ("CPU", cpu_base, cpus[mode]),
        ):
            overhead = statistics.median(values) / base - 1
            verdict = "meets" if overhead <= GOAL else "misses"
            print(
                f"{mode} overhead ({clock_name}): {overhead:+.1%} "
                f"({verdict} the goal of at most {GOAL:.0%})"
            )


if __name__ == "__main__":
    main()

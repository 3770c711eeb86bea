"""What finding a request's route costs: the app's routers by traffic against the order they were
included in before (alphabetical, the payment history's router ninth).

    .venv/bin/python bench/routing.py [--rounds 7] [--walks 2000]

FastAPI's router asks every route in turn whether it takes the request, stepping into each
included router's routes, until one does; this times that walk (``route.matches`` over the
app's routes, as ``starlette.routing.Router`` does it) for the portal's reads and a few other
paths, on the app as :func:`verenigingen.web.app.create_app` builds it and on the same app with
its API routers put back in their earlier order. Both in this process, rounds interleaved;
medians of the rounds, each the mean of ``--walks`` walks. Then the portal mix's mean per
request, weighted as the load test's portal mix (bench/load/locustfile.py) weighs its requests.

Leaves out: the second match inside the router that answers (FastAPI matches again within it),
the same for both orders, and everything else a request pays.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from starlette.routing import Match

from verenigingen.app_context import AppContext
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.web.api import dues, invoices, jobs, members, memberships, notifications, payments
from verenigingen.web.api import history as history_api
from verenigingen.web.api import indexes as index_api
from verenigingen.web.app import create_app

EARLIER_ORDER = (
    members,
    memberships,
    invoices,
    payments,
    dues,
    jobs,
    notifications,
    index_api,
    history_api,
)
"""The API routers as they were included before, in front of the others (which kept theirs)."""

PATHS = {
    "/api/v1/members/5/payment-history": 4,
    "/api/v1/invoices": 2,
    "/api/v1/members/5/financial-summary": 1,
    "/api/v1/notifications": 1,
    "/api/v1/members": 0,
    "/api/v1/payments": 0,
    "/desk/members": 0,
}
"""Each path and its weight in the portal mix (0: not in it)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--walks", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verenigingen-routing-") as data_dir:
        settings = Settings(data_dir=data_dir)
        engine = make_engine(settings.resolved_database_url())
        upgrade(engine)  # the app reads its installation's id when it is built
        engine.dispose()
        context = AppContext.build(settings)
        by_traffic = list(create_app(context).router.routes)
        earlier = _in_earlier_order(by_traffic)
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for label, routes in (("by traffic", by_traffic), ("earlier", earlier)):
                for path in PATHS:
                    samples.setdefault((label, path), []).append(_walk(routes, path, args.walks))
        context.close()
    print(f"The walk to a request's route, µs (median of {args.rounds} rounds of {args.walks})")
    print(f"  {'path':<40} {'earlier':>9} {'by traffic':>11}")
    medians = {key: statistics.median(values) for key, values in samples.items()}
    for path in PATHS:
        print(f"  {path:<40} {medians['earlier', path]:9.1f} {medians['by traffic', path]:11.1f}")
    weights = sum(PATHS.values())
    for label in ("earlier", "by traffic"):
        mean = sum(medians[label, path] * weight for path, weight in PATHS.items()) / weights
        print(f"  portal mix, mean per request, {label}: {mean:.1f} µs")


def _in_earlier_order(routes: list[Any]) -> list[Any]:
    """``routes`` with the routers of :data:`EARLIER_ORDER` in that order, in their places."""
    rank = {id(module.router): index for index, module in enumerate(EARLIER_ORDER)}
    places = [index for index, route in enumerate(routes) if _router_id(route) in rank]
    moved = sorted((routes[index] for index in places), key=lambda route: rank[_router_id(route)])
    reordered = list(routes)
    for place, route in zip(places, moved, strict=True):
        reordered[place] = route
    return reordered


def _router_id(route: Any) -> int:
    """The identity of the router an included router's entry stands for (0 for a route)."""
    return id(getattr(route, "original_router", None) or 0)


def _walk(routes: list[Any], path: str, walks: int) -> float:
    """Mean µs of finding ``path``'s route among ``routes``; fails when none takes it."""
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
    started = time.perf_counter()
    for _ in range(walks):
        for route in routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                break
        else:
            raise AssertionError(f"no route takes {path}")
    return (time.perf_counter() - started) / walks * 1e6


if __name__ == "__main__":
    main()

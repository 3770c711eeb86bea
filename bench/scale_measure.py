"""What a request pays on the scale database: the app called over ASGI (no socket) in a process
of its own, as an Administrator who sees the ``Server-Timing`` header; each figure is the server
time (database + app) and its database part.

    .venv/bin/python bench/scale_measure.py --database-url URL --redis URL --namespace NS \
        --token TOKEN --email EMAIL --password PASSWORD [--samples 100] [--requests 20]

``bench/scale.py`` runs it after its load and reads the figures it prints (JSON, one object).
A fresh process, as an API process is: the loader's process has generated millions of rows in
Python and still holds many of them, which makes every garbage collection of a request made in
it dearer, a cost of the bench and not of the request.

- payment history of members drawn at random: *cold* is a member's first read (the cache has
  no entry; the database pages may or may not be in memory), *warm* its second (served from
  the cache after one version check); p50 and p99 over the sample;
- every list of the API that grows with the association, its first page and a deep page (the
  cursor of the row halfway down the list, made from that row's key, so the walk there is not
  timed); medians;
- the desk's member search (``/desk/members?q=``, an HTML page, signed in as a treasurer would
  be) by a last name, a member id, an email and an IBAN's last four digits; medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from verenigingen.app_context import AppContext
from verenigingen.billing.models import Invoice, Payment
from verenigingen.billing.queries import INVOICE_ORDER, PAYMENT_ORDER
from verenigingen.config import Settings
from verenigingen.db.paging import Keyset
from verenigingen.jobs.models import Job
from verenigingen.jobs.queries import JOB_ORDER
from verenigingen.members.models import Member, Membership
from verenigingen.members.queries import MEMBER_ORDER, MEMBERSHIP_ORDER
from verenigingen.startup import load_all
from verenigingen.web.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class Timing:
    """Server milliseconds of one figure: p50 and p99 of the whole, median of the database."""

    p50: float
    p99: float
    db: float
    requests: int

    @classmethod
    def of(cls, samples: list[tuple[float, float]]) -> Timing:
        totals = sorted(total for total, _ in samples)
        p99 = totals[min(len(totals) - 1, round(0.99 * (len(totals) - 1)))]
        return cls(
            round(statistics.median(totals), 3),
            round(p99, 3),
            round(statistics.median(db for _, db in samples), 3),
            len(samples),
        )


@dataclass(frozen=True)
class ListCase:
    path: str
    keyset: Keyset
    rows: Select[Any]
    """The list's rows in its order (the same as the API's, for staff), for the deep cursor."""


LISTS = (
    ListCase("/api/v1/members", MEMBER_ORDER, select(Member)),
    ListCase("/api/v1/memberships", MEMBERSHIP_ORDER, select(Membership)),
    ListCase("/api/v1/invoices", INVOICE_ORDER, select(Invoice)),
    ListCase("/api/v1/payments", PAYMENT_ORDER, select(Payment)),
    ListCase("/api/v1/jobs", JOB_ORDER, select(Job)),
)
SMALL_LISTS = ("/api/v1/notifications", "/api/v1/sepa/batches", "/api/v1/bank/statements")
"""Lists that the load leaves (nearly) empty: their first page is measured, not a deep one."""


def server_ms(response: httpx.Response) -> tuple[float, float]:
    """The request's server time and its database part (the ``Server-Timing`` header)."""
    assert response.status_code == 200, (response.status_code, response.text[:300])
    parts = {
        part.strip().split(";")[0]: float(part.split("dur=")[1].split(";")[0])
        for part in response.headers["server-timing"].split(",")
    }
    return sum(parts.values()), parts.get("db", 0.0)


def measure_requests(
    context: AppContext,
    token: str,
    credentials: tuple[str, str],
    *,
    samples: int,
    requests: int,
    seed: int = 5,
) -> dict[str, Timing]:
    return asyncio.run(_measure(context, token, credentials, samples, requests, seed))


async def _measure(
    context: AppContext,
    token: str,
    credentials: tuple[str, str],
    samples: int,
    requests: int,
    seed: int,
) -> dict[str, Timing]:
    app = create_app(context)
    transport = httpx.ASGITransport(app=app)
    figures: dict[str, Timing] = {}
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://bench",
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        with context.read_sessions() as session:
            member_ids = _members_at_random(session, samples, seed)
            deep = {case.path: _cursor_halfway(session, case) for case in LISTS}
            search = _search_texts(session, seed)
        figures.update(await _history(api, member_ids))
        for case in LISTS:
            figures[f"{case.path} first page"] = await _repeat(api, case.path, {}, requests)
            cursor = deep[case.path]
            if cursor is not None:
                figures[f"{case.path} deep page"] = await _repeat(
                    api, case.path, {"after": cursor}, requests
                )
        for path in SMALL_LISTS:
            figures[f"{path} first page"] = await _repeat(api, path, {}, requests)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers={"accept": "text/html"}
    ) as desk:
        await _sign_in(desk, *credentials)
        for label, text in search.items():
            figures[f"search by {label}"] = await _repeat(
                desk, "/desk/members", {"q": text}, requests
            )
    return figures


def _members_at_random(session: Session, samples: int, seed: int) -> list[int]:
    last = session.scalar(select(Member.id).order_by(Member.id.desc()).limit(1)) or 0
    return random.Random(seed).sample(range(1, last + 1), min(samples, last))


def _cursor_halfway(session: Session, case: ListCase) -> str | None:
    """The cursor a client holds after walking to the middle of the list (None if short)."""
    columns = [getattr(column.class_, column.key) for column in case.keyset.columns]
    order = [column.desc() for column in columns] if case.keyset.descending else columns
    total = session.scalar(select(func.count()).select_from(case.rows.subquery())) or 0
    if total < 200:
        return None
    row = session.execute(select(*columns).order_by(*order).offset(total // 2).limit(1)).one()
    return case.keyset.encode(list(row))


def _search_texts(session: Session, seed: int) -> dict[str, str]:
    """What a treasurer types: a last name, a member id, an email, an IBAN's last four."""
    last = session.scalar(select(Member.id).order_by(Member.id.desc()).limit(1)) or 1
    pick = random.Random(seed + 1).randrange(1, last + 1)
    member = session.get_one(Member, pick)
    with_iban = session.scalar(
        select(Member).where(Member.iban.is_not(None), Member.id >= pick).order_by(Member.id)
    )
    texts = {
        "last name": member.last_name,
        "member id": member.member_id,
        "email": member.email,
    }
    if with_iban is not None and with_iban.iban:
        texts["IBAN's last four"] = with_iban.iban[-4:]
    return texts


async def _history(api: httpx.AsyncClient, member_ids: list[int]) -> dict[str, Timing]:
    cold: list[tuple[float, float]] = []
    warm: list[tuple[float, float]] = []
    for member_id in member_ids:
        path = f"/api/v1/members/{member_id}/payment-history"
        cold.append(server_ms(await api.get(path)))
        warm.append(server_ms(await api.get(path)))
    return {"payment history, cold": Timing.of(cold), "payment history, warm": Timing.of(warm)}


async def _repeat(
    client: httpx.AsyncClient, path: str, params: dict[str, str], requests: int, warm: int = 3
) -> Timing:
    for _ in range(warm):  # warm the statement caches and the pages
        server_ms(await client.get(path, params=params))
    return Timing.of([server_ms(await client.get(path, params=params)) for _ in range(requests)])


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> None:
    form = CSRF.search((await client.get("/sign-in")).text)
    assert form is not None, "no sign-in form"
    signed_in = await client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": form.group(1)}
    )
    assert signed_in.status_code == 303, (signed_in.status_code, signed_in.text[:300])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis", required=True, help="the cache's and the jobs' Redis")
    parser.add_argument("--namespace", required=True, help="the run's jobs namespace")
    parser.add_argument("--token", required=True, help="an Administrator's API token")
    parser.add_argument("--email", required=True, help="the Administrator's, for the desk")
    parser.add_argument("--password", required=True)
    parser.add_argument("--samples", type=int, default=100, help="members whose history is read")
    parser.add_argument("--requests", type=int, default=20, help="requests per list figure")
    args = parser.parse_args()
    settings = Settings(
        database_url=args.database_url, redis_url=args.redis, jobs_namespace=args.namespace
    )
    load_all(settings)
    context = AppContext.build(settings)
    try:
        timings = measure_requests(
            context,
            args.token,
            (args.email, args.password),
            samples=args.samples,
            requests=args.requests,
        )
    finally:
        context.close()
    print(json.dumps({name: asdict(timing) for name, timing in timings.items()}))


if __name__ == "__main__":
    main()

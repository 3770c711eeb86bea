"""The measured runs: the same requests sent to both sides, interleaved, in one process.

Every figure is read from the ``Server-Timing`` header of the response (the server's time, its
database time and its statement count, measured by the app's own capture), so a figure is what a
request pays inside the server: routing, dependencies, the database, the response. The ASGI app
is called in process; the socket and uvicorn's HTTP parsing are left out (the memory run in
:mod:`verenigingen.perf.validation.memory` is the one over a real socket).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, select

from verenigingen.billing.models import DocStatus, Invoice, ModeOfPayment
from verenigingen.db.session import make_session_factory
from verenigingen.history.service import NAMESPACE
from verenigingen.members.models import Member, MemberStatus
from verenigingen.perf.validation.association import Side, SideName, Timed
from verenigingen.perf.workloads.history import PAYMENT_SHARE, ZIPF_EXPONENT

SEED = 20261203
HIT_RATE_POINTS = 20
"""How many points the hit-rate-over-time series has."""


class RequestFailed(RuntimeError):
    """A request of a measured run was not answered as it must be: the run's figures would lie."""


@dataclass(frozen=True)
class OpenInvoice:
    customer_id: int
    invoice_id: int
    outstanding: Decimal


@dataclass(frozen=True)
class Inputs:
    """What the runs act on, chosen once from the association (both sides hold the same)."""

    members: list[int]
    """Active members with a paying customer, the portal's population."""
    invoices: list[OpenInvoice]
    """Open submitted invoices, oldest first; each run takes its own from the front."""

    def take(self, count: int) -> list[OpenInvoice]:
        taken, self.invoices[:] = self.invoices[:count], self.invoices[count:]
        return taken


def choose_inputs(engine: Engine) -> Inputs:
    with make_session_factory(engine)() as session:
        members = list(
            session.scalars(
                select(Member.id)
                .where(Member.status == MemberStatus.ACTIVE, Member.customer_id.is_not(None))
                .order_by(Member.id)
            )
        )
        invoices = [
            OpenInvoice(row.customer_id, row.id, row.outstanding_amount)
            for row in session.execute(
                select(Invoice.customer_id, Invoice.id, Invoice.outstanding_amount)
                .where(
                    Invoice.docstatus == DocStatus.SUBMITTED,
                    Invoice.is_return.is_(False),
                    Invoice.outstanding_amount > 0,
                )
                .order_by(Invoice.id)
            )
        ]
    random.Random(SEED).shuffle(invoices)
    return Inputs(members, invoices)


def payment_body(invoice: OpenInvoice) -> dict[str, object]:
    """A treasurer's POST: a direct-debit payment settling ``invoice``, submitted at once."""
    amount = str(invoice.outstanding)
    return {
        "customer_id": invoice.customer_id,
        "paid_amount": amount,
        "mode_of_payment": ModeOfPayment.SEPA_DIRECT_DEBIT.value,
        "allocations": [{"invoice_id": invoice.invoice_id, "allocated_amount": amount}],
        "submit": True,
    }


def expect(timed: Timed, status: int, what: str) -> Timed:
    if timed.status != status:
        raise RequestFailed(f"{what}: HTTP {timed.status}, expected {status}: {timed.body}")
    return timed


@dataclass
class SideFigures:
    """Per side, per kind of operation: the server time and statements of each request."""

    server_ms: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, list[int]] = field(default_factory=dict)

    def add(self, kind: str, timed: Timed) -> None:
        self.server_ms.setdefault(kind, []).append(timed.server_ms)
        self.statements.setdefault(kind, []).append(timed.statements)

    def median_ms(self, kind: str) -> float:
        return statistics.median(self.server_ms[kind])

    def statements_per_request(self, kind: str) -> float:
        counts = self.statements[kind]
        return sum(counts) / len(counts)


@dataclass
class Figures:
    sides: dict[SideName, SideFigures] = field(
        default_factory=lambda: {"off": SideFigures(), "on": SideFigures()}
    )
    hit_rate_series: list[tuple[int, float]] = field(default_factory=list)
    """(portal units done, cumulative hit rate of the ``on`` side) as the portal run went."""
    history_hits: int = 0
    history_lookups: int = 0


def _interleaved(sides: Sequence[Side], index: int) -> list[Side]:
    # Turn the order every time, so neither side always follows the other.
    return list(sides) if index % 2 == 0 else list(reversed(sides))


def payment_run(sides: Sequence[Side], invoices: Sequence[OpenInvoice], figures: Figures) -> None:
    """Each invoice paid by a treasurer's POST on both sides (the same invoice: the sides are
    copies), interleaved."""
    for index, invoice in enumerate(invoices):
        for side in _interleaved(sides, index):
            timed = side.call("POST", "/api/v1/payments", json=payment_body(invoice))
            figures.sides[side.name].add("payment POST", expect(timed, 201, "payment POST"))


def portal_run(
    sides: Sequence[Side],
    members: Sequence[int],
    invoices: list[OpenInvoice],
    units: int,
    figures: Figures,
) -> None:
    """The mixed portal workload started cold: members drawn Zipf-skewed (a few look often, most
    rarely), one unit in ten a payment that changes a member's ledger; the same units on both
    sides, interleaved. The ``on`` side's cache starts empty and is not warmed."""
    rng = random.Random(SEED)
    popularity = list(members)
    rng.shuffle(popularity)
    weights = [1 / rank**ZIPF_EXPONENT for rank in range(1, len(popularity) + 1)]
    on = next(side for side in sides if side.name == "on")
    on.context.cache.clear()
    start = on.context.cache.stats().get(NAMESPACE)
    start_hits, start_lookups = (start.hits, start.lookups) if start else (0, 0)
    checkpoints = {
        max(round(units * k / HIT_RATE_POINTS), 1) for k in range(1, HIT_RATE_POINTS + 1)
    }
    for index in range(units):
        payment = invoices.pop() if rng.random() < PAYMENT_SHARE and invoices else None
        member = rng.choices(popularity, weights)[0]
        for side in _interleaved(sides, index):
            if payment is not None:
                timed = side.call("POST", "/api/v1/payments", json=payment_body(payment))
                figures.sides[side.name].add("portal payment", expect(timed, 201, "payment"))
            else:
                timed = side.call("GET", f"/api/v1/members/{member}/payment-history")
                figures.sides[side.name].add("history", expect(timed, 200, "history"))
        if index + 1 in checkpoints:
            now = on.context.cache.stats().get(NAMESPACE)
            hits = (now.hits if now else 0) - start_hits
            lookups = (now.lookups if now else 0) - start_lookups
            figures.hit_rate_series.append((index + 1, hits / lookups if lookups else 0.0))
            figures.history_hits, figures.history_lookups = hits, lookups


LIST_PATHS = (
    "/api/v1/invoices?customer_id={customer}",
    "/api/v1/payments?customer_id={customer}",
    "/api/v1/members/{member}/mandates",
    "/api/v1/members?limit=50",
)


def list_run(sides: Sequence[Side], engine: Engine, requests: int, figures: Figures) -> None:
    """The lists a treasurer opens: a member's invoices, payments and mandates, a page of
    members; the same requests on both sides, interleaved."""
    with make_session_factory(engine)() as session:
        pairs = session.execute(
            select(Member.id, Member.customer_id)
            .where(Member.customer_id.is_not(None))
            .order_by(Member.id)
        ).all()
    rng = random.Random(SEED + 1)
    for index in range(requests):
        member, customer = rng.choice(pairs)
        path = LIST_PATHS[index % len(LIST_PATHS)].format(member=member, customer=customer)
        for side in _interleaved(sides, index):
            figures.sides[side.name].add("lists", expect(side.call("GET", path), 200, path))

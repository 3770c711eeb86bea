"""Workloads over the member payment history: reads through the cache, and the portal mix.

Each run gets a cache of its own, made when its inputs are planned: the runs of a workload
(two association sizes, repeated timings) copy the same demo database, so ids and tag versions
repeat between them and a shared cache would serve one run's entries to the next.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.cache import NamespaceStats, VersionedCache
from verenigingen.cache.memory import MemoryBackend
from verenigingen.history.service import NAMESPACE, payment_history_text
from verenigingen.members.models import Member, MemberStatus
from verenigingen.perf.workloads.billing import OpenInvoice, _pay_invoice
from verenigingen.perf.workloads.database import acting_user
from verenigingen.perf.workloads.registry import Workload, register

PAYMENT_SHARE = 0.10
"""The portal mix: one unit in ten is a payment booked by the treasurer, the rest history reads."""
ZIPF_EXPONENT = 1.0
"""Portal visits are skewed: a few members look often, most rarely (payments are not skewed)."""


@dataclass
class PortalRun:
    """The cache of the latest mixed-portal run and its counters after the warm reads (read by
    ``bench/payment_history.py`` to print the hit rate of the run's units)."""

    cache: VersionedCache = field(default_factory=lambda: VersionedCache(MemoryBackend()))
    warm: NamespaceStats | None = None

    def hit_rate(self) -> tuple[int, int]:
        """(hits, lookups) since the warm-up."""
        now = self.cache.stats().get(NAMESPACE)
        if now is None:
            return 0, 0
        hits = now.hits - (self.warm.hits if self.warm else 0)
        lookups = now.lookups - (self.warm.lookups if self.warm else 0)
        return hits, lookups


@dataclass(frozen=True)
class HistoryRead:
    member_id: int
    cache: VersionedCache


@dataclass(frozen=True)
class PortalUnit:
    cache: VersionedCache
    read: int | None = None
    """The member whose history is read; None for a payment."""
    payment: OpenInvoice | None = None


LAST_PORTAL = PortalRun()


def _active_member_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Member.id)
            .where(Member.status == MemberStatus.ACTIVE, Member.customer_id.is_not(None))
            .order_by(Member.id)
        )
    )


def _history_reads(session: Session, n: int, rng: random.Random) -> Sequence[HistoryRead]:
    ids = _active_member_ids(session)
    cache = VersionedCache(MemoryBackend())
    return [HistoryRead(member_id, cache) for member_id in rng.sample(ids, min(n, len(ids)))]


def _read_history(session: Session, user: User, item: HistoryRead) -> int:
    # The API's path: permission, then the cache (cold here: each member is read once).
    return len(payment_history_text(session, user, item.member_id, cache=item.cache).text)


def _portal_units(session: Session, n: int, rng: random.Random) -> Sequence[PortalUnit]:
    global LAST_PORTAL
    members = _active_member_ids(session)
    open_invoices = [
        OpenInvoice(*row)
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
    rng.shuffle(open_invoices)
    run = PortalRun()
    weights = [1 / (rank**ZIPF_EXPONENT) for rank in range(1, len(members) + 1)]
    popularity = members[:]
    rng.shuffle(popularity)
    units: list[PortalUnit] = []
    for _ in range(n):
        if rng.random() < PAYMENT_SHARE and open_invoices:
            units.append(PortalUnit(run.cache, payment=open_invoices.pop()))
        else:
            units.append(PortalUnit(run.cache, read=rng.choices(popularity, weights)[0]))
    # The portal has been open for a while: every member's history was read once before the
    # measured part (not measured; the counters after it are kept to leave it out).
    user = acting_user(session)
    for member_id in members:
        payment_history_text(session, user, member_id, cache=run.cache)
    run.warm = run.cache.stats().get(NAMESPACE)
    LAST_PORTAL = run
    return units


def _portal_step(session: Session, user: User, unit: PortalUnit) -> None:
    if unit.payment is not None:
        _pay_invoice(session, user, unit.payment)
        return
    assert unit.read is not None
    payment_history_text(session, user, unit.read, cache=unit.cache)


MEMBER_PAYMENT_HISTORY = register(
    Workload(
        name="member_payment_history",
        description="50 cold reads of a member's payment history through the API's path: the "
        "three statements of history.queries (the member with the permission, the cache tags' "
        "versions, its mandates and summary; the page of invoices with their payments; the "
        "unallocated payments)",
        iterations=50,
        plan=_history_reads,
        step=_read_history,
    )
)
MIXED_PORTAL = register(
    Workload(
        name="mixed_portal",
        description="400 portal units over the association's members, after one warm read of "
        "each: 90 % history reads (Zipf-skewed members, through the cache) and 10 % payments "
        "booked against open invoices, which bump the tags of the members they pay for",
        iterations=400,
        plan=_portal_units,
        step=_portal_step,
    )
)

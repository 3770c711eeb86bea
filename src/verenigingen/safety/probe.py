"""Check 5, handler performance: the 95th percentile of a payment submit, measured by probes.

Why a probe and not ``/metrics``: the request latency histograms live in each API process's
memory, and the check runs in another process (the command line, a worker), which cannot read
them; a histogram's buckets also hide the percentile inside a bucket's width. So the check
submits payments itself, the way ``POST /api/v1/payments`` with ``submit`` does: for each of the
most recent open invoices (one per customer) it creates a payment of 0.01 allocated to it and
submits it, with the event subscribers and, when ``defer_heavy_handlers`` is off, the follow-up
work inline, then rolls the transaction back. Nothing is written (the payment, the outstanding
amount, the tag bumps and the follow-up jobs all roll back). What it measures is the service's
time on the current data and settings, without HTTP (parsing, the token check) and without the
commit; it is the handler's cost the plan's limit is about, comparable from run to run.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.billing.schemas import AllocationIn, PaymentCreate
from verenigingen.billing.service.payments import create_payment, submit_payment
from verenigingen.safety.checks import CheckResult

PROBE_AMOUNT = Decimal("0.01")


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95 for the 95th) of ``values``."""
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


def submit_performance(
    sessions: sessionmaker[Session], user_id: int, *, probes: int, p95_limit_ms: int
) -> CheckResult:
    """Up to ``probes`` payment submits timed in the name of the user ``user_id``, each in a
    transaction of its own that is rolled back; passes while their 95th percentile is at most
    ``p95_limit_ms``. Not critical: a slow submit alone is a reason to look, not to switch the
    optimizations off."""
    if probes == 0:
        return CheckResult(
            "handler performance", True, False, "skipped: safety_submit_probes is 0", {}
        )
    with sessions() as session:
        invoice_ids = _open_invoices(session, probes)
    durations: list[float] = []
    for invoice_id in invoice_ids:
        with sessions() as session:
            durations.append(_probe(session, session.get_one(User, user_id), invoice_id))
            session.rollback()
    if not durations:
        return CheckResult(
            "handler performance",
            True,
            False,
            "no open invoice to probe a payment submit on",
            {"probes": 0},
        )
    p95 = percentile(durations, 0.95)
    figures: dict[str, int | float | str | None] = {
        "probes": len(durations),
        "p95_ms": round(p95, 2),
        "median_ms": round(percentile(durations, 0.5), 2),
        "limit_ms": p95_limit_ms,
    }
    passed = p95 <= p95_limit_ms
    verdict = "within" if passed else "above"
    return CheckResult(
        "handler performance",
        passed,
        False,
        f"payment submit p95 {p95:.1f} ms over {len(durations)} probes, {verdict} the "
        f"{p95_limit_ms} ms limit",
        figures,
    )


def _open_invoices(session: Session, count: int) -> list[int]:
    """The newest submitted open invoice of each of the ``count`` customers billed last."""
    newest = (
        select(func.max(Invoice.id).label("id"))
        .where(
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.outstanding_amount >= PROBE_AMOUNT,
        )
        .group_by(Invoice.customer_id)
        .subquery()
    )
    return list(session.scalars(select(newest.c.id).order_by(newest.c.id.desc()).limit(count)))


def _probe(session: Session, user: User, invoice_id: int) -> float:
    """Milliseconds to create and submit a payment of 0.01 on the invoice; the caller rolls
    back."""
    invoice = session.get_one(Invoice, invoice_id)
    started = time.perf_counter()
    payment = create_payment(
        session,
        user,
        PaymentCreate(
            customer_id=invoice.customer_id,
            paid_amount=PROBE_AMOUNT,
            allocations=[AllocationIn(invoice_id=invoice_id, allocated_amount=PROBE_AMOUNT)],
        ),
    )
    submit_payment(session, user, payment.id)
    return (time.perf_counter() - started) * 1000

"""/api/v1/members/{id}/payment-history and /financial-summary: roles, bad input, the cache."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.app_context import context_of
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.billing.schemas import InvoiceCreate, InvoiceLineIn
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.cache import VersionedCache
from verenigingen.cache.models import CacheTag
from verenigingen.history.queries import encode_cursor
from verenigingen.members.models import Customer, Member

pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def cache(session: Session) -> VersionedCache:
    # Ids and tag versions repeat between rolled-back tests: each test's context has its own.
    return context_of(session).cache


def url(member_id: int, what: str = "payment-history") -> str:
    return f"/api/v1/members/{member_id}/{what}"


def family(session: Session, user: User | None = None) -> tuple[Customer, Member]:
    tag = uuid.uuid4().hex[:8]
    customer = Customer(debtor_number=f"DEB-{tag}", name="Familie Bakker")
    session.add(customer)
    session.flush()
    member = Member(
        member_id=f"Assoc-Member-2026-01-{tag}",
        first_name="Els",
        last_name="Bakker",
        email=f"{tag}@example.org",
        customer_id=customer.id,
        user_id=user.id if user else None,
    )
    session.add(member)
    session.flush()
    return customer, member


def invoice(session: Session, admin: User, customer: Customer, amount: str) -> Invoice:
    draft = create_invoice(
        session,
        admin,
        InvoiceCreate(
            customer_id=customer.id,
            posting_date=dt.date(2026, 2, 25),
            lines=[InvoiceLineIn(description="Contributie", rate=Decimal(amount))],
        ),
    )
    return submit_invoice(session, admin, draft.id)


def test_treasurer_reads_the_history_and_a_payment_shows_on_the_next_read(
    session: Session, api: Any, admin: User, cache: VersionedCache
) -> None:
    customer, member = family(session)
    first = invoice(session, admin, customer, "30.00")
    client = api(Role.TREASURER)
    body = client.get(url(member.id)).json()
    assert [(i["number"], i["outstanding_amount"], i["status"]) for i in body["invoices"]] == [
        (first.number, "30.00", "Unpaid")
    ]
    assert body["summary"] == {
        "invoices": 1,
        "total": "30.00",
        "outstanding": "30.00",
        "active_mandates": 0,
    }
    assert client.get(url(member.id)).json() == body  # from the cache
    created = client.post(
        "/api/v1/payments",
        json={
            "customer_id": customer.id,
            "paid_amount": "30.00",
            "allocations": [{"invoice_id": first.id, "allocated_amount": "30.00"}],
        },
    ).json()
    assert client.post(f"/api/v1/payments/{created['id']}/submit").status_code == 200
    after = client.get(url(member.id)).json()
    assert [
        (i["outstanding_amount"], i["paid_amount"], i["status"]) for i in after["invoices"]
    ] == [("0.00", "30.00", "Paid")]
    stats = cache.stats()["history"]
    assert (stats.hits, stats.misses) == (1, 2)  # cold, hit, invalidated by the payment


def test_member_reads_its_own_and_gets_403_for_another(
    session: Session, api: Any, admin: User
) -> None:
    user = create_user(session, f"lid-{uuid.uuid4().hex[:6]}@example.org", Role.MEMBER)
    _, own = family(session, user)
    _, other = family(session)
    client = api(user)
    assert client.get(url(own.id)).status_code == 200
    assert client.get(url(own.id, "financial-summary")).status_code == 200
    for path in (url(other.id), url(other.id, "financial-summary"), url(999999)):
        response = client.get(path)
        assert response.status_code == 403
        assert response.json()["error"] == "not_own_record"


@pytest.mark.parametrize("what", ["payment-history", "financial-summary"])
def test_unknown_member_is_404(api: Any, what: str) -> None:
    response = api(Role.TREASURER).get(url(987654, what))
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no member with id 987654"}


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=abc", "before=%21%21", "before=WyJ4IiwxXQ"]
)
def test_bad_limit_or_cursor_is_422_and_writes_nothing(
    session: Session, api: Any, query: str
) -> None:
    _, member = family(session)
    client = api(Role.TREASURER)
    tags = session.scalar(select(func.count()).select_from(CacheTag))
    response = client.get(f"{url(member.id)}?{query}")
    assert response.status_code == 422
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CacheTag)) == tags


def test_cursor_pages_over_http(session: Session, api: Any, admin: User) -> None:
    customer, member = family(session)
    numbers = [invoice(session, admin, customer, "10.00").number for _ in range(3)]
    client = api(Role.TREASURER)
    page = client.get(f"{url(member.id)}?limit=2").json()
    assert [i["number"] for i in page["invoices"]] == numbers[::-1][:2]
    rest = client.get(f"{url(member.id)}?limit=2&before={page['next_cursor']}").json()
    assert [i["number"] for i in rest["invoices"]] == numbers[:1]
    assert rest["next_cursor"] is None
    assert encode_cursor(dt.date(2026, 2, 25), 1)  # cursors are opaque base64 text


def test_financial_summary_before_and_after_the_job(
    session: Session, api: Any, admin: User, tmp_path: Any
) -> None:

    from verenigingen.config import Settings
    from verenigingen.history.tasks import APPLY_SUMMARY_DELTA
    from verenigingen.jobs.models import Job
    from verenigingen.jobs.worker import Runtime, run_job

    customer, member = family(session)
    invoice(session, admin, customer, "45.00")
    client = api(Role.TREASURER)
    before = client.get(url(member.id, "financial-summary")).json()
    # No job has run: the figures come from the ledger, version 0.
    assert (before["version"], before["outstanding"], before["payment_status"]) == (
        0,
        "45.00",
        "Unpaid",
    )
    runtime = Runtime(savepoint_sessions(session), Settings(data_dir=tmp_path), "t:1")
    queued = session.execute(
        select(Job.id, Job.name).where(Job.status == "Queued").order_by(Job.id)
    ).all()
    # The summary's refresh; the analytics follow the invoice in its own transaction (a delta).
    assert [job.name for job in queued] == [APPLY_SUMMARY_DELTA]
    assert [run_job(runtime, job.id) for job in queued] == ["completed"]
    after = client.get(url(member.id, "financial-summary")).json()
    assert (after["version"], after["invoice_count"], after["total_invoiced"]) == (1, 1, "45.00")
    assert (after["outstanding"], after["payment_status"]) == ("45.00", "Unpaid")

"""The cached history on each engine: a hit is one statement (the member, its permission and its
tags' versions read together), a cold read three (the read model's, whose first reads them too),
a stale entry four, and a bump of either tag is never answered from the old entry."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from billing_factories import LedgerFactory
from history_factories import bulk_ledger
from sqlalchemy import update
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.cache import VersionedCache, bump_tags
from verenigingen.cache.memory import MemoryBackend
from verenigingen.errors import NotFound, PermissionDenied
from verenigingen.history.service import payment_history_text
from verenigingen.perf.capture import capture
from verenigingen.settings.service import set_setting


@pytest.fixture
def reader(any_session: Session) -> Iterator[Session]:
    """A request's session beside the test's: same transaction, but it has written nothing, so
    its fills are stored (a session that wrote computes for itself only)."""
    session = Session(
        bind=any_session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    yield session
    session.close()


def _outstanding(text: str) -> list[str]:
    return [invoice["outstanding_amount"] for invoice in json.loads(text)["invoices"]]


def test_hit_is_one_statement_and_a_bump_of_either_tag_recomputes(
    any_session: Session, reader: Session
) -> None:
    treasurer = create_user(any_session, "penningmeester.cache@example.org", Role.TREASURER)
    ledger = LedgerFactory(any_session, treasurer)
    customer = ledger.customer()
    member = ledger.member(customer)
    bulk_ledger(any_session, customer, member.id, 3, dt.date(2026, 1, 1))
    cache = VersionedCache(MemoryBackend())

    def read() -> tuple[str, int]:
        with capture() as log:
            text = payment_history_text(reader, treasurer, member.id, cache=cache).text
        return text, log.count

    first, statements = read()
    assert statements == 3  # cold: the read model's first statement reads permission and versions
    assert _outstanding(first) == ["0.00", "25.00", "0.00"]
    assert read() == (first, 1)

    # The money changes and the writer bumps the customer's tag, in its transaction: the next
    # read must see the version the statement built from the member's customer id.
    any_session.execute(
        update(Invoice).where(Invoice.customer_id == customer.id).values(outstanding_amount=0)
    )
    bump_tags(any_session, [f"customer:{customer.id}"])
    settled, statements = read()
    assert statements == 4  # the entry is judged (member, permission, versions), then recomputed
    assert _outstanding(settled) == ["0.00", "0.00", "0.00"]
    assert read() == (settled, 1)

    bump_tags(any_session, [f"member:{member.id}"])
    assert read()[1] == 4
    stats = cache.stats()["history"]
    assert (stats.hits, stats.cold, stats.invalidated) == (2, 1, 2)


def test_a_member_without_customer_is_cached_under_its_own_tag(
    any_session: Session, reader: Session
) -> None:
    treasurer = create_user(any_session, "penningmeester.solo@example.org", Role.TREASURER)
    member = LedgerFactory(any_session, treasurer).member(None)
    cache = VersionedCache(MemoryBackend())
    body = json.loads(payment_history_text(reader, treasurer, member.id, cache=cache).text)
    assert (body["customer_id"], body["invoices"], body["summary"]["total"]) == (None, [], "0.00")
    with capture() as log:
        payment_history_text(reader, treasurer, member.id, cache=cache)
    assert log.count == 1
    bump_tags(any_session, [f"member:{member.id}"])
    with capture() as log:
        payment_history_text(reader, treasurer, member.id, cache=cache)
    assert log.count == 2  # the versions, then the read model's statement


def test_permission_is_decided_by_the_same_statement(
    session: Session, ledger: LedgerFactory
) -> None:
    portal = create_user(session, "lid.eigen@example.org", Role.MEMBER)
    own = ledger.member(ledger.customer(), user=portal)
    other = ledger.member(ledger.customer())
    cache = VersionedCache(MemoryBackend())
    body = json.loads(payment_history_text(session, portal, own.id, cache=cache).text)
    assert body["member_id"] == own.id
    for member_id in (other.id, 987654):  # someone else's, or nobody's: both 403 for a Member
        with pytest.raises(PermissionDenied):
            payment_history_text(session, portal, member_id, cache=cache)
    with pytest.raises(NotFound, match="no member with id 987654"):
        payment_history_text(session, ledger.user, 987654, cache=cache)
    # Refused lookups are not counted.
    stats = cache.stats()["history"]
    assert (stats.cold, stats.hits) == (1, 0)


def test_a_cached_history_is_refused_to_another_member(
    session: Session, ledger: LedgerFactory
) -> None:
    portal = create_user(session, "lid.ander@example.org", Role.MEMBER)
    ledger.member(ledger.customer(), user=portal)
    other = ledger.member(ledger.customer())
    cache = VersionedCache(MemoryBackend())
    reader = Session(bind=session.connection(), join_transaction_mode="create_savepoint")
    payment_history_text(reader, ledger.user, other.id, cache=cache)  # the treasurer fills it
    with capture() as log, pytest.raises(PermissionDenied):
        payment_history_text(reader, portal, other.id, cache=cache)
    assert log.count == 1  # the entry's permission and versions: refused before it is served
    reader.close()
    stats = cache.stats()["history"]
    assert (stats.cold, stats.hits) == (1, 0)


def test_a_refused_cold_read_costs_the_first_statement_only(
    session: Session, ledger: LedgerFactory
) -> None:
    portal = create_user(session, "lid.koud@example.org", Role.MEMBER)
    ledger.member(ledger.customer(), user=portal)
    customer = ledger.customer()
    other = ledger.member(customer)
    ledger.invoice(customer, "25.00")
    session.flush()
    with capture() as log, pytest.raises(PermissionDenied):
        payment_history_text(session, portal, other.id, cache=VersionedCache(MemoryBackend()))
    assert log.count == 1  # the member's statement: neither the page nor the payments are read


@pytest.mark.parametrize(("paid", "minutes"), [("0.00", 30), ("30.00", 60)])
def test_the_time_to_live_follows_the_money(
    session: Session, ledger: LedgerFactory, paid: str, minutes: int
) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = ledger.invoice(customer, "30.00", member=member)
    if paid != "0.00":
        ledger.payment(customer, paid, [(invoice, paid)])
    now = [1000.0]
    cache = VersionedCache(MemoryBackend(), clock=lambda: now[0])
    payment_history_text(session, ledger.user, member.id, cache=cache)  # filled at 1000
    # The session wrote (the ledger), so it computes for itself; a reader beside it stores.
    reader = Session(bind=session.connection(), join_transaction_mode="create_savepoint")
    payment_history_text(reader, ledger.user, member.id, cache=cache)
    now[0] += minutes * 60 - 1
    payment_history_text(reader, ledger.user, member.id, cache=cache)
    now[0] += 2
    payment_history_text(reader, ledger.user, member.id, cache=cache)
    reader.close()
    stats = cache.stats()["history"]
    assert (stats.cold, stats.hits, stats.expired) == (2, 1, 1)


def test_the_redis_backend_serves_the_stored_text_as_it_was_written(
    session: Session, ledger: LedgerFactory, redis_url: str
) -> None:
    from verenigingen.cache.redis_backend import RedisBackend

    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = ledger.invoice(customer, "30.00", member=member)
    ledger.payment(customer, "10.00", [(invoice, "10.00")])
    cache = VersionedCache(RedisBackend(redis_url, prefix=f"hist-{uuid.uuid4().hex[:8]}"))
    reader = Session(bind=session.connection(), join_transaction_mode="create_savepoint")
    try:
        filled = payment_history_text(reader, ledger.user, member.id, cache=cache)
        with capture() as log:
            hit = payment_history_text(reader, ledger.user, member.id, cache=cache)
        assert log.count == 1
        # The same text and amount outstanding, read back from Redis (a new object each time).
        assert (hit.text, hit.outstanding) == (filled.text, filled.outstanding)
        assert hit.outstanding == Decimal("20.00")
        assert json.loads(hit.text)["invoices"][0]["paid_amount"] == "10.00"
        stats = cache.stats()["history"]
        assert (stats.cold, stats.hits) == (1, 1)
    finally:
        reader.close()
        cache.clear()


def test_with_the_cache_switched_off_every_read_is_cold_and_nothing_is_stored(
    session: Session, ledger: LedgerFactory, admin: User, cache: VersionedCache
) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    ledger.invoice(customer, "30.00")
    set_setting(session, admin, "payment_history_cache", False)
    for _ in range(2):
        with capture() as log:
            text = payment_history_text(session, admin, member.id, cache=cache)
        assert log.count == 3
        assert json.loads(text.text)["summary"]["outstanding"] == "30.00"
    assert cache.stats() == {}  # no lookup at all, so none counted
    set_setting(session, admin, "payment_history_cache", True)
    payment_history_text(session, admin, member.id, cache=cache)
    assert cache.stats()["history"].lookups == 1

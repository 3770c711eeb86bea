"""The history read model's types and statements: named row shapes, money as ``Decimal`` from the
database to the JSON text on every engine, and a cache that never serves a history read across
a ledger write that committed between its statements."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from billing_factories import LedgerFactory
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import Invoice
from verenigingen.cache import VersionedCache, current_versions
from verenigingen.cache.memory import MemoryBackend
from verenigingen.history.queries import dumps, history_document
from verenigingen.history.service import NAMESPACE, history_tags, payment_history_text
from verenigingen.history.statement import NamedStatement
from verenigingen.jobs.engine import JobEngine
from verenigingen.members.models import Customer, Member
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate


def _values(document: Any) -> Iterator[Any]:
    """Every leaf value of a history document."""
    if isinstance(document, dict):
        for value in document.values():
            yield from _values(value)
    elif isinstance(document, list):
        for value in document:
            yield from _values(value)
    else:
        yield document


def test_amounts_are_decimals_and_days_dates_on_every_engine(any_session: Session) -> None:
    session = any_session
    ledger = LedgerFactory(session, create_user(session, "kas@example.org", Role.TREASURER))
    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = ledger.invoice(customer, "30.35", member=member, posting_date=dt.date(2026, 1, 5))
    ledger.invoice(customer, "25.00", member=member, posting_date=dt.date(2026, 2, 5))
    ledger.payment(customer, "40.10", [(invoice, "30.35")], posting_date=dt.date(2026, 1, 9))
    create_mandate(
        session,
        ledger.user,
        member.id,
        MandateCreate(
            mandate_reference="M-TYPES", iban="NL91ABNA0417164300", sign_date=dt.date(2025, 1, 1)
        ),
    )

    history = history_document(session, member.id)

    values = list(_values(history))
    assert not [value for value in values if isinstance(value, float)]
    amounts = [value for value in values if isinstance(value, Decimal)]
    # Two invoices (grand total, outstanding, paid), one allocation, one unallocated payment
    # (paid, unallocated), the summary (total, outstanding): each with its two decimals.
    assert len(amounts) == 11
    assert {amount.as_tuple().exponent for amount in amounts} == {-2}
    paid = history["invoices"][1]
    assert (paid["grand_total"], paid["paid_amount"], paid["outstanding_amount"]) == (
        Decimal("30.35"),
        Decimal("30.35"),
        Decimal("0.00"),
    )
    assert history["unallocated_payments"][0]["unallocated_amount"] == Decimal("9.75")
    assert history["summary"]["total"] == Decimal("55.35")
    assert all(type(history["invoices"][0][day]) is dt.date for day in ("posting_date", "due_date"))
    assert type(history["active_mandates"][0]["sign_date"]) is dt.date
    body = json.loads(dumps(history))
    assert (body["summary"]["total"], body["invoices"][1]["paid_amount"]) == ("55.35", "30.35")


def test_a_statement_must_select_its_shapes_fields_in_order() -> None:
    class Pair(NamedTuple):
        first: int
        second: int

    with pytest.raises(TypeError, match="Pair: the statement selects"):
        NamedStatement(Pair, select(Member.id.label("second"), Member.id.label("first")))


class _Ledger(NamedTuple):
    treasurer: User
    member_id: int
    customer_id: int
    invoice_id: int


def _committed_ledger(engine: Engine) -> _Ledger:
    """A member whose customer has one unpaid invoice of 30.00, committed."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tag = uuid.uuid4().hex[:8]
        treasurer = create_user(session, f"kas.{tag}@example.org", Role.TREASURER)
        customer = Customer(debtor_number=f"D-{tag}", name="Familie Tussendoor")
        session.add(customer)
        session.flush()
        member = Member(
            member_id=f"M-{tag}",
            first_name="Jan",
            last_name="Tussendoor",
            email=f"{tag}@example.org",
            customer_id=customer.id,
        )
        session.add(member)
        session.flush()
        invoice = LedgerFactory(session, treasurer).invoice(customer, "30.00", member=member)
        return _Ledger(treasurer, member.id, customer.id, invoice.id)


def _pay_when_the_first_statement_ran(engine: Engine, ledger: _Ledger) -> Callable[[], None]:
    """Pay the invoice in full, committed from another connection, right after the history's
    first statement (the member, its summary and its tags' versions) has run. Returns the
    listener's removal."""
    paid: list[bool] = []

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if paid or "member_version" not in statement:
            return
        paid.append(True)
        with Session(engine) as writer, writer.begin():
            customer = writer.get_one(Customer, ledger.customer_id)
            invoice = writer.get_one(Invoice, ledger.invoice_id)
            LedgerFactory(writer, ledger.treasurer).payment(customer, "30.00", [(invoice, "30.00")])

    event.listen(engine, "after_cursor_execute", after)
    return lambda: event.remove(engine, "after_cursor_execute", after)


def _outstanding(text: str) -> tuple[str, str]:
    body = json.loads(text)
    return body["summary"]["outstanding"], body["invoices"][0]["outstanding_amount"]


def test_a_write_between_the_statements_is_never_served_from_the_cache(
    committed_server_engine: Engine, job_engine: JobEngine
) -> None:
    # On READ COMMITTED a payment that commits after the first statement shows in the page and
    # not in the summary. The entry is stored with the versions the first statement read,
    # which the payment bumped: the next read must recompute, not serve the mixed history.
    engine = committed_server_engine
    ledger = _committed_ledger(engine)
    cache = VersionedCache(MemoryBackend())
    remove = _pay_when_the_first_statement_ran(engine, ledger)
    try:
        with Session(engine) as reader:
            first = payment_history_text(reader, ledger.treasurer, ledger.member_id, cache=cache)
    finally:
        remove()
    assert _outstanding(first.text) == ("30.00", "0.00")  # the parts saw different ledgers
    with Session(engine) as reader:
        second = payment_history_text(reader, ledger.treasurer, ledger.member_id, cache=cache)
    assert _outstanding(second.text) == ("0.00", "0.00")
    stats = cache.stats()[NAMESPACE]
    assert (stats.cold, stats.invalidated, stats.hits) == (1, 1, 0)


def test_versions_read_after_the_data_would_serve_the_mixed_history(
    committed_server_engine: Engine, job_engine: JobEngine
) -> None:
    # Negative control: the same interleaving, with the versions read after the history's
    # statements instead of by the first. The entry then claims the payment's versions and is
    # served with the summary from before it: what reading the versions first prevents.
    engine = committed_server_engine
    ledger = _committed_ledger(engine)
    cache = VersionedCache(MemoryBackend())
    tags = history_tags(ledger.member_id, ledger.customer_id)

    def read(session: Session) -> str:
        def fill() -> str:
            return dumps(history_document(session, ledger.member_id))

        def fill_cold() -> tuple[str, dict[str, int]]:
            text = fill()
            return text, current_versions(session, tags)

        return cache.get_or_fill_from(
            session,
            NAMESPACE,
            str(ledger.member_id),
            read_versions=lambda: current_versions(session, tags),
            fill=fill,
            fill_cold=fill_cold,
            ttl=60,
        )

    remove = _pay_when_the_first_statement_ran(engine, ledger)
    try:
        with Session(engine) as reader:
            first = read(reader)
    finally:
        remove()
    with Session(engine) as reader:
        second = read(reader)
    assert _outstanding(second) == _outstanding(first) == ("30.00", "0.00")
    assert cache.stats()[NAMESPACE].hits == 1

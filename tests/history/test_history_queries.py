"""The history read model: DOMAIN.md's shape, exact amounts, cursor paging, a constant number of
statements whatever the ledger's size, and bad input refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from billing_factories import D, LedgerFactory
from history_factories import bulk_ledger
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.history.queries import (
    decode_cursor,
    dumps,
    encode_cursor,
    history_document,
    payment_history,
)
from verenigingen.history.schemas import PaymentHistory
from verenigingen.perf.capture import capture
from verenigingen.sepa.models import MandateStatus
from verenigingen.sepa.schemas import MandateCreate
from verenigingen.sepa.service import create_mandate


def _mandate(session: Session, ledger: LedgerFactory, member_id: int, reference: str, **kw):
    data = MandateCreate(
        mandate_reference=reference, iban="NL91ABNA0417164300", sign_date=kw.pop("sign_date"), **kw
    )
    return create_mandate(session, ledger.user, member_id, data)


def test_history_shape_and_amounts(session: Session, ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    sibling = ledger.member(customer)  # same family: same customer, same invoices
    old = ledger.invoice(customer, "30.00", member=member, posting_date=dt.date(2025, 12, 1))
    new = ledger.invoice(customer, "40.00", member=sibling, posting_date=dt.date(2026, 2, 20))
    first = ledger.payment(customer, "20.00", [(old, "20.00")], reference_no="jan")
    second = ledger.payment(
        customer, "35.00", [(old, "10.00"), (new, "15.00")], mode_of_payment="SEPA Direct Debit"
    )
    ledger.payment(customer, "12.00", [], reference_no="spare")  # unallocated
    ledger.payment(customer, "5.00", [(new, "5.00")], submit=False)  # a draft: not history
    mandate = _mandate(session, ledger, member.id, "M-1", sign_date=dt.date(2026, 1, 10))

    history = payment_history(session, member.id)

    assert [i.number for i in history.invoices] == [new.number, old.number]
    newest, oldest = history.invoices
    assert (newest.grand_total, newest.outstanding_amount, newest.paid_amount) == (
        D("40.00"),
        D("25.00"),
        D("15.00"),
    )
    assert newest.status == "Partly Paid"
    assert [(p.payment_number, p.allocated_amount, p.mode_of_payment) for p in newest.payments] == [
        (second.number, D("15.00"), "SEPA Direct Debit")
    ]
    assert newest.mandate is not None
    assert newest.mandate.id == mandate.id
    assert (oldest.outstanding_amount, oldest.paid_amount, oldest.status) == (
        D("0.00"),
        D("30.00"),
        "Paid",
    )
    assert [(p.payment_number, p.allocated_amount, p.reference_no) for p in oldest.payments] == [
        (first.number, D("20.00"), "jan"),
        (second.number, D("10.00"), None),
    ]
    assert oldest.mandate is None  # due 2025-12-15, before the mandate was signed
    # Newest first: the spare 12.00, then the 10.00 the direct debit did not allocate.
    assert [(p.unallocated_amount, p.reference_no) for p in history.unallocated_payments] == [
        (D("12.00"), "spare"),
        (D("10.00"), None),
    ]
    assert [m.mandate_reference for m in history.active_mandates] == ["M-1"]
    assert history.active_mandates[0].iban == "NL91**********4300"
    assert history.summary.model_dump() == {
        "invoices": 2,
        "total": D("70.00"),
        "outstanding": D("25.00"),
        "active_mandates": 1,
    }
    assert history.next_cursor is None


def test_the_api_text_is_the_models_json(session: Session, ledger: LedgerFactory) -> None:
    # The text is written from plain values, not from the model: it must still be exactly what
    # the response schema (and its OpenAPI document) promises, field for field.
    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = ledger.invoice(customer, "30.00", member=member, posting_date=dt.date(2026, 1, 5))
    ledger.invoice(customer, "12.50", member=member, posting_date=dt.date(2026, 2, 5))
    ledger.payment(customer, "40.00", [(invoice, "30.00")], reference_no="Contributie ’26")
    _mandate(session, ledger, member.id, "M-JSON", sign_date=dt.date(2025, 12, 1))
    for limit in (1, 50):
        text = dumps(history_document(session, member.id, limit=limit))
        model = PaymentHistory.model_validate_json(text)
        assert text == model.model_dump_json()
        assert model == payment_history(session, member.id, limit=limit)
    body = PaymentHistory.model_validate_json(text)
    assert [(i.paid_amount, i.mandate is not None) for i in body.invoices] == [
        (D("0.00"), True),
        (D("30.00"), True),
    ]
    assert [p.unallocated_amount for p in body.unallocated_payments] == [D("10.00")]


def _statements(session: Session, ledger: LedgerFactory, invoices: int) -> tuple[int, int]:
    customer = ledger.customer()
    member = ledger.member(customer)
    member_id = member.id
    bulk_ledger(session, customer, member_id, invoices, dt.date(2000, 1, 1))
    session.expire_all()
    with capture() as log:
        history = payment_history(session, member_id, limit=500)
    assert len(history.invoices) == invoices
    assert history.summary.invoices == invoices
    assert history.summary.outstanding == Decimal("25.00") * (invoices // 2)
    paid = [i for i in history.invoices if i.payments]
    assert len(paid) == (invoices + 1) // 2
    return log.count, len(history.unallocated_payments)


@pytest.mark.parametrize("invoices", [1, 10, 100, 500])
def test_history_statements_do_not_grow_with_the_ledger(
    session: Session, ledger: LedgerFactory, invoices: int
) -> None:
    # Three statements: the member with its mandates and the summary, the page of invoices
    # with their payments, the unallocated payments. The issue allows 4.
    assert _statements(session, ledger, invoices) == (3, 1)


def test_member_without_customer_costs_one_statement(
    session: Session, ledger: LedgerFactory
) -> None:
    member = ledger.member(None)
    with capture() as log:
        history = payment_history(session, member.id)
    assert log.count == 1
    assert (history.customer_id, history.invoices, history.summary.invoices) == (None, [], 0)


def test_cursor_pages_cover_the_history_once(session: Session, ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    bulk_ledger(session, customer, member.id, 7, dt.date(2020, 1, 1))
    # Two invoices on one day: the id breaks the tie, so none is skipped or repeated.
    ledger.invoice(customer, "5.00", posting_date=dt.date(2020, 1, 1))
    everything = [i.id for i in payment_history(session, member.id, limit=500).invoices]
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        page = payment_history(session, member.id, limit=3, before=before)
        seen.extend(i.id for i in page.invoices)
        pages += 1
        if page.next_cursor is None:
            break
        before = page.next_cursor
    assert len(everything) == 8
    assert seen == everything
    assert pages == 3


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(dt.date(2026, 2, 1), 17)) == (dt.date(2026, 2, 1), 17)


@pytest.mark.parametrize(
    "cursor",
    ["", "not-base64!", "bm9wZQ", encode_cursor(dt.date(2026, 1, 1), 5)[:-3] + "xyz", "WyJ4IiwxXQ"],
)
def test_a_cursor_that_does_not_parse_is_422(
    session: Session, ledger: LedgerFactory, cursor: str
) -> None:
    member = ledger.member(ledger.customer())
    with pytest.raises(ValidationFailed, match="not a cursor"):
        payment_history(session, member.id, before=cursor)


@pytest.mark.parametrize("limit", [0, -1, 501])
def test_limit_outside_1_to_500_is_422(session: Session, ledger: LedgerFactory, limit: int) -> None:
    member = ledger.member(ledger.customer())
    with pytest.raises(ValidationFailed, match="limit must be between 1 and 500"):
        payment_history(session, member.id, limit=limit)


def test_unknown_member_is_404(session: Session) -> None:
    with pytest.raises(NotFound, match="no member with id 987654"):
        payment_history(session, 987654)


def test_only_active_mandates_are_listed(session: Session, ledger: LedgerFactory) -> None:
    member = ledger.member(ledger.customer())
    kept = _mandate(session, ledger, member.id, "M-A", sign_date=dt.date(2026, 1, 1))
    dropped = _mandate(session, ledger, member.id, "M-B", sign_date=dt.date(2026, 2, 1))
    dropped.status = MandateStatus.CANCELLED
    session.flush()
    history = payment_history(session, member.id)
    assert [m.id for m in history.active_mandates] == [kept.id]
    assert history.summary.active_mandates == 1


def test_order_amounts_and_text_on_every_engine(any_session: Session) -> None:
    # Each driver gives its own types (SQLite keeps dates as text and amounts as integers or
    # floats): the history must still be ordered, summed and written exactly as the model
    # writes it, on each engine.
    session = any_session
    ledger = LedgerFactory(session, create_user(session, "boekhouder@example.org", Role.TREASURER))
    customer = ledger.customer()
    member = ledger.member(customer)
    same_day = dt.date(2026, 1, 5)
    first = ledger.invoice(customer, "30.35", member=member, posting_date=same_day)
    second = ledger.invoice(customer, "1234567.89", member=member, posting_date=same_day)
    newest = ledger.invoice(customer, "10.00", member=member, posting_date=dt.date(2026, 2, 1))
    # Three payments on the first invoice, the latest created first.
    for day, amount in ((20, "0.05"), (10, "10.10"), (15, "20.20")):
        ledger.payment(customer, amount, [(first, amount)], posting_date=dt.date(2026, 1, day))
    ledger.payment(customer, "2.50", [], posting_date=dt.date(2026, 1, 7), reference_no="a")
    ledger.payment(customer, "3.50", [], posting_date=dt.date(2026, 1, 7), reference_no="b")
    credit = ledger.credit_note(newest, "4.00")
    old = _mandate(session, ledger, member.id, "M-OLD", sign_date=dt.date(2025, 1, 1))
    old.expiry_date = dt.date(2026, 1, 31)  # covers January's due dates, not February's
    _mandate(session, ledger, member.id, "M-NEW", sign_date=dt.date(2026, 2, 3))
    session.flush()

    text = dumps(history_document(session, member.id))
    history = PaymentHistory.model_validate_json(text)
    assert text == history.model_dump_json()

    assert [i.id for i in history.invoices] == [credit.id, newest.id, second.id, first.id]
    by_id = {i.id: i for i in history.invoices}
    assert [(p.posting_date.day, p.allocated_amount) for p in by_id[first.id].payments] == [
        (10, D("10.10")),
        (15, D("20.20")),
        (20, D("0.05")),
    ]
    assert by_id[first.id].paid_amount == D("30.35")
    assert by_id[first.id].status == "Paid"
    assert by_id[second.id].grand_total == D("1234567.89")
    assert (by_id[second.id].paid_amount, by_id[second.id].payments) == (D("0.00"), [])
    assert by_id[credit.id].is_return
    mandates = {i.id: i.mandate.mandate_reference if i.mandate else None for i in history.invoices}
    assert mandates == {credit.id: None, newest.id: "M-NEW", second.id: "M-OLD", first.id: "M-OLD"}
    assert [m.mandate_reference for m in history.active_mandates] == ["M-NEW", "M-OLD"]
    # Same day: the later id first.
    assert [p.reference_no for p in history.unallocated_payments] == ["b", "a"]
    assert history.summary.model_dump() == {
        "invoices": 3,
        "total": D("1234608.24"),
        "outstanding": D("1234573.89"),
        "active_mandates": 2,
    }

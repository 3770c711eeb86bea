"""Invoices: draft, submit, cancel, overdue — and bad input that changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from billing_factories import D, LedgerFactory, ledger_snapshot
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.errors import (
    CoverageEndBeforeStart,
    DueDateBeforePostingDate,
    InvoiceAlreadyCancelled,
    InvoiceNotDraft,
    InvoiceStillSettled,
    MemberNotBilledToCustomer,
)
from verenigingen.billing.models import AuditEvent, DocStatus, Invoice, InvoiceStatus
from verenigingen.billing.schemas import InvoiceCreate, InvoiceLineIn
from verenigingen.billing.service.invoices import (
    cancel_invoice,
    create_invoice,
    refresh_overdue,
    submit_invoice,
)
from verenigingen.billing.service.payments import cancel_payment
from verenigingen.errors import AmountTooLarge, NotFound, PermissionDenied, ValidationFailed


def _events(session: Session, event: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.event == event)))


def test_create_invoice_makes_a_draft_with_lines_and_totals(
    session: Session, treasurer: User, ledger: LedgerFactory, frozen_today: dt.date
) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = create_invoice(
        session,
        treasurer,
        InvoiceCreate(
            customer_id=customer.id,
            member_id=member.id,
            lines=[
                InvoiceLineIn(description="Contributie", quantity=D(2), rate=D("12.50")),
                InvoiceLineIn(description="Inschrijfgeld", rate=D("5")),
            ],
        ),
    )

    assert invoice.number == f"ACC-SINV-{frozen_today.year}-00001"
    assert invoice.docstatus == DocStatus.DRAFT
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.grand_total == D("30.00")
    assert invoice.outstanding_amount == D("0.00")
    assert invoice.posting_date == frozen_today
    assert invoice.due_date == frozen_today + dt.timedelta(days=14)
    assert [(line.idx, line.amount) for line in invoice.lines] == [(1, D("25.00")), (2, D("5.00"))]
    assert _events(session, "invoice.submitted") == []


def test_submit_invoice_makes_it_owed_and_audits(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    invoice = ledger.invoice(ledger.customer(), "80.00", submit=False)

    submitted = submit_invoice(session, treasurer, invoice.id)

    assert submitted.docstatus == DocStatus.SUBMITTED
    assert submitted.outstanding_amount == D("80.00")
    assert submitted.status == InvoiceStatus.UNPAID
    [event] = _events(session, "invoice.submitted")
    assert (event.entity_id, event.amount, event.user_id) == (invoice.id, D("80.00"), treasurer.id)


def test_submitting_an_invoice_past_its_due_date_shows_overdue(ledger: LedgerFactory) -> None:
    invoice = ledger.invoice(
        ledger.customer(), posting_date=dt.date(2026, 1, 1), due_date=dt.date(2026, 1, 15)
    )
    assert invoice.status == InvoiceStatus.OVERDUE


def test_submit_twice_conflicts_and_changes_nothing(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    invoice = ledger.invoice(ledger.customer())
    before = ledger_snapshot(session)
    with pytest.raises(InvoiceNotDraft, match="already submitted"):
        submit_invoice(session, treasurer, invoice.id)
    assert ledger_snapshot(session) == before


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"customer_id": 999_999}, NotFound, "customer 999999"),
        ({"member_id": 999_999}, NotFound, "member 999999"),
        ({"member_id": "other"}, MemberNotBilledToCustomer, "not billed to customer"),
        ({"due_date": dt.date(2026, 3, 1)}, DueDateBeforePostingDate, "before posting_date"),
        (
            {"coverage_start": dt.date(2026, 3, 1), "coverage_end": dt.date(2026, 2, 1)},
            CoverageEndBeforeStart,
            "coverage_end",
        ),
    ],
)
def test_create_invoice_refuses_bad_input_and_writes_nothing(
    session: Session,
    treasurer: User,
    ledger: LedgerFactory,
    change: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    customer = ledger.customer()
    if change.get("member_id") == "other":
        change = {"member_id": ledger.member(ledger.customer()).id}
    before = ledger_snapshot(session)
    fields: dict[str, object] = {
        "customer_id": customer.id,
        "posting_date": dt.date(2026, 3, 2),
        "lines": [InvoiceLineIn(description="Contributie", rate=D(10))],
        **change,
    }
    with pytest.raises(error, match=message):
        create_invoice(session, treasurer, InvoiceCreate.model_validate(fields))
    assert ledger_snapshot(session) == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"description": "x", "rate": "-5"}, "rate must be greater than zero"),
        ({"description": "x", "rate": "0"}, "rate must be greater than zero"),
        ({"description": "x", "rate": "1.005"}, "rate must have at most two decimals"),
        ({"description": "x", "rate": 1.005}, "rate must have at most two decimals"),
        ({"description": "x", "rate": "10", "quantity": "-1"}, "quantity must be greater"),
        ({"description": "x", "rate": "abc"}, "rate must be a number"),
        ({"description": "x", "rate": "1.00", "quantity": 1e300}, "quantity is too large"),
        ({"description": "x", "rate": "1.00", "quantity": "1e300"}, "quantity must be a number"),
    ],
)
def test_invoice_lines_refuse_bad_amounts(line: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        InvoiceLineIn.model_validate(line)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("9999999999.99", "2")], "line 1 comes to 19999999999.98"),
        ([("6000000000.00", "1"), ("6000000000.00", "1")], "the invoice comes to 12000000000.00"),
    ],
)
def test_invoice_amounts_past_the_column_are_refused_before_any_write(
    any_session: Session, treasurer: User, lines: list[tuple[str, str]], message: str
) -> None:
    # Past NUMERIC(12, 2) SQLite stored the total and PostgreSQL failed (a 500).
    ledger = LedgerFactory(any_session, treasurer)
    customer = ledger.customer()
    before = ledger_snapshot(any_session)
    data = InvoiceCreate(
        customer_id=customer.id,
        lines=[
            InvoiceLineIn(description="Contributie", rate=D(rate), quantity=D(quantity))
            for rate, quantity in lines
        ],
    )
    with pytest.raises(AmountTooLarge, match=message):
        create_invoice(any_session, treasurer, data)
    assert ledger_snapshot(any_session) == before


def test_invoice_without_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 item"):
        InvoiceCreate.model_validate({"customer_id": 1, "lines": []})


def test_unknown_invoice_ids_are_not_found(session: Session, treasurer: User) -> None:
    with pytest.raises(NotFound):
        submit_invoice(session, treasurer, 424_242)
    with pytest.raises(NotFound):
        cancel_invoice(session, treasurer, 424_242)


@pytest.mark.parametrize("role", [Role.MEMBER, Role.MEMBERSHIP_SECRETARY])
def test_only_billing_writers_create_invoices(
    session: Session, ledger: LedgerFactory, role: Role
) -> None:
    reader = create_user(session, f"{role.value.replace(' ', '')}@example.org", role)
    customer = ledger.customer()
    before = ledger_snapshot(session)
    with pytest.raises(PermissionDenied):
        create_invoice(
            session,
            reader,
            InvoiceCreate(
                customer_id=customer.id, lines=[InvoiceLineIn(description="x", rate=D(1))]
            ),
        )
    assert ledger_snapshot(session) == before


def test_cancel_submitted_invoice(session: Session, treasurer: User, ledger: LedgerFactory) -> None:
    invoice = ledger.invoice(ledger.customer(), "45.00")

    cancelled = cancel_invoice(session, treasurer, invoice.id)

    assert cancelled.docstatus == DocStatus.CANCELLED
    assert cancelled.status == InvoiceStatus.CANCELLED
    assert cancelled.outstanding_amount == D("0.00")
    [event] = _events(session, "invoice.cancelled")
    assert (event.entity_id, event.amount) == (invoice.id, D("45.00"))


def test_cancel_draft_invoice(session: Session, treasurer: User, ledger: LedgerFactory) -> None:
    invoice = ledger.invoice(ledger.customer(), submit=False)
    cancelled = cancel_invoice(session, treasurer, invoice.id)
    assert (cancelled.docstatus, cancelled.status) == (DocStatus.CANCELLED, InvoiceStatus.CANCELLED)
    with pytest.raises(InvoiceNotDraft, match="cancelled"):
        submit_invoice(session, treasurer, invoice.id)


def test_cancel_twice_conflicts(session: Session, treasurer: User, ledger: LedgerFactory) -> None:
    invoice = ledger.invoice(ledger.customer())
    cancel_invoice(session, treasurer, invoice.id)
    before = ledger_snapshot(session)
    with pytest.raises(InvoiceAlreadyCancelled, match="already cancelled"):
        cancel_invoice(session, treasurer, invoice.id)
    assert ledger_snapshot(session) == before


def test_cancel_invoice_with_submitted_payment_asks_to_cancel_it_first(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    payment = ledger.payment(customer, "40.00", [(invoice, "40.00")])
    before = ledger_snapshot(session)

    with pytest.raises(InvoiceStillSettled, match=f"payments {payment.number}.*cancel those first"):
        cancel_invoice(session, treasurer, invoice.id)
    assert ledger_snapshot(session) == before

    cancel_payment(session, treasurer, payment.id)
    assert cancel_invoice(session, treasurer, invoice.id).status == InvoiceStatus.CANCELLED


def test_draft_payment_does_not_block_cancelling(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    invoice = ledger.invoice(customer, "100.00")
    ledger.payment(customer, "40.00", [(invoice, "40.00")], submit=False)
    assert cancel_invoice(session, treasurer, invoice.id).docstatus == DocStatus.CANCELLED


def test_cancel_invoice_with_credit_note_asks_to_cancel_it_first(
    session: Session, treasurer: User, ledger: LedgerFactory
) -> None:
    invoice = ledger.invoice(ledger.customer(), "100.00")
    credit_note = ledger.credit_note(invoice, "10.00")
    before = ledger_snapshot(session)
    with pytest.raises(InvoiceStillSettled, match=f"credit notes {credit_note.number}"):
        cancel_invoice(session, treasurer, invoice.id)
    assert ledger_snapshot(session) == before


def test_refresh_overdue_moves_open_invoices_past_due(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    unpaid = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 3, 10))
    partly = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 3, 10))
    ledger.payment(customer, "20.00", [(partly, "20.00")])
    paid = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 3, 10))
    ledger.payment(customer, "50.00", [(paid, "50.00")])
    later = ledger.invoice(customer, "50.00", due_date=dt.date(2026, 4, 30))
    draft = ledger.invoice(customer, "50.00", submit=False, due_date=dt.date(2026, 3, 10))

    assert refresh_overdue(session, dt.date(2026, 3, 10)) == 0
    with clock.frozen(dt.date(2026, 3, 11)):
        assert refresh_overdue(session) == 2
    session.expire_all()

    statuses = {row.id: row.status for row in session.execute(select(Invoice.id, Invoice.status))}
    assert statuses[unpaid.id] == statuses[partly.id] == InvoiceStatus.OVERDUE
    assert statuses[paid.id] == InvoiceStatus.PAID
    assert statuses[later.id] == InvoiceStatus.UNPAID
    assert statuses[draft.id] == InvoiceStatus.DRAFT


def test_refresh_overdue_invalidates_the_cached_history(
    session: Session, ledger: LedgerFactory
) -> None:
    """Regression: the status change of the daily run reached the cache only after its TTL."""
    from verenigingen.cache import current_versions

    customer = ledger.customer()
    ledger.invoice(customer, "50.00", due_date=dt.date(2026, 3, 10))
    tag = f"customer:{customer.id}"
    before = current_versions(session, [tag])[tag]
    with clock.frozen(dt.date(2026, 3, 11)):
        assert refresh_overdue(session) == 1
    assert current_versions(session, [tag])[tag] == before + 1
    with clock.frozen(dt.date(2026, 3, 12)):
        assert refresh_overdue(session) == 0  # nothing turned, nothing bumped
    assert current_versions(session, [tag])[tag] == before + 1


def test_amounts_are_decimals_with_two_places(ledger: LedgerFactory) -> None:
    invoice = ledger.invoice(ledger.customer(), "19.90")
    assert isinstance(invoice.grand_total, Decimal)
    assert invoice.grand_total == D("19.90")

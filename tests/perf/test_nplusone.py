"""N+1 detection: the naive patterns are found with their call site and remedy; the product's
own list queries, dues run and bulk payments are not."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import naive_patterns
import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, lazyload

from member_factories import bulk_schedules, make_type
from verenigingen.auth.models import User
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from verenigingen.billing.queries import list_invoices
from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
from verenigingen.dues.service import generate_dues
from verenigingen.members.models import Customer, Member, MembershipType
from verenigingen.members.queries import list_members
from verenigingen.perf.capture import Frame, QueryLog, capture
from verenigingen.perf.nplusone import (
    GROWS_WITH_N,
    LAZY_LOAD,
    REPEATED_IDENTICAL_QUERY,
    REPEATED_QUERY,
    Finding,
    detect,
    detect_scaling,
)
from verenigingen.sepa.models import MandateStatus, SepaMandate

TODAY = dt.date(2026, 3, 2)
NAIVE = "tests/perf/naive_patterns.py"
_tags = itertools.count(1)


pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def marked(marker: str) -> Frame:
    """The frame of the naive_patterns.py line carrying ``# marker``."""
    source = Path(naive_patterns.__file__).read_text().splitlines()
    function = "?"
    for number, line in enumerate(source, 1):
        if line.startswith("def "):
            function = line[4 : line.index("(")]
        if line.endswith(f"# {marker}"):
            return Frame(NAIVE, number, function)
    raise LookupError(marker)


@dataclass
class Ledger:
    """N members, each with a customer, an active SEPA mandate, one submitted invoice of
    25.00 with two lines, and a payment of 10.00 allocated to it."""

    customer_ids: list[int]
    member_ids: list[int]
    invoice_ids: list[int]


def seed(session: Session, count: int) -> Ledger:
    tag = f"NP{next(_tags)}"

    def ids(model: type, rows: list[dict[str, object]]) -> list[int]:
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)  # type: ignore[attr-defined]
        return list(session.scalars(statement, rows))

    customer_ids = ids(
        Customer, [{"debtor_number": f"{tag}-{i}", "name": f"Klant {i}"} for i in range(count)]
    )
    member_ids = ids(
        Member,
        [
            {
                "member_id": f"{tag}-{i}",
                "first_name": "Lid",
                "last_name": f"{tag} {i}",
                "email": f"lid{i}@example.org",
                "status": "Active",
                "customer_id": customer_id,
            }
            for i, customer_id in enumerate(customer_ids)
        ],
    )
    invoice_ids = ids(
        Invoice,
        [
            {
                "number": f"{tag}-INV-{i}",
                "customer_id": customer_id,
                "member_id": member_id,
                "posting_date": TODAY - dt.timedelta(days=20),
                "due_date": TODAY + dt.timedelta(days=10),
                "grand_total": Decimal("25.00"),
                "outstanding_amount": Decimal("15.00"),
                "status": InvoiceStatus.PARTLY_PAID,
                "docstatus": DocStatus.SUBMITTED,
            }
            for i, (customer_id, member_id) in enumerate(zip(customer_ids, member_ids, strict=True))
        ],
    )
    session.execute(
        insert(InvoiceLine),
        [
            {
                "invoice_id": invoice_id,
                "idx": idx,
                "description": "Contributie",
                "quantity": Decimal(1),
                "rate": Decimal("12.50"),
                "amount": Decimal("12.50"),
            }
            for invoice_id in invoice_ids
            for idx in (1, 2)
        ],
    )
    payment_ids = ids(
        Payment,
        [
            {
                "number": f"{tag}-PAY-{i}",
                "customer_id": customer_id,
                "posting_date": TODAY - dt.timedelta(days=5),
                "paid_amount": Decimal("10.00"),
                "unallocated_amount": Decimal("0.00"),
                "docstatus": DocStatus.SUBMITTED,
            }
            for i, customer_id in enumerate(customer_ids)
        ],
    )
    session.execute(
        insert(PaymentAllocation),
        [
            {"payment_id": payment_id, "invoice_id": invoice_id, "allocated_amount": Decimal(10)}
            for payment_id, invoice_id in zip(payment_ids, invoice_ids, strict=True)
        ],
    )
    session.execute(
        insert(SepaMandate),
        [
            {
                "mandate_reference": f"{tag}-MANDATE-{i}",
                "member_id": member_id,
                "account_holder": f"Lid {i}",
                "iban": "NL91ABNA0417164300",
                "sign_date": TODAY - dt.timedelta(days=100),
                "status": MandateStatus.ACTIVE,
            }
            for i, member_id in enumerate(member_ids)
        ],
    )
    return Ledger(customer_ids, member_ids, invoice_ids)


def payments(ledger: Ledger, amount: str = "5.00") -> list[ReceivedPayment]:
    """One received payment per invoice of ``ledger``, allocated to it in full."""
    return [
        ReceivedPayment(
            customer_id=customer_id,
            posting_date=TODAY,
            paid_amount=Decimal(amount),
            allocations=((invoice_id, Decimal(amount)),),
        )
        for customer_id, invoice_id in zip(ledger.customer_ids, ledger.invoice_ids, strict=True)
    ]


def run(work: Callable[[], object]) -> QueryLog:
    with capture() as log:
        work()
    return log


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, "\n".join(map(str, findings))
    return findings[0]


# The four patterns of the plan -------------------------------------------------------------


def test_payment_entries_loaded_per_invoice(session: Session) -> None:
    ledger = seed(session, 8)

    log = run(lambda: naive_patterns.payment_entries_per_invoice(session, ledger.invoice_ids))

    finding = only(detect(log))
    assert finding.pattern == REPEATED_QUERY
    assert finding.count == 8
    assert finding.slope is None
    assert finding.call_site[0] == marked("N+1 payment entries")
    assert finding.fingerprint.endswith(
        "FROM payment_allocation WHERE payment_allocation.invoice_id = ?"
    )
    assert finding.example_sql == finding.fingerprint  # SQLite: the SQL as sent has ? too
    origin = marked("origin of the invoices")
    assert finding.hint == (
        "PaymentAllocation rows are read per Invoice (payment_allocation.invoice_id = ?): "
        'map Invoice.payment_allocations = relationship(PaymentAllocation, lazy="raise") and '
        "add .options(selectinload(Invoice.payment_allocations)) to the query that loaded the "
        f"Invoice rows (at {origin}), or read them for all of those rows in one "
        "select(PaymentAllocation).where(PaymentAllocation.invoice_id.in_(ids))"
    )


def test_sepa_mandate_looked_up_per_member(session: Session) -> None:
    ledger = seed(session, 7)

    log = run(lambda: naive_patterns.mandate_per_member(session, ledger.member_ids))

    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (REPEATED_QUERY, 7)
    assert finding.call_site[0] == marked("N+1 mandate")
    # No Member rows were loaded here and Member maps no mandates: batch the lookups with IN.
    assert "SepaMandate.member_id.in_(ids)" in finding.hint
    assert "WHERE sepa_mandate.member_id IN (...)" in finding.hint
    assert "≤ 500" in finding.hint
    assert "selectinload" not in finding.hint


def test_member_financial_history_aggregated_per_member(session: Session) -> None:
    ledger = seed(session, 6)

    log = run(lambda: naive_patterns.financial_history_per_member(session, ledger.member_ids))

    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (REPEATED_QUERY, 6)
    assert finding.call_site[0] == marked("N+1 history")
    assert finding.hint.startswith("COUNT/SUM per Member (invoice.member_id = ?)")
    assert ".group_by(Invoice.member_id)" in finding.hint
    assert "GROUP BY invoice.member_id" in finding.hint


def test_invoice_status_updated_per_invoice(session: Session) -> None:
    ledger = seed(session, 9)

    log = run(lambda: naive_patterns.mark_overdue_per_invoice(session, ledger.invoice_ids))

    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (REPEATED_QUERY, 9)
    assert finding.call_site[0] == marked("N+1 status")
    assert finding.fingerprint.startswith("UPDATE invoice SET status=?")
    assert "ORM bulk UPDATE by primary key" in finding.hint
    assert "session.execute(update(Invoice), [" in finding.hint


# Detector 1: lazy loads --------------------------------------------------------------------


@pytest.mark.parametrize("count_rows", [False, True], ids=["plain", "counting-rows"])
def test_lazy_collection_loaded_per_parent_is_reported_once_as_lazy_load(
    session: Session, count_rows: bool
) -> None:
    ledger = seed(session, 6)

    with capture(count_rows=count_rows) as log:  # the profiler counts rows
        naive_patterns.line_counts_lazily(session, ledger.invoice_ids)

    assert [load.relationship for load in log.lazy_loads] == ["Invoice.lines"] * 6
    # Also six repeats of one statement from one site: the lazy load is the finding kept.
    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (LAZY_LOAD, 6)
    assert finding.call_site[0] == marked("N+1 lazy lines")
    assert "FROM invoice_line WHERE ? = invoice_line.invoice_id" in finding.fingerprint
    assert finding.hint.startswith(
        "Invoice.lines is loaded lazily, one SELECT per Invoice: add "
        ".options(selectinload(Invoice.lines)) to the query that loaded the Invoice rows "
        f"(at {marked('origin of the lazy invoices')})"
    )
    assert 'lazy="raise"' in finding.hint


def test_lazy_many_to_one_suggests_joinedload(session: Session) -> None:
    ledger = seed(session, 3)  # below the repeat threshold: only the lazy-load detector sees it

    log = run(lambda: naive_patterns.customer_names_lazily(session, ledger.member_ids))

    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (LAZY_LOAD, 3)
    assert finding.call_site[0] == marked("N+1 lazy customer")
    assert ".options(joinedload(Member.customer))" in finding.hint
    assert f"(at {marked('origin of the lazy members')})" in finding.hint


def test_a_lazy_load_for_one_parent_is_not_n_plus_one(session: Session) -> None:
    ledger = seed(session, 2)

    def one_invoice() -> int:
        invoice = session.scalars(
            select(Invoice)
            .where(Invoice.id == ledger.invoice_ids[0])
            .options(lazyload(Invoice.lines))
        ).one()
        return len(invoice.lines)

    log = run(one_invoice)

    assert len(log.lazy_loads) == 1
    assert detect(log) == []


# Detector 2: repeats -----------------------------------------------------------------------


def test_repeat_threshold_is_min_repeats(session: Session) -> None:
    ledger = seed(session, 5)

    four = run(lambda: naive_patterns.mandate_per_member(session, ledger.member_ids[:4]))
    five = run(lambda: naive_patterns.mandate_per_member(session, ledger.member_ids))

    assert detect(four) == []
    assert only(detect(four, min_repeats=4)).count == 4
    assert only(detect(five)).count == 5
    with pytest.raises(ValueError, match="min_repeats"):
        detect(five, min_repeats=1)


def test_identical_parameters_are_a_repeated_identical_query(session: Session) -> None:
    ledger = seed(session, 5)
    session.add(MembershipType(name="NP standaard", billing_period="Annual", amount=Decimal(50)))

    log = run(lambda: naive_patterns.default_type_per_member(session, ledger.member_ids))

    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (REPEATED_IDENTICAL_QUERY, 5)
    assert finding.call_site[0] == marked("N+1 identical")
    assert "run it once before the loop" in finding.hint


def test_lookup_by_primary_key_per_item_is_batched_with_in(session: Session) -> None:
    ledger = seed(session, 5)

    log = run(lambda: naive_patterns.customer_per_member_by_id(session, ledger.customer_ids))

    finding = only(detect(log))
    assert (finding.pattern, finding.count) == (REPEATED_QUERY, 5)
    assert finding.call_site[0] == marked("N+1 by id")
    assert finding.hint.startswith(
        "one Customer lookup per item by id: read them in one "
        "select(Customer).where(Customer.id.in_(ids)) query (WHERE customer.id IN (...)) "
        "per batch of ≤ 500 ids"
    )


def test_in_lists_of_one_per_item_are_repeats_and_longer_lists_are_batches(
    session: Session,
) -> None:
    ledger = seed(session, 10)
    ids = ledger.customer_ids

    def names(chunks: list[list[int]]) -> None:
        for chunk in chunks:
            session.scalars(select(Customer.name).where(Customer.id.in_(chunk))).all()

    one_by_one = run(lambda: names([[customer_id] for customer_id in ids[:5]]))
    in_pairs = run(lambda: names([ids[i : i + 2] for i in range(0, 10, 2)]))

    finding = only(detect(one_by_one))
    assert (finding.pattern, finding.count) == (REPEATED_QUERY, 5)
    assert "IN (…id_1)" in finding.fingerprint
    assert detect(in_pairs) == []  # five statements for ten customers: already batched


def test_keyset_pages_of_the_dues_run_are_not_repeats(session: Session, admin: User) -> None:
    bulk_schedules(session, make_type(session), 12, start=TODAY)

    log = run(lambda: generate_dues(session, admin, batch_size=2))

    pages = [query for query in log.queries if query.fingerprint.startswith("SELECT dues_schedule")]
    assert len(pages) == 7  # twelve schedules, two per batch, and the empty page that ends it
    assert detect(log) == []


def test_a_per_item_loop_with_a_batch_per_item_is_left_to_the_scale_detector(
    session: Session,
) -> None:
    small, large = seed(session, 5), seed(session, 20)

    def lines_then_allocations(invoice_ids: list[int]) -> None:
        for invoice_id in invoice_ids:
            extra = {"description": "Extra", "quantity": 1, "rate": 1, "amount": 1}
            session.execute(
                insert(InvoiceLine),
                [{"invoice_id": invoice_id, "idx": idx, **extra} for idx in (3, 4)],
            )
            session.scalars(
                select(PaymentAllocation).where(PaymentAllocation.invoice_id == invoice_id)
            ).all()

    at_5 = run(lambda: lines_then_allocations(small.invoice_ids))
    at_20 = run(lambda: lines_then_allocations(large.invoice_ids))

    # A batched INSERT between each two SELECTs reads as a loop over batches: detect is silent.
    assert detect(at_20) == []
    grown = detect_scaling(at_5, at_20, 5, 20)
    assert sorted((f.fingerprint.split()[0], f.count, f.slope) for f in grown) == [
        ("INSERT", 20, 1.0),
        ("SELECT", 20, 1.0),
    ]


def test_findings_are_ordered_most_precise_first_and_serialise(session: Session) -> None:
    ledger = seed(session, 6)
    session.add(MembershipType(name="NP jaarlid", billing_period="Annual", amount=Decimal(50)))

    def everything() -> None:
        naive_patterns.default_type_per_member(session, ledger.member_ids[:5])
        naive_patterns.mandate_per_member(session, ledger.member_ids)
        naive_patterns.line_counts_lazily(session, ledger.invoice_ids[:2])

    findings = detect(run(everything))

    assert [(f.pattern, f.count) for f in findings] == [
        (LAZY_LOAD, 2),
        (REPEATED_QUERY, 6),
        (REPEATED_IDENTICAL_QUERY, 5),
    ]
    as_json = json.loads(json.dumps([finding.to_dict() for finding in findings]))
    assert as_json[1]["call_site"][0] == str(marked("N+1 mandate"))
    assert set(as_json[0]) == {
        "pattern",
        "fingerprint",
        "example_sql",
        "count",
        "slope",
        "call_site",
        "hint",
    }


# Detector 3: the scale slope ---------------------------------------------------------------


def test_a_naive_loop_grows_one_query_per_item(session: Session) -> None:
    small, large = seed(session, 5), seed(session, 20)

    at_5 = run(lambda: naive_patterns.payment_entries_per_invoice(session, small.invoice_ids))
    at_20 = run(lambda: naive_patterns.payment_entries_per_invoice(session, large.invoice_ids))

    finding = only(detect_scaling(at_5, at_20, 5, 20))  # the invoices' own SELECT stays one
    assert (finding.pattern, finding.count, finding.slope) == (GROWS_WITH_N, 20, 1.0)
    assert finding.call_site[0] == marked("N+1 payment entries")
    assert "selectinload(Invoice.payment_allocations)" in finding.hint


def test_two_lookups_per_item_give_slope_two(session: Session) -> None:
    small, large = seed(session, 5), seed(session, 20)

    def twice(ledger: Ledger) -> Callable[[], object]:
        def work() -> None:
            naive_patterns.mandate_per_member(session, ledger.member_ids)
            naive_patterns.mandate_per_member(session, ledger.member_ids)

        return work

    finding = only(detect_scaling(run(twice(small)), run(twice(large)), 5, 20))
    assert (finding.count, finding.slope) == (40, 2.0)
    assert "SepaMandate.member_id.in_(ids)" in finding.hint
    with pytest.raises(ValueError, match="small_n < large_n"):
        detect_scaling(QueryLog(), QueryLog(), 20, 20)


def test_product_list_queries_do_not_grow_with_n(session: Session, admin: User) -> None:
    seed(session, 5)
    invoices_at_5 = run(lambda: list_invoices(session, admin))
    members_at_5 = run(lambda: list_members(session, admin))
    seed(session, 15)
    invoices_at_20 = run(lambda: list_invoices(session, admin))
    members_at_20 = run(lambda: list_members(session, admin))

    assert len(list_invoices(session, admin).items) == 20
    assert invoices_at_5.count == invoices_at_20.count
    assert detect_scaling(invoices_at_5, invoices_at_20, 5, 20) == []
    assert detect_scaling(members_at_5, members_at_20, 5, 20) == []


# The product reports none ------------------------------------------------------------------


def test_product_services_have_no_n_plus_one(session: Session, admin: User) -> None:
    ledger = seed(session, 50)
    invoices = run(lambda: list_invoices(session, admin))
    assert len(list_invoices(session, admin).items) == 50

    recorded = run(lambda: record_payments(session, admin, payments(ledger, "15.00")))
    assert session.scalar(select(Invoice.status).where(Invoice.id == ledger.invoice_ids[0])) == (
        InvoiceStatus.PAID
    )

    bulk_schedules(session, make_type(session), 30, start=TODAY)
    dues = run(lambda: generate_dues(session, admin))

    assert detect(invoices) == []
    assert detect(recorded) == []
    assert detect(dues) == []
    assert dues.count < 30  # statements per batch, not per schedule
    assert recorded.count < 50


def test_product_bulk_services_do_not_grow_with_n(session: Session, admin: User) -> None:
    # Warm-up: the first run of each creates its naming series (an INSERT where later runs
    # UPDATE), which two cold runs would show as a statement growing from 0 to 1.
    membership_type = make_type(session)
    bulk_schedules(session, membership_type, 1, start=TODAY)
    generate_dues(session, admin)
    record_payments(session, admin, payments(seed(session, 1)))

    bulk_schedules(session, membership_type, 5, start=TODAY)
    dues_at_5 = run(lambda: generate_dues(session, admin))
    bulk_schedules(session, membership_type, 20, start=TODAY)
    dues_at_20 = run(lambda: generate_dues(session, admin))  # bills only the 20 new schedules

    small, large = payments(seed(session, 5)), payments(seed(session, 20))
    paid_5 = run(lambda: record_payments(session, admin, small))
    paid_20 = run(lambda: record_payments(session, admin, large))

    assert detect_scaling(dues_at_5, dues_at_20, 5, 20) == []
    assert detect_scaling(paid_5, paid_20, 5, 20) == []

"""What a ledger write leaves in its transaction: tag bumps and exactly the jobs the rules ask."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billing_factories import LedgerFactory
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.service.payments import cancel_payment, submit_payment
from verenigingen.cache.models import CacheTag
from verenigingen.history.models import MemberFinancialSummary, PaymentAnalytics
from verenigingen.history.summary import SummaryConflict
from verenigingen.jobs.models import Job
from verenigingen.perf.capture import capture
from verenigingen.settings.service import set_setting


def jobs(session: Session, after: int = 0) -> list[tuple[str, str, dict]]:
    rows = session.execute(
        select(Job.name, Job.queue, Job.params).where(Job.id > after).order_by(Job.id)
    ).all()
    return [(name, queue, params) for name, queue, params in rows]


def last_job_id(session: Session) -> int:
    return session.scalar(select(Job.id).order_by(Job.id.desc()).limit(1)) or 0


def versions(session: Session) -> dict[str, int]:
    return dict(session.execute(select(CacheTag.tag, CacheTag.version)).all())


def test_payment_submit_bumps_tags_adds_the_analytics_and_enqueues_the_summary_delta(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    a, b = ledger.member(customer), ledger.member(customer)
    first = ledger.invoice(customer, "50.00")
    second = ledger.invoice(customer, "50.00")
    draft = ledger.payment(customer, "80.00", [(first, "40.00"), (second, "40.00")], submit=False)
    before_tags, before_jobs = versions(session), last_job_id(session)
    submit_payment(session, ledger.user, draft.id)
    after = versions(session)
    for tag in (f"customer:{customer.id}", f"member:{a.id}", f"member:{b.id}"):
        assert after[tag] == before_tags[tag] + 1
    assert jobs(session, before_jobs) == [
        (
            "history.apply_summary_delta",
            "default",
            {
                "customer_id": customer.id,
                "invoices": 0,
                "invoiced": "0.00",
                "credited": "0.00",
                "paid": "80.00",
                "outstanding": "-80.00",
            },
        ),
    ]
    month = session.get(PaymentAnalytics, first.posting_date.replace(day=1))
    assert month is not None
    assert (month.payment_count, month.received, month.invoiced, month.collected) == (
        1,
        Decimal("80.00"),
        Decimal("100.00"),
        Decimal("80.00"),
    )
    assert month.collection_rate == Decimal("80.00")


def test_sepa_payment_adds_the_mandate_usage_job_in_nine_statements(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    first, second = ledger.invoice(customer, "50.00"), ledger.invoice(customer, "50.00")
    draft = ledger.payment(
        customer,
        "100.00",
        [(first, "50.00"), (second, "50.00")],
        submit=False,
        mode_of_payment="SEPA Direct Debit",
    )
    before_jobs, user, payment_id = last_job_id(session), ledger.user, draft.id
    session.expire_all()
    session.refresh(user)
    with capture() as log:
        submit_payment(session, user, payment_id)
    # The ledger's six, the month's analytics (one UPDATE), the payment's job group (one
    # INSERT: one notification for both jobs), both jobs (one INSERT).
    assert log.count == 9, log.describe()
    # The history's subscriber first (the summary; the analytics' row locked and updated at
    # once), then SEPA's; both jobs in the one INSERT.
    names = [name for name, _, _ in jobs(session, before_jobs)]
    assert names == ["history.apply_summary_delta", "sepa.record_mandate_usage"]
    assert jobs(session, before_jobs)[1][2] == {"payment_id": payment_id, "cancelled": False}


def test_large_payment_recalculates_instead_of_a_delta(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoices = [ledger.invoice(customer, "10.00") for _ in range(6)]
    draft = ledger.payment(customer, "60.00", [(i, "10.00") for i in invoices], submit=False)
    before = last_job_id(session)
    submit_payment(session, ledger.user, draft.id)
    assert [name for name, _, _ in jobs(session, before)] == ["history.recalculate_summary"]
    big = ledger.payment(customer, "500.01", [], submit=False)
    before = last_job_id(session)
    submit_payment(session, ledger.user, big.id)
    assert jobs(session, before)[0] == (
        "history.recalculate_summary",
        "default",
        {"customer_id": customer.id},
    )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("100.00", []),
        ("100.01", ["history.apply_summary_delta"]),
    ],
)
def test_internal_transfer_refreshes_the_summary_only_above_the_threshold(
    session: Session, ledger: LedgerFactory, admin: User, amount: str, expected: list[str]
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    draft = ledger.payment(customer, amount, submit=False, payment_type="Internal Transfer")
    before = last_job_id(session)
    set_setting(session, admin, "history_refresh_above", "100.00")  # the runtime setting
    submit_payment(session, ledger.user, draft.id)
    assert [name for name, _, _ in jobs(session, before)] == expected


def test_cancel_enqueues_the_negated_delta_and_a_draft_cancel_nothing(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoice = ledger.invoice(customer, "30.00")
    payment = ledger.payment(customer, "30.00", [(invoice, "30.00")])
    before = last_job_id(session)
    cancel_payment(session, ledger.user, payment.id)
    assert jobs(session, before)[0][2] == {
        "customer_id": customer.id,
        "invoices": 0,
        "invoiced": "0.00",
        "credited": "0.00",
        "paid": "-30.00",
        "outstanding": "30.00",
    }
    draft = ledger.payment(customer, "5.00", submit=False)
    before, tags = last_job_id(session), versions(session)
    cancel_payment(session, ledger.user, draft.id)
    assert jobs(session, before) == []
    assert versions(session) == tags


def test_invoice_and_credit_note_deltas(session: Session, ledger: LedgerFactory) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    before = last_job_id(session)
    invoice = ledger.invoice(customer, "40.00")
    ledger.credit_note(invoice, "15.00")
    deltas = [params for name, _, params in jobs(session, before) if name.endswith("delta")]
    assert [(d["invoices"], d["invoiced"], d["credited"], d["outstanding"]) for d in deltas] == [
        (1, "40.00", "0.00", "40.00"),
        (0, "0.00", "15.00", "-15.00"),
    ]


def test_a_rolled_back_payment_leaves_no_jobs_and_no_bumps(
    session: Session, ledger: LedgerFactory
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    invoice = ledger.invoice(customer, "30.00")
    draft = ledger.payment(customer, "30.00", [(invoice, "30.00")], submit=False)
    before, tags = last_job_id(session), versions(session)
    savepoint = session.begin_nested()
    submit_payment(session, ledger.user, draft.id)
    savepoint.rollback()
    assert jobs(session, before) == []
    assert versions(session) == tags


def test_bulk_payments_queue_one_recalculation_per_batch_of_customers(
    session: Session, ledger: LedgerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments
    from verenigingen.history import pipeline

    monkeypatch.setattr(pipeline, "BULK_RECALCULATION_BATCH", 2)
    customers = [ledger.customer() for _ in range(3)]
    for customer in customers:
        ledger.member(customer)
    invoices = [ledger.invoice(customer, "10.00") for customer in customers]
    before = last_job_id(session)
    record_payments(
        session,
        ledger.user,
        [
            ReceivedPayment(
                invoice.customer_id,
                invoice.posting_date,
                Decimal("10.00"),
                allocations=[(invoice.id, Decimal("10.00"))],
            )
            for invoice in invoices
        ],
    )
    queued = jobs(session, before)
    ids = sorted(customer.id for customer in customers)
    assert [(name, params) for name, _, params in queued[:2]] == [
        ("history.recalculate_summaries", {"customer_ids": ids[:2]}),
        ("history.recalculate_summaries", {"customer_ids": ids[2:]}),
    ]
    assert [name for name, _, _ in queued[2:]] == ["history.update_payment_analytics"]


def test_with_defer_heavy_handlers_off_a_payments_follow_ups_run_in_its_transaction(
    session: Session, ledger: LedgerFactory, admin: User
) -> None:
    customer = ledger.customer()
    member = ledger.member(customer)
    invoice = ledger.invoice(customer, "40.00")  # deferred: its delta job waits, Queued
    set_setting(session, admin, "defer_heavy_handlers", False)
    before, tags = last_job_id(session), versions(session)
    payment = ledger.payment(customer, "40.00", [(invoice, "40.00")])
    assert jobs(session, before) == []
    assert versions(session)[f"member:{member.id}"] == tags[f"member:{member.id}"] + 1
    # In this transaction, not yet committed: the summary from the ledger less the invoice's
    # pending delta (its job adds it), and the month's analytics.
    summary = session.get(MemberFinancialSummary, member.id, populate_existing=True)
    assert summary is not None
    assert (summary.total_paid, summary.total_invoiced, summary.outstanding) == (
        Decimal("40.00"),
        Decimal("0.00"),
        Decimal("-40.00"),
    )
    analytics = session.get(PaymentAnalytics, payment.posting_date.replace(day=1))
    assert analytics is not None
    assert analytics.received == Decimal("40.00")
    # Cancelling it applies the negated delta to the row, at once as well.
    cancel_payment(session, ledger.user, payment.id)
    session.refresh(summary)
    assert (summary.total_paid, summary.outstanding) == (Decimal("0.00"), Decimal("0.00"))
    assert jobs(session, before) == []


def test_with_defer_heavy_handlers_off_a_failing_follow_up_fails_the_write(
    session: Session, ledger: LedgerFactory, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = ledger.customer()
    ledger.member(customer)
    draft = ledger.payment(customer, "40.00", submit=False)
    set_setting(session, admin, "defer_heavy_handlers", False)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise SummaryConflict("the summary kept changing")

    monkeypatch.setattr("verenigingen.history.summary._update", refuse)
    with pytest.raises(SummaryConflict):
        submit_payment(session, ledger.user, draft.id)

"""Rejects and returns: pain.002 and camt.054 imported once, the collection undone through billing,
the mandate acted on by the reason code, and the retry queue."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sepa_factories import Collectables, make_creditor
from sepa_reports import camt_054, pain_002
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus, Payment
from verenigingen.history.service import read_payment_history
from verenigingen.jobs.models import Notification
from verenigingen.members.models import Member
from verenigingen.sepa.batches import batch_entries, create_batch, process_batch, submit_batch
from verenigingen.sepa.errors import (
    NothingToCollect,
    ReturnAmountMismatch,
    StatusReportInvalid,
    UnknownCollection,
)
from verenigingen.sepa.models import (
    BatchStatus,
    DirectDebitBatch,
    DirectDebitEntry,
    EntryStatus,
    MandateStatus,
    RetryStatus,
    SepaMandate,
    SepaMandateUsage,
    SepaReturn,
    StatusReport,
)
from verenigingen.sepa.pain008 import export_batch
from verenigingen.sepa.retries import decide, retry_queue
from verenigingen.sepa.returns import RecordedReturn, import_status_report, record_return

TODAY = dt.date(2026, 11, 16)  # a Monday
COLLECTION = dt.date(2026, 11, 18)
MORNING = dt.datetime(2026, 11, 16, 8, 0)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


@pytest.fixture
def collectables(session: Session, treasurer: User) -> Collectables:
    make_creditor(session, treasurer)
    return Collectables(session, treasurer)


def collected_batch(
    session: Session, user: User, members: int, *, process: bool = True
) -> DirectDebitBatch:
    batch = create_batch(session, user, COLLECTION, moment=MORNING)
    export_batch(session, user, batch.id)
    submit_batch(session, user, batch.id)
    if process:
        process_batch(session, user, batch.id)
    return batch


def block(batch: DirectDebitBatch) -> str:
    return f"{batch.message_id}-RCUR"


def entries_by_invoice(session: Session, batch: DirectDebitBatch) -> dict[int, DirectDebitEntry]:
    return {entry.invoice_id: entry for entry in batch_entries(session, batch.id)}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_round_trip_rejects_reopen_invoices_act_on_mandates_and_show_in_the_history(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    members = [collectables.member() for _ in range(4)]
    invoices = [collectables.invoice(member, "25.00") for member in members]
    batch = collected_batch(session, treasurer, 4)
    assert {i.status for i in invoices} == {InvoiceStatus.PAID}
    before = read_payment_history(session, treasurer, members[0].id)  # cached now
    assert before.summary.outstanding == Decimal("0.00")
    entries = entries_by_invoice(session, batch)
    rejects = [
        (block(batch), entries[invoices[0].id].end_to_end_id, "AC04"),
        (block(batch), entries[invoices[1].id].end_to_end_id, "MD01"),
        (block(batch), entries[invoices[2].id].end_to_end_id, "AM04"),
    ]
    report = pain_002(
        batch.message_id, rejects, accepted=[(block(batch), entries[invoices[3].id].end_to_end_id)]
    )

    outcome = import_status_report(session, treasurer, report)

    assert not outcome.already_imported
    assert (outcome.tally.rejected, outcome.tally.invoices_reopened) == (3, 3)
    assert (outcome.tally.mandates_stopped, outcome.tally.mandates_invalidated) == (1, 1)
    session.expire_all()
    statuses = [session.get_one(Invoice, i.id) for i in invoices]
    assert [(i.status, i.outstanding_amount) for i in statuses] == [
        (InvoiceStatus.UNPAID, Decimal("25.00")),
        (InvoiceStatus.UNPAID, Decimal("25.00")),
        (InvoiceStatus.UNPAID, Decimal("25.00")),
        (InvoiceStatus.PAID, Decimal("0.00")),
    ]
    entries = entries_by_invoice(session, batch)
    assert [(entries[i.id].status, entries[i.id].return_reason) for i in invoices] == [
        (EntryStatus.RETURNED, "AC04"),
        (EntryStatus.RETURNED, "MD01"),
        (EntryStatus.RETURNED, "AM04"),
        (EntryStatus.COLLECTED, None),
    ]
    payments = [session.get_one(Payment, entries[i.id].payment_id) for i in invoices]
    assert [p.docstatus for p in payments] == [DocStatus.CANCELLED] * 3 + [DocStatus.SUBMITTED]
    usages = {
        u.invoice_id: (u.status, u.return_reason) for u in session.scalars(select(SepaMandateUsage))
    }
    assert usages[invoices[0].id] == ("Returned", "AC04")
    assert usages[invoices[3].id] == ("Collected", None)
    mandates = [
        session.scalars(select(SepaMandate).where(SepaMandate.member_id == m.id)).one()
        for m in members
    ]
    assert [m.status for m in mandates] == [
        MandateStatus.SUSPENDED,
        MandateStatus.INVALID,
        MandateStatus.ACTIVE,
        MandateStatus.ACTIVE,
    ]
    assert mandates[0].status_reason == "AC04 (account closed): a new IBAN or mandate is needed"
    # The cached history was invalidated in the same transaction: it shows the invoice open.
    after = read_payment_history(session, treasurer, members[0].id)
    assert after.summary.outstanding == Decimal("25.00")
    assert after.active_mandates == []
    queue = retry_queue(session, treasurer)
    assert [(r.invoice_id, r.reason_code, r.retry_due_on) for r in queue] == [
        (invoices[2].id, "AM04", TODAY)
    ]


def test_the_same_file_twice_changes_nothing_the_second_time(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    member = collectables.member()
    invoice = collectables.invoice(member)
    batch = collected_batch(session, treasurer, 1)
    end_to_end_id = entries_by_invoice(session, batch)[invoice.id].end_to_end_id
    report = pain_002(batch.message_id, [(block(batch), end_to_end_id, "AM04")])
    first = import_status_report(session, treasurer, report)
    rows = (count(session, SepaReturn), count(session, Notification), count(session, StatusReport))
    second = import_status_report(session, treasurer, report)
    assert second.already_imported
    assert second.report_id == first.report_id
    assert second.tally.rejected == 0
    assert rows == (
        count(session, SepaReturn),
        count(session, Notification),
        count(session, StatusReport),
    )
    assert rows[0] == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<Document><CstmrPmtStsRpt>", "not well-formed XML at line 1"),
        (b"<Document><Hello/></Document>", "unknown message <Hello> at line 1"),
        (
            b"<Document>\n<CstmrPmtStsRpt>\n<GrpHdr/>\n</CstmrPmtStsRpt></Document>",
            "<CstmrPmtStsRpt> at line 2 has no <OrgnlGrpInfAndSts>",
        ),
        (
            b"<Document><CstmrPmtStsRpt><OrgnlGrpInfAndSts><OrgnlMsgId>X</OrgnlMsgId>"
            b"</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>P</OrgnlPmtInfId>\n"
            b"<TxInfAndSts><OrgnlEndToEndId>E</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
            b"</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>",
            "the rejected <TxInfAndSts> at line 2 has no reason code",
        ),
        (
            b'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><Document>&e;</Document>',
            "the <Document> at line 1 holds no message",
        ),
    ],
)
def test_malformed_or_unknown_xml_names_the_element_or_line_and_imports_nothing(
    session: Session, treasurer: User, document: bytes, message: str
) -> None:
    with pytest.raises(StatusReportInvalid, match=re.escape(message)):
        import_status_report(session, treasurer, document)
    assert count(session, StatusReport) == 0


def test_an_unknown_end_to_end_id_refuses_the_whole_file(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    members = [collectables.member() for _ in range(2)]
    invoices = [collectables.invoice(member) for member in members]
    batch = collected_batch(session, treasurer, 2)
    known = entries_by_invoice(session, batch)[invoices[0].id].end_to_end_id
    report = pain_002(
        batch.message_id, [(block(batch), known, "AM04"), (block(batch), "B999-I999", "AM04")]
    )
    with pytest.raises(UnknownCollection, match="'B999-I999' matches no collection of ours"):
        import_status_report(session, treasurer, report)
    wrong_message = pain_002("SDD-OTHER", [(block(batch), known, "AM04")])
    with pytest.raises(UnknownCollection, match="not in 'SDD-OTHER'"):
        import_status_report(session, treasurer, wrong_message)
    session.expire_all()
    assert count(session, StatusReport) == 0
    assert count(session, SepaReturn) == 0
    assert session.get_one(Invoice, invoices[0].id).status == InvoiceStatus.PAID


def test_a_camt_054_return_reopens_the_invoice_and_checks_the_amount(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    member = collectables.member()
    invoice = collectables.invoice(member, "30.00")
    batch = collected_batch(session, treasurer, 1)
    end_to_end_id = entries_by_invoice(session, batch)[invoice.id].end_to_end_id
    with pytest.raises(ReturnAmountMismatch, match=r"the collection was 30\.00"):
        import_status_report(session, treasurer, camt_054([(end_to_end_id, "MD06", Decimal("3"))]))
    outcome = import_status_report(
        session, treasurer, camt_054([(end_to_end_id, "MD06", Decimal("30.00"))])
    )
    assert (outcome.file_format, outcome.tally.returned) == ("camt.054", 1)
    returned = session.scalars(select(SepaReturn)).one()
    assert (returned.kind, returned.booked_on, returned.retry_status) == (
        "Return",
        dt.date(2026, 11, 20),
        RetryStatus.NOT_RETRIED,
    )
    # MD06: the invoice is open, the mandate stays active, and no batch collects it again.
    session.expire_all()
    assert session.get_one(Invoice, invoice.id).outstanding_amount == Decimal("30.00")
    with pytest.raises(NothingToCollect):
        create_batch(session, treasurer, COLLECTION, moment=MORNING)


def test_a_retry_waits_3_days_takes_a_new_end_to_end_id_and_the_fourth_return_tells_the_treasurer(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    member = collectables.member()
    invoice = collectables.invoice(member)
    batch = collected_batch(session, treasurer, 1)
    end_to_end_id = entries_by_invoice(session, batch)[invoice.id].end_to_end_id
    import_status_report(
        session, treasurer, pain_002(batch.message_id, [(block(batch), end_to_end_id, "AC13")])
    )
    (queued,) = retry_queue(session, treasurer)
    assert (queued.attempt, queued.retry_due_on) == (1, TODAY + dt.timedelta(days=3))
    with pytest.raises(NothingToCollect):  # not due on the 18th
        create_batch(session, treasurer, COLLECTION, moment=MORNING)
    retry = create_batch(session, treasurer, dt.date(2026, 11, 19), moment=MORNING)
    (entry,) = batch_entries(session, retry.id)
    assert entry.invoice_id == invoice.id
    assert entry.end_to_end_id != end_to_end_id
    session.expire_all()
    taken = session.scalars(select(SepaReturn)).one()
    assert (taken.retry_status, taken.retry_entry_id) == (RetryStatus.INCLUDED, entry.id)
    assert retry_queue(session, treasurer) == []


@pytest.mark.parametrize(
    ("code", "attempt", "status", "days"),
    [
        ("AC01", 1, RetryStatus.MANDATE_NEEDED, None),
        ("AG01", 1, RetryStatus.MANDATE_NEEDED, None),
        ("MD02", 1, RetryStatus.MANDATE_NEEDED, None),
        ("MS02", 1, RetryStatus.NOT_RETRIED, None),
        ("AM04", 1, RetryStatus.WAITING, 0),
        ("MS03", 2, RetryStatus.EXHAUSTED, None),
        ("AC13", 1, RetryStatus.WAITING, 3),
        ("AC13", 2, RetryStatus.WAITING, 7),
        ("AC13", 3, RetryStatus.WAITING, 14),
        ("AC13", 4, RetryStatus.EXHAUSTED, None),
    ],
)
def test_the_reason_code_and_attempt_decide_the_retry(
    code: str, attempt: int, status: RetryStatus, days: int | None
) -> None:
    decision = decide(code, attempt, TODAY)
    assert decision.retry_status == status
    expected = None if days is None else TODAY + dt.timedelta(days=days)
    assert decision.retry_due_on == expected


def test_after_the_last_retry_the_treasurer_is_told_and_a_stopped_member_asked(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    portal = create_user(session, "lid@example.org", Role.MEMBER)
    members = [collectables.member() for _ in range(2)]
    session.get_one(Member, members[1].id).user_id = portal.id
    invoices = [collectables.invoice(member) for member in members]
    batch = collected_batch(session, treasurer, 2)
    entries = entries_by_invoice(session, batch)
    # The first invoice was returned once before: its second AM04 gets no retry.
    import_status_report(
        session,
        treasurer,
        pain_002(batch.message_id, [(block(batch), entries[invoices[0].id].end_to_end_id, "AM04")]),
    )
    retry = create_batch(session, treasurer, COLLECTION, moment=MORNING)
    export_batch(session, treasurer, retry.id)
    submit_batch(session, treasurer, retry.id)
    process_batch(session, treasurer, retry.id)
    again = entries_by_invoice(session, retry)[invoices[0].id].end_to_end_id
    report = pain_002(
        retry.message_id,
        [(block(retry), again, "AM04")],
        message_id="STS-2",
    )
    outcome = import_status_report(session, treasurer, report)
    assert outcome.tally.retries_exhausted == 1
    told = session.scalars(select(Notification).where(Notification.user_id == treasurer.id)).one()
    assert "failed after every retry" in told.subject
    assert again in told.message
    stopped = import_status_report(
        session,
        treasurer,
        pain_002(batch.message_id, [(block(batch), entries[invoices[1].id].end_to_end_id, "AC06")]),
    )
    assert stopped.tally.mandates_stopped == 1
    asked = session.scalars(select(Notification).where(Notification.user_id == portal.id)).one()
    assert asked.subject == "Direct debit stopped: new IBAN or mandate needed"


def test_a_rejected_block_before_processing_leaves_the_batch_partially_processed(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    members = [collectables.member() for _ in range(3)]
    invoices = [collectables.invoice(member) for member in members]
    batch = collected_batch(session, treasurer, 3, process=False)
    entries = entries_by_invoice(session, batch)
    report = pain_002(
        batch.message_id, [(block(batch), entries[invoices[0].id].end_to_end_id, "AC01")]
    )
    outcome = import_status_report(session, treasurer, report)
    assert (outcome.tally.rejected, outcome.tally.invoices_reopened) == (1, 0)
    processed = process_batch(session, treasurer, batch.id)
    assert processed.status == BatchStatus.PARTIALLY_PROCESSED
    session.expire_all()
    assert [session.get_one(Invoice, i.id).status for i in invoices] == [
        InvoiceStatus.UNPAID,
        InvoiceStatus.PAID,
        InvoiceStatus.PAID,
    ]
    usage = session.scalars(
        select(SepaMandateUsage).where(SepaMandateUsage.invoice_id == invoices[0].id)
    ).one()
    assert (usage.status, usage.return_reason, usage.payment_id) == ("Failed", "AC01", None)


def test_a_whole_message_rejected_fails_the_batch(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    for _ in range(2):
        collectables.invoice(collectables.member())
    batch = collected_batch(session, treasurer, 2, process=False)
    report = pain_002(batch.message_id, [], group_status="RJCT", group_reason="AM05")
    assert import_status_report(session, treasurer, report).tally.rejected == 2
    assert process_batch(session, treasurer, batch.id).status == BatchStatus.FAILED
    assert count(session, Payment) == 0


def test_a_bank_statement_return_line_is_recorded_once(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    member = collectables.member()
    invoice = collectables.invoice(member)
    batch = collected_batch(session, treasurer, 1)
    end_to_end_id = entries_by_invoice(session, batch)[invoice.id].end_to_end_id
    args = {"reason_code": "MS03", "booked_on": dt.date(2026, 11, 20)}
    assert (
        record_return(
            session, treasurer, end_to_end_id="NOT-OURS", amount=Decimal("-25.00"), **args
        )
        is None
    )
    with pytest.raises(ReturnAmountMismatch):
        record_return(session, treasurer, end_to_end_id=end_to_end_id, amount=Decimal("1"), **args)
    first = record_return(
        session, treasurer, end_to_end_id=end_to_end_id, amount=Decimal("-25.00"), **args
    )
    assert first is not None
    assert not first.already_recorded
    assert (first.retry_status, first.retry_due_on) == (RetryStatus.WAITING, dt.date(2026, 11, 20))
    second = record_return(
        session, treasurer, end_to_end_id=end_to_end_id, amount=Decimal("25.00"), **args
    )
    assert second is not None
    assert second.already_recorded
    assert count(session, SepaReturn) == 1
    session.expire_all()
    assert session.get_one(Invoice, invoice.id).status == InvoiceStatus.UNPAID


def test_bank_statement_return_lines_are_recorded_together_in_the_same_statements(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    from verenigingen.perf.capture import capture
    from verenigingen.sepa.returns import StatementReturn, record_returns

    invoices = [collectables.invoice(collectables.member()) for _ in range(9)]
    batch = collected_batch(session, treasurer, 9)
    entries = entries_by_invoice(session, batch)
    ids = [entries[invoice.id].end_to_end_id for invoice in invoices]
    day = dt.date(2026, 11, 20)

    def line(end_to_end_id: str, amount: str = "-25.00", code: str = "MS03") -> StatementReturn:
        return StatementReturn(end_to_end_id, code, Decimal(amount), day)

    mixed = [
        line("NOT-OURS"),
        line(ids[0], "1.00"),
        line(ids[1]),
        line(ids[1]),
        line(ids[2], code="ac04"),
    ]
    with capture() as few_log:
        few = record_returns(session, treasurer, mixed)
    assert few[0] is None
    assert isinstance(few[1], ReturnAmountMismatch)
    assert [(r.entry_id, r.already_recorded) for r in few[2:] if isinstance(r, RecordedReturn)] == [
        (entries[invoices[1].id].id, False),
        (entries[invoices[1].id].id, True),
        (entries[invoices[2].id].id, False),
    ]
    assert isinstance(few[4], RecordedReturn)
    assert few[4].reason_code == "AC04"
    codes = ["MS03", "AC04"] * 3
    with capture() as many_log:
        many = record_returns(
            session,
            treasurer,
            [line(e2e, code=code) for e2e, code in zip(ids[3:9], codes, strict=True)],
        )
    assert all(isinstance(r, RecordedReturn) and not r.already_recorded for r in many)
    assert few_log.count == many_log.count, many_log.describe()
    assert count(session, SepaReturn) == 8
    session.expire_all()
    assert session.get_one(Invoice, invoices[0].id).status == InvoiceStatus.PAID
    reopened = [session.get_one(Invoice, invoice.id).status for invoice in invoices[1:]]
    assert reopened == [InvoiceStatus.UNPAID] * 8
    stopped = session.scalars(
        select(func.count()).select_from(SepaMandate).where(SepaMandate.status == "Suspended")
    ).one()
    assert stopped == 4


def test_processing_reports_its_progress_per_chunk(
    session: Session,
    collectables: Collectables,
    treasurer: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from verenigingen.jobs.progress import listening
    from verenigingen.sepa import batches

    monkeypatch.setattr(batches, "PROCESS_CHUNK", 2)
    for _ in range(5):
        collectables.invoice(collectables.member())
    batch = collected_batch(session, treasurer, 5, process=False)
    heard: list[tuple[int, int]] = []
    with listening(lambda done, total: heard.append((done, total))):
        assert process_batch(session, treasurer, batch.id).status == BatchStatus.PROCESSED
    assert heard == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert count(session, Payment) == 5


def test_an_import_costs_the_same_statements_for_2_or_6_rejects(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    from verenigingen.perf.capture import capture

    invoices = [collectables.invoice(collectables.member()) for _ in range(8)]
    batch = collected_batch(session, treasurer, 8)
    entries = entries_by_invoice(session, batch)
    ids = [entries[invoice.id].end_to_end_id for invoice in invoices]
    few = pain_002(batch.message_id, [(block(batch), e2e, "AM04") for e2e in ids[:2]])
    many = pain_002(
        batch.message_id, [(block(batch), e2e, "AM04") for e2e in ids[2:]], message_id="STS-2"
    )
    with capture() as small:
        import_status_report(session, treasurer, few)
    with capture() as large:
        import_status_report(session, treasurer, many)
    assert large.count == small.count
    assert count(session, SepaReturn) == 8


STOP_IMPORT_STATEMENTS = 25
"""An import whose rejects stop or invalidate mandates, for 2 rejects as for 6: what every
import costs, and five for the mandates (locked, changed, their members' tags bumped, the
members' accounts read, notified). It was five per reject: a lock, an update, a bump, a read
and a notification each."""


def test_an_import_with_stop_codes_costs_the_same_statements_for_2_or_6_rejects(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    from verenigingen.perf.capture import capture

    members = [collectables.member() for _ in range(8)]
    for number, member in enumerate(members):
        portal = create_user(session, f"lid{number}@example.org", Role.MEMBER)
        session.get_one(Member, member.id).user_id = portal.id
    invoices = [collectables.invoice(member) for member in members]
    batch = collected_batch(session, treasurer, 8)
    entries = entries_by_invoice(session, batch)
    ids = [entries[invoice.id].end_to_end_id for invoice in invoices]
    codes = ["AC04", "MD01", "AC01", "AC06", "AG01", "MD07", "MD02", "AC04"]
    rejects = [(block(batch), e2e, code) for e2e, code in zip(ids, codes, strict=True)]
    few = pain_002(batch.message_id, rejects[:2])
    many = pain_002(batch.message_id, rejects[2:], message_id="STS-2")
    with capture() as small:
        first = import_status_report(session, treasurer, few)
    with capture() as large:
        second = import_status_report(session, treasurer, many)
    assert (first.tally.mandates_stopped, first.tally.mandates_invalidated) == (1, 1)
    assert (second.tally.mandates_stopped, second.tally.mandates_invalidated) == (5, 1)
    assert small.count == large.count == STOP_IMPORT_STATEMENTS, large.describe()
    session.expire_all()
    statuses = [
        session.scalars(select(SepaMandate.status).where(SepaMandate.member_id == m.id)).one()
        for m in members
    ]
    invalid = {1, 6}
    assert statuses == [
        MandateStatus.INVALID if n in invalid else MandateStatus.SUSPENDED for n in range(8)
    ]
    asked = session.scalars(select(Notification.subject).order_by(Notification.id)).all()
    assert len(asked) == 8
    assert asked.count("Direct debit mandate invalid: please sign a new one") == 2


@pytest.mark.parametrize(
    "namespace",
    [
        "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10",
        "urn:iso:std:iso:20022:tech:xsd:pain.002.001.14",
        "urn:example:bank:own",
    ],
)
def test_any_pain_002_version_or_namespace_reads_the_same(
    session: Session, collectables: Collectables, treasurer: User, namespace: str
) -> None:
    invoice = collectables.invoice(collectables.member())
    batch = collected_batch(session, treasurer, 1)
    end_to_end_id = entries_by_invoice(session, batch)[invoice.id].end_to_end_id
    report = pain_002(
        batch.message_id, [(block(batch), end_to_end_id, "MS03")], namespace=namespace
    )
    assert import_status_report(session, treasurer, report).tally.reason_codes == {"MS03": 1}


def test_a_waiting_retry_leaves_the_queue_once_the_invoice_is_paid_another_way(
    session: Session, collectables: Collectables, treasurer: User
) -> None:
    from verenigingen.billing.service.bulk_payments import ReceivedPayment, record_payments

    invoice = collectables.invoice(collectables.member())
    batch = collected_batch(session, treasurer, 1)
    end_to_end_id = entries_by_invoice(session, batch)[invoice.id].end_to_end_id
    import_status_report(
        session, treasurer, pain_002(batch.message_id, [(block(batch), end_to_end_id, "AM04")])
    )
    assert len(retry_queue(session, treasurer)) == 1
    record_payments(
        session,
        treasurer,
        [
            ReceivedPayment(
                invoice.customer_id,
                TODAY,
                Decimal("25.00"),
                allocations=((invoice.id, Decimal("25.00")),),
            )
        ],
    )
    assert retry_queue(session, treasurer) == []
    assert len(retry_queue(session, treasurer, status=None)) == 1

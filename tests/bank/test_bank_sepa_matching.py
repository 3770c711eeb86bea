"""Money in from the association's own direct debits, matched with confidence 1.00: a whole
batch booked as one line (processed as the SEPA domain does), one block of it, or each
collection on its own line by its end-to-end id. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from bank_samples import ING
from sepa_factories import Collectables, make_creditor
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.bank.descriptions import parse_description
from verenigingen.bank.errors import AllocationsNotLineAmount
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.reconcile import reconcile_open_lines
from verenigingen.bank.review import accept_candidate
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import AuditEvent, Invoice, Payment
from verenigingen.sepa.batches import batch_entries, create_batch, process_batch, submit_batch
from verenigingen.sepa.models import DirectDebitBatch, SepaMandateUsage
from verenigingen.sepa.pain008 import export_batch

TODAY = dt.date(2026, 11, 16)
COLLECTION = dt.date(2026, 11, 18)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def statement(entries: list[tuple[str, str]], statement_id: str = "DD-1") -> bytes:
    """A balanced camt.053 of the ING account: ``(amount, NtryDtls inner XML)``, a negative
    amount a debit."""
    total = sum((Decimal(amount) for amount, _ in entries), Decimal("0.00"))
    body = "".join(
        f'<Ntry><Amt Ccy="EUR">{Decimal(amount).copy_abs()}</Amt><CdtDbtInd>'
        f"{'DBIT' if amount.startswith('-') else 'CRDT'}</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>2026-11-18</Dt></BookgDt><AcctSvcrRef>{statement_id}-{n}</AcctSvcrRef>"
        f"<NtryDtls>{details}</NtryDtls></Ntry>"
        for n, (amount, details) in enumerate(entries)
    )
    opening = Decimal("500.00")
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<Stmt><Id>{statement_id}</Id><Acct><Id><IBAN>{ING}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{opening}</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-17</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{opening + total}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-18</Dt></Dt></Bal>{body}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def batch_booking(reference: str, count: int) -> str:
    return f"<Btch><PmtInfId>{reference}</PmtInfId><NbOfTxs>{count}</NbOfTxs></Btch>"


def one_collection(end_to_end_id: str) -> str:
    return f"<TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs></TxDtls>"


class Collected:
    """A submitted batch of three collections (25.00, 30.00, 45.00) on 18 November."""

    def __init__(self, session: Session, treasurer: User) -> None:
        self.session = session
        make_creditor(session, treasurer)
        add_account(session, treasurer, ING)
        members = Collectables(session, treasurer)
        self.invoices = [
            members.invoice(members.member(), amount) for amount in ("25.00", "30.00", "45.00")
        ]
        moment = dt.datetime(2026, 11, 16, 8, 0)
        self.batch = create_batch(session, treasurer, COLLECTION, moment=moment)
        export_batch(session, treasurer, self.batch.id)
        submit_batch(session, treasurer, self.batch.id)
        self.entries = batch_entries(session, self.batch.id)

    def outstanding(self) -> list[Decimal]:
        for invoice in self.invoices:
            self.session.refresh(invoice)
        return [invoice.outstanding_amount for invoice in self.invoices]

    def usages(self) -> set[str]:
        return set(self.session.scalars(select(SepaMandateUsage.status)).all())


@pytest.fixture
def collected(any_session: Session, treasurer: User) -> Collected:
    return Collected(any_session, treasurer)


def test_a_batch_booked_as_one_line_is_processed_as_a_whole(
    collected: Collected, treasurer: User
) -> None:
    session = collected.session
    reference = collected.batch.message_id
    import_statement_file(session, treasurer, statement([("100.00", batch_booking(reference, 3))]))

    assert reconcile_open_lines(session, treasurer).allocated == 1

    line = session.scalars(select(BankStatementLine)).one()
    assert (
        line.reconciliation_status,
        line.match_score,
        line.payment_information_id,
        line.end_to_end_id,
    ) == ("Allocated", Decimal("1.00"), reference, None)
    assert collected.outstanding() == [Decimal("0.00")] * 3
    session.refresh(collected.batch)
    assert collected.batch.status == "Processed"
    modes = session.scalars(select(Payment.mode_of_payment)).all()
    assert modes == ["SEPA Direct Debit"] * 3
    assert collected.usages() == {"Collected"}
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "bank_statement_line")
    ).one()
    assert event.data is not None
    assert (event.event, event.data["direct_debit_batch_id"], event.data["automatic"]) == (
        "bank_line.allocated",
        collected.batch.id,
        True,
    )


def test_each_collection_on_its_own_line_is_matched_by_its_end_to_end_id(
    collected: Collected, treasurer: User
) -> None:
    session = collected.session
    first, second, third = collected.entries
    import_statement_file(
        session,
        treasurer,
        statement(
            [
                (f"{first.amount}", one_collection(first.end_to_end_id)),
                (f"{second.amount}", one_collection(second.end_to_end_id)),
            ]
        ),
    )
    assert reconcile_open_lines(session, treasurer).allocated == 2
    lines = session.scalars(select(BankStatementLine).order_by(BankStatementLine.id)).all()
    assert [(line.match_score, line.match_invoice_id) for line in lines] == [
        (Decimal("1.00"), first.invoice_id),
        (Decimal("1.00"), second.invoice_id),
    ]
    for entry in (first, second, third):
        session.refresh(entry)
    assert [e.status for e in (first, second, third)] == ["Collected", "Collected", "Pending"]
    assert first.payment_id == lines[0].payment_id
    session.refresh(collected.batch)
    assert collected.batch.status == "Submitted"  # one collection still to come

    import_statement_file(
        session,
        treasurer,
        statement([(f"{third.amount}", one_collection(third.end_to_end_id))], "DD-2"),
    )
    assert reconcile_open_lines(session, treasurer).allocated == 1
    session.refresh(collected.batch)
    assert collected.batch.status == "Processed"  # closed once nothing was pending
    assert collected.outstanding() == [Decimal("0.00")] * 3


def test_a_block_of_the_batch_is_collected_on_its_own(
    collected: Collected, treasurer: User
) -> None:
    session = collected.session
    block = f"{collected.batch.message_id}-{collected.entries[0].sequence_type}"
    import_statement_file(session, treasurer, statement([("100.00", batch_booking(block, 3))]))
    assert reconcile_open_lines(session, treasurer).allocated == 1
    assert collected.outstanding() == [Decimal("0.00")] * 3
    session.refresh(collected.batch)
    assert collected.batch.status == "Processed"


def test_a_batch_booked_for_another_amount_waits_for_review(
    collected: Collected, treasurer: User
) -> None:
    session = collected.session
    reference = collected.batch.message_id
    import_statement_file(session, treasurer, statement([("75.00", batch_booking(reference, 2))]))
    # Even with the threshold at its lowest, a batch is not processed for another amount.
    assert reconcile_open_lines(session, treasurer, threshold=Decimal("0.50")).review == 1
    line = session.scalars(select(BankStatementLine)).one()
    assert (line.reconciliation_status, line.match_score) == ("Review", Decimal("0.50"))
    assert collected.outstanding() == [Decimal("25.00"), Decimal("30.00"), Decimal("45.00")]
    assert session.scalar(select(DirectDebitBatch.status)) == "Submitted"
    assert session.scalars(select(Invoice.status)).all().count("Paid") == 0
    with pytest.raises(AllocationsNotLineAmount, match=r"collects 100\.00, the line books 75\.00"):
        accept_candidate(session, treasurer, line.id)
    assert session.scalar(select(func.count()).select_from(Payment)) == 0
    assert line.reconciliation_status == "Review"


def test_a_collection_booked_for_another_amount_waits_for_review(
    collected: Collected, treasurer: User
) -> None:
    session = collected.session
    first = collected.entries[0]
    import_statement_file(
        session, treasurer, statement([("20.00", one_collection(first.end_to_end_id))])
    )
    assert reconcile_open_lines(session, treasurer, threshold=Decimal("0.50")).review == 1
    line = session.scalars(select(BankStatementLine)).one()
    assert (line.match_score, line.match_invoice_id) == (Decimal("0.50"), first.invoice_id)
    session.refresh(first)
    assert first.status == "Pending"
    assert session.scalar(select(func.count()).select_from(Payment)) == 0


def returned(end_to_end_id: str, reason: str) -> str:
    return (
        f"<TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs>"
        f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls>"
    )


def test_a_returned_direct_debit_goes_to_the_sepa_returns(
    collected: Collected, treasurer: User
) -> None:
    session = collected.session
    reference = collected.batch.message_id
    import_statement_file(session, treasurer, statement([("100.00", batch_booking(reference, 3))]))
    reconcile_open_lines(session, treasurer)
    first = collected.entries[0]
    import_statement_file(
        session,
        treasurer,
        statement(
            [
                (f"-{first.amount}", returned(first.end_to_end_id, "MD06")),
                ("-12.00", returned("SOMEONE-ELSES-1", "AC04")),
            ],
            "DD-2",
        ),
    )

    result = reconcile_open_lines(session, treasurer)

    assert (result.returned, result.review, result.allocated) == (1, 1, 0)
    ours = session.scalars(
        select(BankStatementLine).where(BankStatementLine.end_to_end_id == first.end_to_end_id)
    ).one()
    assert (ours.reconciliation_status, ours.match_invoice_id) == ("Returned", first.invoice_id)
    other = session.scalars(
        select(BankStatementLine).where(BankStatementLine.end_to_end_id == "SOMEONE-ELSES-1")
    ).one()
    assert other.reconciliation_status == "Review"
    assert collected.outstanding() == [first.amount, Decimal("0.00"), Decimal("0.00")]
    session.refresh(first)
    assert (first.status, first.return_reason) == ("Returned", "MD06")
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "bank_line.return_recorded")
    ).one()
    assert event.data is not None
    assert (event.entity_id, event.data["reason_code"]) == (ours.id, "MD06")


def test_mt940_names_the_batch_by_its_payment_information_id() -> None:
    description = parse_description(
        "/TRTP/SEPA Incasso batch/PREF/BATCH-20261116-RCUR/NRTX/3/REMI/Contributie"
    )
    assert description.payment_information_id == "BATCH-20261116-RCUR"


def payments(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Payment)) or 0


def test_the_rest_of_a_batch_booked_as_one_line_after_a_collection_of_its_own_is_processed(
    collected: Collected, treasurer: User
) -> None:
    """SEPA's processing counts the entry a line collected before as collected: Processed."""
    session = collected.session
    first = collected.entries[0]
    rest = sum((entry.amount for entry in collected.entries[1:]), Decimal("0.00"))
    import_statement_file(
        session, treasurer, statement([(f"{first.amount}", one_collection(first.end_to_end_id))])
    )
    assert reconcile_open_lines(session, treasurer).allocated == 1
    import_statement_file(
        session,
        treasurer,
        statement([(f"{rest}", batch_booking(collected.batch.message_id, 2))], "DD-2"),
    )

    assert reconcile_open_lines(session, treasurer).allocated == 1

    session.refresh(collected.batch)
    assert collected.batch.status == "Processed"
    assert collected.outstanding() == [Decimal("0.00")] * 3
    assert payments(session) == 3  # one per entry, none twice
    assert collected.usages() == {"Collected"}


def test_processing_a_batch_whose_collections_were_booked_line_by_line_is_processed(
    collected: Collected, treasurer: User
) -> None:
    """The treasurer processes the batch after two lines collected two of its entries: only the
    third is collected now, and the batch is Processed (not Partially Processed)."""
    session = collected.session
    first, second, third = collected.entries
    import_statement_file(
        session,
        treasurer,
        statement(
            [
                (f"{first.amount}", one_collection(first.end_to_end_id)),
                (f"{second.amount}", one_collection(second.end_to_end_id)),
            ]
        ),
    )
    reconcile_open_lines(session, treasurer)

    process_batch(session, treasurer, collected.batch.id)

    assert collected.batch.status == "Processed"
    assert payments(session) == 3
    session.refresh(third)
    assert third.status == "Collected"
    assert collected.outstanding() == [Decimal("0.00")] * 3


def test_a_collection_returned_before_the_batch_is_processed_leaves_it_partially_processed(
    collected: Collected, treasurer: User
) -> None:
    """A collection booked on its own line and returned before the rest of the batch is booked:
    the batch line for the rest has SEPA process the batch, which counts the return as not
    collected: Partially Processed, and the returned invoice owes again."""
    session = collected.session
    first = collected.entries[0]
    import_statement_file(
        session, treasurer, statement([(f"{first.amount}", one_collection(first.end_to_end_id))])
    )
    assert reconcile_open_lines(session, treasurer).allocated == 1
    import_statement_file(
        session,
        treasurer,
        statement([(f"-{first.amount}", returned(first.end_to_end_id, "MD06"))], "DD-2"),
    )
    assert reconcile_open_lines(session, treasurer).returned == 1
    session.refresh(first)
    assert first.status == "Returned"
    rest = sum((entry.amount for entry in collected.entries[1:]), Decimal("0.00"))
    import_statement_file(
        session,
        treasurer,
        statement([(f"{rest}", batch_booking(collected.batch.message_id, 2))], "DD-3"),
    )

    assert reconcile_open_lines(session, treasurer).allocated == 1

    session.refresh(collected.batch)
    assert collected.batch.status == "Partially Processed"
    assert collected.outstanding() == [first.amount, Decimal("0.00"), Decimal("0.00")]

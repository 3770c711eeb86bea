"""A direct debit and its return reconciled in one run, in two, or the return first; and a batch
booking a bank names only by its message id. SQLite, PostgreSQL and MariaDB.

The collection is booked before its return is recorded, whatever order the run meets them in:
the entry Collected and its invoice paid, then SEPA's returns reverse it (the payment cancelled,
the invoice owing again, the reason on the entry and its usage, the mandate stopped for AC04).
A return whose collection no statement has booked yet waits in review, saying so, and the first
run after the collection is booked records it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from bank_samples import ING, sample
from sepa_factories import Collectables, make_creditor
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.bank.formats import read_statement_file
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.reconcile import ReconcileResult, reconcile_open_lines
from verenigingen.bank.review import ReturnNote, ReturnWait, review_lines
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import AuditEvent, Payment
from verenigingen.sepa.batches import batch_entries, create_batch, process_batch, submit_batch
from verenigingen.sepa.models import (
    DirectDebitBatch,
    DirectDebitEntry,
    SepaMandate,
    SepaMandateUsage,
    SepaReturn,
)
from verenigingen.sepa.pain008 import export_batch

TODAY = dt.date(2026, 11, 16)
COLLECTION = dt.date(2026, 11, 18)
RETURNED_ON = dt.date(2026, 11, 23)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]

Entry = tuple[dt.date, str, str]
"""A statement entry: booking date, amount (negative: a debit), ``NtryDtls`` inner XML."""


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Here on the three engines (the bank tests' own conftest narrows it to two)."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


def statement(entries: list[Entry], statement_id: str) -> bytes:
    """A balanced camt.053 of the ING account holding ``entries`` in the order given."""
    total = sum((Decimal(amount) for _, amount, _ in entries), Decimal("0.00"))
    body = "".join(
        f'<Ntry><Amt Ccy="EUR">{Decimal(amount).copy_abs()}</Amt><CdtDbtInd>'
        f"{'DBIT' if amount.startswith('-') else 'CRDT'}</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>{booked}</Dt></BookgDt><AcctSvcrRef>{statement_id}-{n}</AcctSvcrRef>"
        f"<NtryDtls>{details}</NtryDtls></Ntry>"
        for n, (booked, amount, details) in enumerate(entries)
    )
    dates = [booked for booked, _, _ in entries]
    opening = Decimal("500.00")
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<Stmt><Id>{statement_id}</Id><Acct><Id><IBAN>{ING}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{opening}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{min(dates)}</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{opening + total}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{max(dates)}</Dt></Dt></Bal>{body}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def collection(end_to_end_id: str) -> str:
    return f"<TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs></TxDtls>"


def returned(end_to_end_id: str, reason: str) -> str:
    return (
        f"<TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs>"
        f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls>"
    )


class Batch:
    """A submitted batch of three collections (25.00, 30.00, 45.00) on 18 November."""

    def __init__(self, session: Session, treasurer: User) -> None:
        self.session = session
        self.treasurer = treasurer
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

    def collections(self) -> list[Entry]:
        """Each collection on its own line on the collection date."""
        return [(COLLECTION, f"{e.amount}", collection(e.end_to_end_id)) for e in self.entries]

    def return_of_first(self) -> Entry:
        first = self.entries[0]
        return (RETURNED_ON, f"-{first.amount}", returned(first.end_to_end_id, "AC04"))

    def imported(self, entries: list[Entry], statement_id: str) -> None:
        import_statement_file(self.session, self.treasurer, statement(entries, statement_id))

    def reconciled(self) -> ReconcileResult:
        return reconcile_open_lines(self.session, self.treasurer)

    def outstanding(self) -> list[Decimal]:
        for invoice in self.invoices:
            self.session.refresh(invoice)
        return [invoice.outstanding_amount for invoice in self.invoices]

    def entry_states(self) -> list[tuple[str, str | None]]:
        rows = self.session.execute(
            select(DirectDebitEntry.status, DirectDebitEntry.return_reason)
            .where(DirectDebitEntry.batch_id == self.batch.id)
            .order_by(DirectDebitEntry.id)
            .execution_options(populate_existing=True)
        ).all()
        return [(row.status, row.return_reason) for row in rows]

    def usage_states(self) -> list[str]:
        return list(
            self.session.scalars(
                select(SepaMandateUsage.status)
                .where(SepaMandateUsage.batch_reference == self.batch.message_id)
                .order_by(SepaMandateUsage.invoice_id)
            )
        )

    def first_mandate(self) -> str:
        status = self.session.scalar(
            select(SepaMandate.status)
            .where(SepaMandate.id == self.entries[0].mandate_id)
            .execution_options(populate_existing=True)
        )
        assert status is not None
        return status

    def return_line(self) -> BankStatementLine:
        return self.session.scalars(
            select(BankStatementLine)
            .where(BankStatementLine.amount < 0)
            .execution_options(populate_existing=True)
        ).one()

    def payments(self) -> list[tuple[Decimal, int]]:
        """Every payment's amount and docstatus (2: cancelled), oldest first."""
        rows = self.session.execute(
            select(Payment.paid_amount, Payment.docstatus).order_by(Payment.id)
        ).all()
        return [(row.paid_amount, row.docstatus) for row in rows]


@pytest.fixture
def batch(any_session: Session, treasurer: User) -> Batch:
    return Batch(any_session, treasurer)


def assert_collected_then_returned(batch: Batch) -> None:
    """The first collection booked and then reversed by its AC04 return; the others paid."""
    session = batch.session
    first = batch.entries[0]
    assert batch.entry_states() == [("Returned", "AC04"), ("Collected", None), ("Collected", None)]
    assert batch.outstanding() == [Decimal("25.00"), Decimal("0.00"), Decimal("0.00")]
    assert batch.usage_states() == ["Returned", "Collected", "Collected"]
    # Its payment was made (the collection booked), then cancelled by the return.
    assert batch.payments() == [
        (Decimal("25.00"), 2),
        (Decimal("30.00"), 1),
        (Decimal("45.00"), 1),
    ]
    recorded = session.scalars(select(SepaReturn)).one()
    assert (recorded.entry_id, recorded.kind, recorded.reason_code, recorded.booked_on) == (
        first.id,
        "Return",
        "AC04",
        RETURNED_ON,
    )
    assert batch.first_mandate() == "Suspended"  # AC04: account closed, a new one is needed
    line = batch.return_line()
    assert (line.reconciliation_status, line.match_invoice_id) == ("Returned", first.invoice_id)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "bank_line.return_recorded")
    ).one()
    assert event.data is not None
    assert (event.entity_id, event.data["reason_code"], event.data["already_recorded"]) == (
        line.id,
        "AC04",
        False,
    )


@pytest.mark.parametrize("return_listed_first", [False, True], ids=["booking order", "reversed"])
def test_one_statement_with_a_collection_and_its_return(
    batch: Batch, return_listed_first: bool
) -> None:
    """A month's statement: the collections on the 18th, the return of one on the 23rd. Listed
    in booking order, or (as no bank does) with the return first: the same outcome."""
    entries = [*batch.collections(), batch.return_of_first()]
    if return_listed_first:
        entries = entries[-1:] + entries[:-1]
    batch.imported(entries, "NOV")

    assert batch.reconciled() == ReconcileResult(allocated=3, review=0, returned=1)

    assert_collected_then_returned(batch)
    statuses = batch.session.scalars(
        select(BankStatementLine.reconciliation_status)
        .where(BankStatementLine.amount > 0)
        .execution_options(populate_existing=True)
    ).all()
    assert statuses == ["Allocated"] * 3


@pytest.mark.parametrize("reconciled_between", [True, False], ids=["each", "both at once"])
def test_two_statements_imported_in_order(batch: Batch, reconciled_between: bool) -> None:
    """The collections' statement, then the return's: reconciled after each import, or once
    after both."""
    batch.imported(batch.collections(), "NOV-1")
    if reconciled_between:
        assert batch.reconciled() == ReconcileResult(allocated=3, review=0, returned=0)
        assert batch.entry_states()[0] == ("Collected", None)
    batch.imported([batch.return_of_first()], "NOV-2")

    result = batch.reconciled()

    expected = (0, 1) if reconciled_between else (3, 1)
    assert (result.allocated, result.returned, result.review) == (*expected, 0)
    assert_collected_then_returned(batch)


def test_a_return_imported_before_its_collection_waits_in_review_until_it_is_booked(
    batch: Batch,
) -> None:
    """The return's statement first: recording it now would take it for a reject of a
    collection never made. It waits in review saying why, changes nothing, and is recorded by
    the first run after the collections' statement is imported."""
    session = batch.session
    batch.imported([batch.return_of_first()], "NOV-2")

    assert batch.reconciled() == ReconcileResult(allocated=0, review=1, returned=0)

    line = batch.return_line()
    assert line.reconciliation_status == "Review"
    assert batch.entry_states() == [("Pending", None)] * 3
    assert batch.outstanding() == [Decimal("25.00"), Decimal("30.00"), Decimal("45.00")]
    assert session.scalar(select(func.count()).select_from(SepaReturn)) == 0
    assert batch.first_mandate() == "Active"
    (item,) = review_lines(session, batch.treasurer).items
    assert item.line.id == line.id
    assert item.note is not None
    assert item.note.why == "collection_not_booked"
    assert "its collection is not booked yet" in item.note.text
    assert batch.entries[0].end_to_end_id in item.note.text
    # Another run while the collection is still missing: nothing changes, nothing counted again.
    assert batch.reconciled() == ReconcileResult(allocated=0, review=0, returned=0)
    assert batch.return_line().reconciliation_status == "Review"

    batch.imported(batch.collections(), "NOV-1")

    assert batch.reconciled() == ReconcileResult(allocated=3, review=0, returned=1)
    assert_collected_then_returned(batch)
    assert review_lines(session, batch.treasurer).items == []


def test_a_waiting_return_is_recorded_once_the_batch_is_booked_in_another_run(
    batch: Batch,
) -> None:
    """The collections booked by a later run than the one that found the return waiting: the
    run after that records it (the review line tells the treasurer it will)."""
    session = batch.session
    batch.imported([batch.return_of_first()], "NOV-2")
    batch.reconciled()
    batch.imported(batch.collections()[:1], "NOV-1")
    # The return is taken after the money in, so this run books the collection and records it.
    assert batch.reconciled() == ReconcileResult(allocated=1, review=0, returned=1)
    assert batch.entry_states()[0] == ("Returned", "AC04")
    assert batch.outstanding()[0] == Decimal("25.00")
    assert session.scalar(select(func.count()).select_from(SepaReturn)) == 1


def test_a_waiting_return_is_recorded_after_the_batch_is_processed_under_sepa(
    batch: Batch,
) -> None:
    """No statement books the collections; the treasurer processes the batch under SEPA (the
    bank confirmed it otherwise): the next run records the return that waited."""
    batch.imported([batch.return_of_first()], "NOV-2")
    assert batch.reconciled().review == 1

    process_batch(batch.session, batch.treasurer, batch.batch.id)

    assert batch.reconciled() == ReconcileResult(allocated=0, review=0, returned=1)
    assert_collected_then_returned(batch)


def mt940(batch: Batch) -> bytes:
    """A Rabobank-style structured MT940 of the ING account: the three collections on the
    18th (``/EREF/``), the return of the first on the 23rd (``/RTRN/AC04/EREF/``)."""
    lines = [":940:", ":20:940S261123", f":25:{ING} EUR", ":28C:00318"]
    lines.append(":60F:C261117EUR000000000500,00")
    for entry in batch.entries:
        lines += [
            f":61:261118C{entry.amount:0>15}".replace(".", ",") + "N544NONREF",
            "NL44RABO0123456789",
            f":86:/TRTP/SEPA Incasso algemeen doorlopend/EREF/{entry.end_to_end_id}/NAME/J Jansen",
        ]
    first = batch.entries[0]
    lines += [
        f":61:261123D{first.amount:0>15}".replace(".", ",") + "N544NONREF",
        "NL44RABO0123456789",
        f":86:/RTRN/AC04/EREF/{first.end_to_end_id}/NAME/J Jansen/REMI/Storno contributie",
        ":62F:C261123EUR000000000575,00",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_an_mt940_statement_with_a_collection_and_its_return(batch: Batch) -> None:
    """The same in MT940: ``/RTRN/`` on the 23rd after the ``/EREF/`` collections of the 18th."""
    import_statement_file(batch.session, batch.treasurer, mt940(batch))

    assert batch.reconciled() == ReconcileResult(allocated=3, review=0, returned=1)

    assert_collected_then_returned(batch)


def batch_by_message_id(batch: Batch) -> bytes:
    """The sample whose batch entry names the batch by ``Btch/MsgId`` only, made ours."""
    return (
        sample("camt053_batch_by_message_id.xml")
        .replace(b"SDD-MESSAGE-ID", batch.batch.message_id.encode())
        .replace(b"SDD-END-TO-END", batch.entries[0].end_to_end_id.encode())
    )


def test_the_camt053_reader_keeps_a_batch_bookings_message_id() -> None:
    (read,) = read_statement_file(sample("camt053_batch_by_message_id.xml")).statements
    booking, returning = read.entries
    assert (
        booking.amount,
        booking.batch_message_id,
        booking.payment_information_id,
        booking.end_to_end_id,
    ) == (Decimal("100.00"), "SDD-MESSAGE-ID", None, None)
    assert (returning.amount, returning.end_to_end_id, returning.return_reason) == (
        Decimal("-25.00"),
        "SDD-END-TO-END",
        "AC04",
    )
    assert (returning.counterparty_name, returning.batch_message_id) == ("J JANSEN", None)


def test_a_batch_named_only_by_its_message_id_is_booked_and_its_return_recorded(
    batch: Batch,
) -> None:
    """The whole batch matched by its message id at 1.00 and processed by SEPA; the return of
    one collection in the same statement then reverses that collection."""
    session = batch.session
    import_statement_file(session, batch.treasurer, batch_by_message_id(batch))

    assert batch.reconciled() == ReconcileResult(allocated=1, review=0, returned=1)

    booking = session.scalars(
        select(BankStatementLine)
        .where(BankStatementLine.amount > 0)
        .execution_options(populate_existing=True)
    ).one()
    assert (
        booking.reconciliation_status,
        booking.match_score,
        booking.batch_message_id,
        booking.payment_information_id,
    ) == ("Allocated", Decimal("1.00"), batch.batch.message_id, None)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "bank_line.allocated")
    ).one()
    assert event.data is not None
    assert (event.entity_id, event.data["direct_debit_batch_id"], event.data["score"]) == (
        booking.id,
        batch.batch.id,
        "1.00",
    )
    assert_collected_then_returned(batch)


def test_a_message_id_of_no_batch_of_ours_is_not_a_candidate(batch: Batch) -> None:
    """A batch booking whose message id is not ours waits in review, nothing collected."""
    session = batch.session
    document = (
        sample("camt053_batch_by_message_id.xml")
        .replace(b"SDD-MESSAGE-ID", b"SDD-20261116080000-ffffffff")
        .replace(b"SDD-END-TO-END", b"SOMEONE-ELSES-1")
    )
    import_statement_file(session, batch.treasurer, document)

    assert batch.reconciled() == ReconcileResult(allocated=0, review=2, returned=0)

    assert batch.entry_states() == [("Pending", None)] * 3
    assert session.scalar(select(DirectDebitBatch.status)) == "Submitted"
    assert batch.payments() == []
    notes = {item.line.amount: item.note for item in review_lines(session, batch.treasurer).items}
    assert notes[Decimal("100.00")] is None
    assert notes[Decimal("-25.00")] == ReturnNote(
        ReturnWait.NOT_OURS,
        "a returned direct debit (AC04) of SOMEONE-ELSES-1: no collection of ours has this "
        "end-to-end id",
    )

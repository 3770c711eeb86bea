"""Importing statements: balanced or refused, gaps reported, each line stored once, the
association's accounts only, and nothing written when anything is wrong. SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bank_samples import ABN_AMRO, ING, RABOBANK, TRIODOS, sample
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.bank.errors import (
    BankAccountExists,
    StatementAccountUnknown,
    StatementCurrencyMismatch,
    StatementFileMalformed,
    StatementUnbalanced,
)
from verenigingen.bank.models import BankAccount, BankStatement, BankStatementLine
from verenigingen.bank.service import add_account, import_statement_file, statement_lines
from verenigingen.db.paging import PageRequest
from verenigingen.errors import DomainError, InvalidIban, PermissionDenied

pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def accounts(any_session: Session, treasurer: User) -> None:
    for iban in (ING, RABOBANK, ABN_AMRO):
        add_account(any_session, treasurer, iban, name="Vereniging De Voorbeeldclub")


def counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(BankStatement)) or 0,
        session.scalar(select(func.count()).select_from(BankStatementLine)) or 0,
    )


@pytest.mark.usefixtures("accounts")
def test_an_mt940_statement_is_stored_with_its_lines(any_session: Session, treasurer: User) -> None:
    result = import_statement_file(any_session, treasurer, sample("ing_structured.mt940"))
    assert result.file_format == "mt940"
    assert (result.lines_added, result.lines_skipped, result.gaps) == (3, 0, ())
    (imported,) = result.statements
    statement = any_session.get(BankStatement, imported.statement_id)
    assert statement is not None
    assert (statement.statement_number, statement.sequence_number) == ("00211", 211)
    assert statement.closing_balance == Decimal("1299.55")
    assert statement.imported_by == treasurer.email
    page = statement_lines(any_session, treasurer, statement.id, page=PageRequest(10, count=True))
    lines, total = page.items, page.total
    assert total == 3
    assert [line.amount for line in lines] == [
        Decimal("25.00"),
        Decimal("37.50"),
        Decimal("-12.95"),
    ]
    assert lines[0].counterparty_iban == "NL44RABO0123456789"
    assert lines[0].remittance == "Contributie november 2026 ACC-INV-2026-00042"
    assert lines[2].mandate_reference == "KLT-000918"


@pytest.mark.usefixtures("accounts")
def test_importing_the_same_file_again_adds_nothing(any_session: Session, treasurer: User) -> None:
    import_statement_file(
        any_session, treasurer, sample("abnamro_mixed.mt940"), account_iban=ABN_AMRO
    )
    before = counts(any_session)
    again = import_statement_file(
        any_session, treasurer, sample("abnamro_mixed.mt940"), account_iban=ABN_AMRO
    )
    assert (again.lines_added, again.lines_skipped) == (0, 5)
    assert all(s.already_imported for s in again.statements)
    assert counts(any_session) == before == (2, 5)  # both identical 45.00 payments are kept


@pytest.mark.usefixtures("accounts")
def test_an_overlapping_statement_adds_only_its_new_lines(
    any_session: Session, treasurer: User
) -> None:
    """The camt.053 of 2 and 3 November repeats the three entries of the MT940 of 2 November."""
    import_statement_file(any_session, treasurer, sample("ing_structured.mt940"))
    result = import_statement_file(any_session, treasurer, sample("ing_camt053_v02.xml"))
    assert (result.lines_added, result.lines_skipped) == (1, 3)
    assert counts(any_session) == (2, 4)
    (new_line,) = any_session.scalars(
        select(BankStatementLine).where(
            BankStatementLine.statement_id == result.statements[0].statement_id
        )
    ).all()
    assert (new_line.amount, new_line.end_to_end_id) == (Decimal("60.00"), "LID-2026-0044")


@pytest.mark.usefixtures("accounts")
def test_a_gap_in_statement_numbers_is_reported(any_session: Session, treasurer: User) -> None:
    import_statement_file(any_session, treasurer, sample("rabobank_structured.mt940"))  # 307
    result = import_statement_file(any_session, treasurer, sample("rabobank_camt053_v08.xml"))
    assert result.gaps == (f"{RABOBANK}: statement 308 is missing (between 307 and 309)",)
    assert result.lines_added == 2  # reported, not refused


@pytest.mark.usefixtures("accounts")
def test_consecutive_statements_report_no_gap(any_session: Session, treasurer: User) -> None:
    result = import_statement_file(
        any_session, treasurer, sample("abnamro_mixed.mt940"), account_iban=ABN_AMRO
    )
    assert result.gaps == ()
    assert [s.statement_number for s in result.statements] == ["31201/1", "31202/1"]


# Refused, and nothing written.


def _refused(
    session: Session,
    user: User,
    content: bytes,
    error: type[DomainError],
    match: str,
    **options: str,
) -> None:
    before = counts(session)
    with pytest.raises(error, match=match):
        import_statement_file(session, user, content, **options)
    assert counts(session) == before


@pytest.mark.usefixtures("accounts")
def test_an_unbalanced_statement_is_refused_naming_the_difference(
    any_session: Session, treasurer: User
) -> None:
    content = sample("ing_structured.mt940").replace(
        b":62F:C261102EUR1299,55", b":62F:C261102EUR1300,55"
    )
    _refused(any_session, treasurer, content, StatementUnbalanced, r"a difference of 1\.00")


@pytest.mark.usefixtures("accounts")
def test_one_bad_statement_refuses_the_whole_file(any_session: Session, treasurer: User) -> None:
    """The first statement of the ABN AMRO file is fine, the second does not balance."""
    content = sample("abnamro_mixed.mt940").replace(
        b":62F:C261110EUR2617,50", b":62F:C261110EUR2617,49"
    )
    _refused(
        any_session,
        treasurer,
        content,
        StatementUnbalanced,
        r"line 20 .* difference of -0\.01",
        account_iban=ABN_AMRO,
    )


@pytest.mark.usefixtures("accounts")
def test_a_malformed_file_is_refused_naming_the_line(any_session: Session, treasurer: User) -> None:
    content = sample("rabobank_structured.mt940").replace(b":61:261105D", b":61:261105X")
    _refused(any_session, treasurer, content, StatementFileMalformed, "line 10")


@pytest.mark.usefixtures("accounts")
def test_a_truncated_file_is_refused(any_session: Session, treasurer: User) -> None:
    content = sample("rabobank_camt053_v08.xml")[:-300]
    _refused(any_session, treasurer, content, StatementFileMalformed, r"line \d+")


def test_a_statement_of_another_account_is_refused_showing_it(
    any_session: Session, treasurer: User
) -> None:
    add_account(any_session, treasurer, RABOBANK)
    _refused(
        any_session,
        treasurer,
        sample("ing_structured.mt940"),
        StatementAccountUnknown,
        f"account {ING}, which is not one of the association's",
    )


@pytest.mark.usefixtures("accounts")
def test_a_file_of_another_account_than_named_is_refused(
    any_session: Session, treasurer: User
) -> None:
    _refused(
        any_session,
        treasurer,
        sample("ing_structured.mt940"),
        StatementAccountUnknown,
        f"account {ING}, not {RABOBANK}",
        account_iban=RABOBANK,
    )


@pytest.mark.usefixtures("accounts")
def test_a_domestic_account_number_needs_the_account_named(
    any_session: Session, treasurer: User
) -> None:
    _refused(
        any_session,
        treasurer,
        sample("abnamro_mixed.mt940"),
        StatementAccountUnknown,
        "account 417164300: name its IBAN with --account",
    )
    _refused(
        any_session,
        treasurer,
        sample("abnamro_mixed.mt940"),
        StatementAccountUnknown,
        f"account 417164300: not {ING}",
        account_iban=ING,
    )


def test_a_statement_in_another_currency_than_its_account_is_refused(
    any_session: Session, treasurer: User
) -> None:
    add_account(any_session, treasurer, ING, currency="USD")
    _refused(
        any_session,
        treasurer,
        sample("ing_structured.mt940"),
        StatementCurrencyMismatch,
        "in EUR; account",
    )


@pytest.mark.usefixtures("accounts")
def test_a_membership_secretary_may_not_import(
    any_session: Session, membership_secretary: User
) -> None:
    _refused(
        any_session,
        membership_secretary,
        sample("ing_structured.mt940"),
        PermissionDenied,
        "may not",
    )


# Accounts


def test_an_account_is_registered_once(any_session: Session, treasurer: User) -> None:
    account = add_account(any_session, treasurer, "nl20 ingb 0001 2345 67", name="Contributies")
    assert (account.iban, account.name, account.currency) == (ING, "Contributies", "EUR")
    with pytest.raises(BankAccountExists):
        add_account(any_session, treasurer, ING)
    with pytest.raises(InvalidIban):
        add_account(any_session, treasurer, "NL02RABO0123456789")
    assert any_session.scalar(select(func.count()).select_from(BankAccount)) == 1


RABOBANK_BATCH_MT940 = b""":940:
:20:940S261106
:25:NL39RABO0300065264 EUR
:28C:00308
:60F:C261105EUR000000004025,00
:61:261106C000000000060,00N544NONREF
:86:/TRTP/SEPA Incasso batch/PREF/DD-BATCH-2026-11-RCUR/NRTX/2/REMI/Contributie
:61:261106C000000000025,00N541NONREF
NL02ABNA0123456789
:86:/EREF/LID-2026-0102/NAME/A.B. Bakker/REMI/Contributie ACC-INV-2026-00102
:62F:C261106EUR000000004110,00
"""


def lines_by_position(session: Session) -> list[BankStatementLine]:
    return list(
        session.scalars(
            select(BankStatementLine).order_by(
                BankStatementLine.statement_id, BankStatementLine.position
            )
        )
    )


def test_a_batch_booking_is_stored_with_its_payment_information_id(
    any_session: Session, treasurer: User
) -> None:
    """camt ``Btch/PmtInfId`` and MT940 ``/PREF/`` land in ``payment_information_id``; the
    end-to-end id stays the payer's (none on a batch booking)."""
    add_account(any_session, treasurer, RABOBANK)
    import_statement_file(any_session, treasurer, sample("rabobank_camt053_v08.xml"))
    import_statement_file(any_session, treasurer, RABOBANK_BATCH_MT940)
    lines = lines_by_position(any_session)
    assert [(line.payment_information_id, line.end_to_end_id) for line in lines] == [
        ("DD-BATCH-2026-11", None),
        (None, "DD-2026-10-0013"),
        ("DD-BATCH-2026-11-RCUR", None),
        (None, "LID-2026-0102"),
    ]
    assert [line.reconciliation_status for line in lines] == ["Open"] * 4


def test_a_collection_names_its_block_by_the_payment_information_id_of_its_transaction(
    any_session: Session, treasurer: User
) -> None:
    """One transaction's ``TxDtls/Refs/PmtInfId`` is stored beside its end-to-end id."""
    add_account(any_session, treasurer, RABOBANK)
    content = sample("rabobank_camt053_v08.xml").replace(
        b"<Refs><EndToEndId>DD-2026-10-0013</EndToEndId>",
        b"<Refs><PmtInfId>DD-BATCH-2026-10-RCUR</PmtInfId><EndToEndId>DD-2026-10-0013</EndToEndId>",
    )
    import_statement_file(any_session, treasurer, content)
    returned = lines_by_position(any_session)[1]
    assert (returned.payment_information_id, returned.end_to_end_id) == (
        "DD-BATCH-2026-10-RCUR",
        "DD-2026-10-0013",
    )


def test_a_triodos_statement_is_of_the_account_its_domestic_number_names(
    any_session: Session, treasurer: User
) -> None:
    """``:25:TRIODOSBANK/0212345678`` is the Triodos IBAN: no ``--account`` needed. Triodos
    numbers every statement 1, so no gap is reported between its statements."""
    add_account(any_session, treasurer, TRIODOS)
    classic = import_statement_file(any_session, treasurer, sample("triodos_classic.mt940"))
    structured = import_statement_file(any_session, treasurer, sample("triodos_structured.mt940"))
    assert [
        (s.account_iban, s.lines_added) for s in classic.statements + structured.statements
    ] == [
        (TRIODOS, 3),
        (TRIODOS, 2),
    ]
    assert (classic.gaps, structured.gaps) == ((), ())
    assert counts(any_session) == (2, 5)

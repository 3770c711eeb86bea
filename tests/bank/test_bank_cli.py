"""``verenigingen bank``: accounts add and list, import with its counts, gaps and refusals, and
a progress bar on a large file; on the embedded shape (SQLite in the data directory)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from bank_samples import ABN_AMRO, FILES, ING, RABOBANK
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from verenigingen.bank.models import BankStatement, BankStatementLine
from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    monkeypatch.setattr("verenigingen.cli.bank.console", Console(width=250, soft_wrap=True))
    get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for iban in (ING, RABOBANK, ABN_AMRO):
        assert runner.invoke(app, ["bank", "accounts", "add", iban]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def bank(*args: str) -> str:
    result = runner.invoke(app, ["bank", *args])
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str) -> str:
    result = runner.invoke(app, ["bank", *args])
    assert result.exit_code == 1, result.output
    return result.output


def rows(data_dir: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        counted = (
            session.scalar(select(func.count()).select_from(BankStatement)) or 0,
            session.scalar(select(func.count()).select_from(BankStatementLine)) or 0,
        )
    engine.dispose()
    return counted


def test_accounts_are_added_once_and_listed(data_dir: Path) -> None:
    listing = bank("accounts", "list")
    assert ING in listing
    assert RABOBANK in listing
    assert "registered already" in refused("accounts", "add", ING.lower())
    assert "not a valid IBAN" in refused("accounts", "add", "NL02RABO0123456789")


def test_import_reports_lines_added_skipped_and_gaps(data_dir: Path) -> None:
    first = bank("import", str(FILES / "rabobank_structured.mt940"))
    assert "mt940: 1 statements, 3 lines added, 0 skipped" in first
    again = bank("import", str(FILES / "rabobank_structured.mt940"))
    assert "(imported before): 0 lines added, 3 skipped as already imported" in again
    later = bank("import", str(FILES / "rabobank_camt053_v08.xml"))
    assert "camt.053: 1 statements, 2 lines added, 0 skipped" in later
    assert f"gap: {RABOBANK}: statement 308 is missing (between 307 and 309)" in later
    assert rows(data_dir) == (2, 5)


def test_an_old_account_number_is_imported_with_the_account_named(data_dir: Path) -> None:
    assert "name its IBAN with --account" in refused("import", str(FILES / "abnamro_mixed.mt940"))
    out = bank("import", str(FILES / "abnamro_mixed.mt940"), "--account", ABN_AMRO)
    assert "2 statements, 5 lines added, 0 skipped" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b":62F:C261102EUR1299,55", b":62F:C261102EUR1299,56"), "a difference of 0.01"),
        ((b":61:2611021102D12,95", b":61:2611021102X12,95"), "line 16"),
        ((b"NL20INGB0001234567EUR", b"NL86INGB0002445588EUR"), "NL86INGB0002445588"),
    ],
)
def test_a_refused_file_writes_nothing(
    data_dir: Path, tmp_path: Path, change: tuple[bytes, bytes], message: str
) -> None:
    broken = tmp_path / "broken.mt940"
    broken.write_bytes((FILES / "ing_structured.mt940").read_bytes().replace(*change))
    assert message in refused("import", str(broken))
    assert rows(data_dir) == (0, 0)


def test_a_missing_file_is_refused(data_dir: Path) -> None:
    assert "cannot read" in refused("import", str(data_dir / "nothing.xml"))


def test_a_large_file_is_imported_with_a_progress_bar(data_dir: Path, tmp_path: Path) -> None:
    """1,500 entries in one camt.053: all stored, in one transaction."""
    entry = (
        '<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        "<BookgDt><Dt>2026-11-02</Dt></BookgDt><AcctSvcrRef>REF-{n:06d}</AcctSvcrRef></Ntry>"
    )
    entries = "".join(entry.format(amount="1.00", n=n) for n in range(1500))
    document = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<Stmt><Id>BIG-1</Id><Acct><Id><IBAN>{ING}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>"
        '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1500.00</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>{entries}</Stmt>"
        "</BkToCstmrStmt></Document>"
    )
    big = tmp_path / "big.xml"
    big.write_text(document)
    assert "1 statements, 1500 lines added, 0 skipped" in bank("import", str(big))
    assert rows(data_dir) == (1, 1500)
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        total = session.scalar(select(func.sum(BankStatementLine.amount)))
    engine.dispose()
    assert total == Decimal("1500.00")


def test_reconcile_and_review(data_dir: Path) -> None:
    bank("import", str(FILES / "rabobank_structured.mt940"))
    # Two credits without a candidate, and a return of a direct debit that is not ours.
    assert "0 lines paid and allocated, 3 lines to review" in bank("reconcile")
    listing = bank("review")
    assert "A.B. Bakker" in listing
    assert "Contributie ACC-INV-2026-00101" in listing
    assert "returned direct debit (MS03)" in listing
    assert "0 lines paid and allocated, 0 lines to review" in bank("reconcile")

    assert "line 2 Unrelated" in bank("review", "unrelated", "2", "--note", "niet van ons")
    assert "line 2 is Unrelated" in refused("review", "unrelated", "2")
    assert "line 1 has no candidate" in refused("review", "accept", "1")
    assert "invoice 987654 does not exist" in refused(
        "review", "allocate", "1", "--invoice", "987654"
    )
    assert "expected INVOICE_ID" in refused("review", "allocate", "1", "--invoice", "x:1.00")
    assert "a split needs" in refused("review", "allocate", "1", "--invoice", "1", "--invoice", "2")
    assert "returned direct debit" not in bank("review")

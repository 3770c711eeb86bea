"""``verenigingen sepa``: creditor settings and a batch from creation to processing on the
embedded shape; a broken rule is a one-line error and writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from rich.console import Console
from sepa_factories import VALID_CREDITOR_ID, Collectables
from sqlalchemy import select
from typer.testing import CliRunner

from contexts import context_on
from verenigingen.auth.models import Role, User
from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.sepa.models import DirectDebitBatch
from verenigingen.sepa.pain008 import schema

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    monkeypatch.setattr("verenigingen.cli.sepa.console", Console(width=250, soft_wrap=True))
    get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def sepa(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["sepa", *args])
    assert result.exit_code == code, result.output
    return result.output


def with_collectable_invoice(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        context_on(engine).attach(session)
        admin = session.scalars(select(User).where(User.role == Role.ADMINISTRATOR)).first()
        assert admin is not None
        collectables = Collectables(session, admin)
        collectables.invoice(collectables.member(), "21.00")
        session.commit()
    engine.dispose()


def batches(data_dir: Path) -> list[tuple[int, str]]:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        found = [(b.id, b.status) for b in session.scalars(select(DirectDebitBatch))]
    engine.dispose()
    return found


CREDITOR = ["--name", "De Eendracht", "--iban", "NL44RABO0123456789"]


def test_creditor_and_a_batch_from_the_command_line(data_dir: Path, tmp_path: Path) -> None:
    refused = sepa("creditor", "set", *CREDITOR, "--creditor-id", "NL52ZZZ405365330000", code=1)
    assert "not a valid SEPA creditor identifier" in refused
    assert "creditor settings yet" in sepa("creditor", "show", code=1)
    sepa("creditor", "set", *CREDITOR, "--creditor-id", VALID_CREDITOR_ID, "--cutoff", "23:59")
    shown = sepa("creditor", "show")
    assert VALID_CREDITOR_ID in shown
    assert "pain.008.001.08" in shown

    assert "not a TARGET2 business day" in sepa(
        "batch", "create", "--collection-date", "2026-12-25", code=1
    )
    assert "no invoice to collect" in sepa(
        "batch", "create", "--collection-date", "2026-11-19", code=1
    )
    assert batches(data_dir) == []
    with_collectable_invoice(data_dir)
    created = sepa("batch", "create", "--collection-date", "2026-11-19")
    assert "1 collections, 21.00 EUR on 2026-11-19" in created
    ((batch_id, _),) = batches(data_dir)
    out = tmp_path / "batch.xml"
    sepa("batch", "export", str(batch_id), "--out", str(out))
    assert schema("pain.008.001.08").validate(etree.parse(str(out)))
    assert "Submitted" in sepa("batch", "submit", str(batch_id))
    assert "Processed" in sepa("batch", "process", str(batch_id))
    assert "only a Submitted batch can be processed" in sepa(
        "batch", "process", str(batch_id), code=1
    )
    assert batches(data_dir) == [(batch_id, "Processed")]


def member_id_of_a_new_member(data_dir: Path) -> int:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        context_on(engine).attach(session)
        admin = session.scalars(select(User).where(User.role == Role.ADMINISTRATOR)).first()
        assert admin is not None
        member_id = Collectables(session, admin).member(mandate=False).id
        session.commit()
    engine.dispose()
    return member_id


def test_mandates_from_the_command_line(data_dir: Path) -> None:
    member_id = str(member_id_of_a_new_member(data_dir))
    bad = sepa(
        "mandates",
        "create",
        member_id,
        "--iban",
        "NL91ABNA0417164301",
        "--sign-date",
        "2026-11-01",
        "--reference",
        "CLI-1",
        code=1,
    )
    assert "not a valid IBAN" in bad
    assert "creditor settings yet" in sepa(
        "mandates",
        "create",
        member_id,
        "--iban",
        "NL91ABNA0417164300",
        "--sign-date",
        "2026-11-01",
        code=1,
    )
    created = sepa(
        "mandates",
        "create",
        member_id,
        "--iban",
        "NL91ABNA0417164300",
        "--sign-date",
        "2026-11-01",
        "--reference",
        "CLI-1",
    )
    assert "CLI-1: Active" in created
    mandate_id = created.split()[1]
    assert "Suspended (pauze)" in sepa("mandates", "suspend", mandate_id, "--reason", "pauze")
    assert "CLI-1: Active" in sepa("mandates", "reinstate", mandate_id)
    assert "Cancelled (opgezegd)" in sepa("mandates", "cancel", mandate_id, "--reason", "opgezegd")
    assert "cannot become Cancelled" in sepa(
        "mandates", "cancel", mandate_id, "--reason", "x", code=1
    )
    listing = sepa("mandates", "list", member_id)
    assert "CLI-1" in listing
    assert "Cancelled" in listing


def test_returns_imported_once_and_the_retry_queue_from_the_command_line(
    data_dir: Path, tmp_path: Path
) -> None:
    from sepa_reports import pain_002

    from verenigingen.sepa.models import DirectDebitEntry

    sepa("creditor", "set", *CREDITOR, "--creditor-id", VALID_CREDITOR_ID, "--cutoff", "23:59")
    with_collectable_invoice(data_dir)
    sepa("batch", "create", "--collection-date", "2026-11-19")
    ((batch_id, _),) = batches(data_dir)
    sepa("batch", "export", str(batch_id), "--out", str(tmp_path / "batch.xml"))
    sepa("batch", "submit", str(batch_id))
    sepa("batch", "process", str(batch_id))
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session:
        entry = session.scalars(select(DirectDebitEntry)).one()
        message_id = session.get_one(DirectDebitBatch, batch_id).message_id
    engine.dispose()
    report = tmp_path / "pain002.xml"
    report.write_bytes(pain_002(message_id, [(f"{message_id}-RCUR", entry.end_to_end_id, "MS03")]))
    imported = sepa("returns", "import", str(report))
    assert "1 rejected, 0 returned (MS03 1); 1 invoice(s) open again" in imported
    assert "1 retry(ies) scheduled" in imported
    assert "was imported before" in sepa("returns", "import", str(report))
    queue = sepa("retries", "list")
    assert "MS03" in queue
    assert "Waiting" in queue
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<Document>\n<CstmrPmtStsRpt>")
    assert "not well-formed XML at line 2" in sepa("returns", "import", str(broken), code=1)

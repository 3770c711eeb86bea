"""pain.008 files: valid against the official schema in both versions, one block per sequence
type, counts and sums, and an invalid batch never written out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree
from sepa_factories import Collectables, make_creditor
from sqlalchemy import select

from verenigingen.auth.models import User
from verenigingen.sepa.batches import batch_entries, create_batch
from verenigingen.sepa.errors import BatchInvalid, BatchTransitionNotAllowed
from verenigingen.sepa.models import BatchStatus, DirectDebitEntry, SepaMandateUsage
from verenigingen.sepa.pain008 import export_batch, schema, schema_errors

TODAY = dt.date(2026, 11, 16)
COLLECTION = dt.date(2026, 11, 18)
MORNING = dt.datetime(2026, 11, 16, 8, 0)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def mixed_batch(session, treasurer: User, version: str):
    """Two members collected before (RCUR) and one new (FRST), the creditor asking for FRST."""
    make_creditor(session, treasurer, pain_version=version, first_collection_frst=True)
    collectables = Collectables(session, treasurer)
    regulars = [collectables.member(), collectables.member()]
    for member in regulars:
        collectables.invoice(member, "12.34")
    collectables.invoice(collectables.member(), "100.00")
    batch = create_batch(session, treasurer, COLLECTION, moment=MORNING)
    # The regulars were collected before: their usages from an earlier batch count.
    regular_ids = {m.id for m in regulars}
    for entry in batch_entries(session, batch.id):
        if entry.member_id in regular_ids:
            entry.sequence_type = "RCUR"
    session.flush()
    return batch


def ns(version: str) -> dict[str, str]:
    return {"p": f"urn:iso:std:iso:20022:tech:xsd:{version}"}


@pytest.mark.parametrize("version", ["pain.008.001.02", "pain.008.001.08"])
def test_the_file_is_valid_and_separates_frst_from_rcur(
    session, treasurer: User, version: str
) -> None:
    batch = mixed_batch(session, treasurer, version)
    document = export_batch(session, treasurer, batch.id)
    tree = etree.fromstring(document)
    assert schema(version).validate(tree), schema(version).error_log
    n = ns(version)
    assert tree.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:MsgId", namespaces=n) == batch.message_id
    assert tree.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:NbOfTxs", namespaces=n) == "3"
    assert tree.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:CtrlSum", namespaces=n) == "124.68"
    blocks = tree.findall("p:CstmrDrctDbtInitn/p:PmtInf", namespaces=n)
    summary = [
        (
            block.findtext("p:PmtTpInf/p:SeqTp", namespaces=n),
            block.findtext("p:NbOfTxs", namespaces=n),
            block.findtext("p:CtrlSum", namespaces=n),
            block.findtext("p:ReqdColltnDt", namespaces=n),
            {
                block.findtext(path, namespaces=n)
                for path in ("p:PmtTpInf/p:SvcLvl/p:Cd", "p:PmtTpInf/p:LclInstrm/p:Cd", "p:ChrgBr")
            },
        )
        for block in blocks
    ]
    assert summary == [
        ("FRST", "1", "100.00", "2026-11-18", {"SEPA", "CORE", "SLEV"}),
        ("RCUR", "2", "24.68", "2026-11-18", {"SEPA", "CORE", "SLEV"}),
    ]
    bic = "BIC" if version.endswith(".02") else "BICFI"
    assert (
        tree.findtext(f"p:CstmrDrctDbtInitn/p:PmtInf/p:CdtrAgt/p:FinInstnId/p:{bic}", namespaces=n)
        == "RABONL2U"
    )
    ids = [e.text for e in tree.iter(f"{{{n['p']}}}EndToEndId")] + [
        e.text for e in tree.iter(f"{{{n['p']}}}PmtInfId")
    ]
    assert all(len(i) <= 35 for i in ids)
    assert len(set(ids)) == len(ids)
    assert batch.status == BatchStatus.GENERATED


def test_the_schema_catches_what_is_wrong(session, treasurer: User) -> None:
    """A negative control: the same file with a broken IBAN and element order fails the XSD."""
    batch = mixed_batch(session, treasurer, "pain.008.001.08")
    document = export_batch(session, treasurer, batch.id)
    broken = document.replace(b"<IBAN>NL91ABNA0417164300</IBAN>", b"<IBAN>nl91 abna</IBAN>", 1)
    errors = schema_errors(broken, "pain.008.001.08")
    assert errors
    assert errors[0].startswith("entry B"), errors
    renamed = document.replace(b"<ChrgBr>", b"<ChargeBearer>").replace(
        b"</ChrgBr>", b"</ChargeBearer>"
    )
    assert schema_errors(renamed, "pain.008.001.08")


def test_an_invalid_batch_is_never_written_and_lists_its_entries(session, treasurer: User) -> None:
    batch = mixed_batch(session, treasurer, "pain.008.001.08")
    entries = batch_entries(session, batch.id)
    entries[0].account_holder = "Jöns & Zoon"
    entries[1].amount = Decimal("0.00")
    session.flush()
    with pytest.raises(BatchInvalid) as raised:
        export_batch(session, treasurer, batch.id)
    errors = raised.value.errors
    assert any(entries[0].end_to_end_id in e and "debtor name" in e for e in errors), errors
    assert any(entries[1].end_to_end_id in e and "0.01" in e for e in errors), errors
    assert batch.status == BatchStatus.DRAFT


def test_a_cancelled_batch_is_not_exported(session, treasurer: User) -> None:
    from verenigingen.sepa.batches import cancel_batch

    batch = mixed_batch(session, treasurer, "pain.008.001.02")
    cancel_batch(session, treasurer, batch.id)
    with pytest.raises(BatchTransitionNotAllowed):
        export_batch(session, treasurer, batch.id)
    assert session.scalars(select(SepaMandateUsage)).all() == []
    assert {e.status for e in session.scalars(select(DirectDebitEntry))} == {"Cancelled"}

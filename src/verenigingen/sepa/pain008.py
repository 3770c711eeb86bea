"""pain.008 (SEPA Core direct debit initiation) files: built with lxml, validated before written.

A batch becomes one message in the creditor's version (``pain.008.001.02`` or ``.001.08``; they
differ in the BIC's element name, ``BIC`` or ``BICFI``) with one payment-information block per
sequence type on the batch's collection date: FRST and RCUR never share a block. A file is
returned only when it is valid against the official ISO 20022 schema (``xsd/``) and the EPC
rules the schema does not check (the SEPA character set, lengths of names, texts and ids, amount
bounds, counts and control sums); otherwise :class:`BatchInvalid` lists every error per entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.money import ZERO
from verenigingen.sepa.batches import get_batch, mark_generated
from verenigingen.sepa.creditor import required_creditor
from verenigingen.sepa.errors import BatchInvalid, BatchTransitionNotAllowed
from verenigingen.sepa.mandates import same_bank
from verenigingen.sepa.models import (
    BatchStatus,
    DirectDebitBatch,
    DirectDebitEntry,
    PainVersion,
    SepaCreditor,
    SequenceType,
)
from verenigingen.sepa.text import is_sepa_text

if TYPE_CHECKING:
    from lxml import etree

MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
MAX_ID_LENGTH = 35
MAX_NAME_LENGTH = 70
MAX_REMITTANCE_LENGTH = 140
SEQUENCE_ORDER = (
    SequenceType.FIRST,
    SequenceType.RECURRING,
    SequenceType.FINAL,
    SequenceType.ONE_OFF,
)


def namespace(version: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{version}"


@lru_cache(maxsize=2)
def schema(version: str) -> etree.XMLSchema:
    """The official schema of ``version``, parsed once per process."""
    # lxml (5 MB) is loaded by the first file checked, not by every API process.
    from lxml import etree

    source = resources.files("verenigingen.sepa").joinpath("xsd", f"{version}.xsd")
    with resources.as_file(source) as path:
        return etree.XMLSchema(etree.parse(str(path)))


class ExportedEntry(Protocol):
    """What the file says of an entry: a :class:`DirectDebitEntry`, or a row of
    :func:`export_entries` (the same columns, without the cost of 100,000 ORM objects)."""

    @property
    def invoice_id(self) -> int: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def account_holder(self) -> str: ...
    @property
    def iban(self) -> str: ...
    @property
    def bic(self) -> str | None: ...
    @property
    def mandate_reference(self) -> str: ...
    @property
    def mandate_sign_date(self) -> dt.date: ...
    @property
    def original_iban(self) -> str | None: ...
    @property
    def sequence_type(self) -> str: ...
    @property
    def end_to_end_id(self) -> str: ...
    @property
    def remittance(self) -> str: ...


def export_entries(session: Session, batch_id: int) -> list[ExportedEntry]:
    """The batch's entries as the file shows them, in its order (sequence type, then id)."""
    rows = session.execute(
        select(
            DirectDebitEntry.invoice_id,
            DirectDebitEntry.amount,
            DirectDebitEntry.account_holder,
            DirectDebitEntry.iban,
            DirectDebitEntry.bic,
            DirectDebitEntry.mandate_reference,
            DirectDebitEntry.mandate_sign_date,
            DirectDebitEntry.original_iban,
            DirectDebitEntry.sequence_type,
            DirectDebitEntry.end_to_end_id,
            DirectDebitEntry.remittance,
        )
        .where(DirectDebitEntry.batch_id == batch_id)
        .order_by(DirectDebitEntry.sequence_type, DirectDebitEntry.id)
    ).all()
    # A row reads its columns by name, as the protocol asks.
    return cast(list[ExportedEntry], rows)


@dataclass(frozen=True)
class PaymentBlock:
    """One PmtInf: the entries of one sequence type on one collection date."""

    payment_information_id: str
    sequence_type: str
    collection_date: dt.date
    entries: Sequence[ExportedEntry]

    @property
    def control_sum(self) -> Decimal:
        return sum((entry.amount for entry in self.entries), ZERO)


def payment_blocks(batch: DirectDebitBatch, entries: Sequence[ExportedEntry]) -> list[PaymentBlock]:
    """The batch's entries grouped per sequence type, FRST before RCUR."""
    blocks = []
    for sequence_type in SEQUENCE_ORDER:
        chosen = [entry for entry in entries if entry.sequence_type == sequence_type]
        if chosen:
            block_id = f"{batch.message_id}-{sequence_type.value}"
            blocks.append(PaymentBlock(block_id, sequence_type, batch.collection_date, chosen))
    return blocks


def amount_text(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def _text(value: str) -> str:
    """``value`` as XML character data (the EPC checks refuse what needs escaping; a file
    built from a broken entry must still parse, so that every error is listed)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The message is written as text from these templates rather than built element by element:
# a 100,000-entry file has 1.9 million elements, and making each one an lxml object cost more
# than everything else the export does. The schema still checks every element of the result.
_HEADER = """<?xml version='1.0' encoding='UTF-8'?>
<Document xmlns="{namespace}">
  <CstmrDrctDbtInitn>
    <GrpHdr>
      <MsgId>{message_id}</MsgId>
      <CreDtTm>{created_at}</CreDtTm>
      <NbOfTxs>{count}</NbOfTxs>
      <CtrlSum>{control_sum}</CtrlSum>
      <InitgPty>
        <Nm>{creditor_name}</Nm>
      </InitgPty>
    </GrpHdr>
"""
_BLOCK = """    <PmtInf>
      <PmtInfId>{payment_information_id}</PmtInfId>
      <PmtMtd>DD</PmtMtd>
      <NbOfTxs>{count}</NbOfTxs>
      <CtrlSum>{control_sum}</CtrlSum>
      <PmtTpInf>
        <SvcLvl>
          <Cd>SEPA</Cd>
        </SvcLvl>
        <LclInstrm>
          <Cd>CORE</Cd>
        </LclInstrm>
        <SeqTp>{sequence_type}</SeqTp>
      </PmtTpInf>
      <ReqdColltnDt>{collection_date}</ReqdColltnDt>
      <Cdtr>
        <Nm>{creditor_name}</Nm>
      </Cdtr>
      <CdtrAcct>
        <Id>
          <IBAN>{creditor_iban}</IBAN>
        </Id>
      </CdtrAcct>
      <CdtrAgt>
        <FinInstnId>
          {creditor_agent}
        </FinInstnId>
      </CdtrAgt>
      <ChrgBr>SLEV</ChrgBr>
      <CdtrSchmeId>
        <Id>
          <PrvtId>
            <Othr>
              <Id>{creditor_identifier}</Id>
              <SchmeNm>
                <Prtry>SEPA</Prtry>
              </SchmeNm>
            </Othr>
          </PrvtId>
        </Id>
      </CdtrSchmeId>
"""
_TRANSACTION = """      <DrctDbtTxInf>
        <PmtId>
          <EndToEndId>{end_to_end_id}</EndToEndId>
        </PmtId>
        <InstdAmt Ccy="EUR">{amount}</InstdAmt>
        <DrctDbtTx>
          <MndtRltdInf>
            <MndtId>{mandate_reference}</MndtId>
            <DtOfSgntr>{sign_date}</DtOfSgntr>
            {amendment}
          </MndtRltdInf>
        </DrctDbtTx>
        <DbtrAgt>
          <FinInstnId>
            {debtor_agent}
          </FinInstnId>
        </DbtrAgt>
        <Dbtr>
          <Nm>{debtor_name}</Nm>
        </Dbtr>
        <DbtrAcct>
          <Id>
            <IBAN>{debtor_iban}</IBAN>
          </Id>
        </DbtrAcct>
        <RmtInf>
          <Ustrd>{remittance}</Ustrd>
        </RmtInf>
      </DrctDbtTxInf>
"""


def _lines(indent: int, *lines: str) -> str:
    """A fragment for a template's ``{field}``: its lines after the first indented by
    ``indent`` spaces, as the field's own line is (the file reads as lxml would print it)."""
    return ("\n" + " " * indent).join(lines)


_NO_AMENDMENT = "<AmdmntInd>false</AmdmntInd>"
_AMENDED_ACCOUNT = _lines(
    12,
    "<AmdmntInd>true</AmdmntInd>",
    "<AmdmntInfDtls>",
    "  <OrgnlDbtrAcct>",
    "    <Id>",
    "      <IBAN>{iban}</IBAN>",
    "    </Id>",
    "  </OrgnlDbtrAcct>",
    "</AmdmntInfDtls>",
)
# Another bank: the rulebook's "same mandate, new debtor agent".
_AMENDED_BANK = _lines(
    12,
    "<AmdmntInd>true</AmdmntInd>",
    "<AmdmntInfDtls>",
    "  <OrgnlDbtrAgt>",
    "    <FinInstnId>",
    "      <Othr>",
    "        <Id>SMNDA</Id>",
    "      </Othr>",
    "    </FinInstnId>",
    "  </OrgnlDbtrAgt>",
    "</AmdmntInfDtls>",
)
_CREDITOR_AGENT_INDENT = 10
_DEBTOR_AGENT_INDENT = 12
_BLOCK_END = "    </PmtInf>\n"
_FOOTER = "  </CstmrDrctDbtInitn>\n</Document>\n"


def _agent(version: str, bic: str | None, indent: int) -> str:
    if not bic:  # within SEPA the IBAN alone suffices (EPC: "NOTPROVIDED")
        return _lines(indent, "<Othr>", "  <Id>NOTPROVIDED</Id>", "</Othr>")
    element = "BIC" if version == PainVersion.V02 else "BICFI"
    return f"<{element}>{_text(bic)}</{element}>"


def _amendment(entry: ExportedEntry) -> str:
    if entry.original_iban is None:
        return _NO_AMENDMENT
    if same_bank(entry.original_iban, entry.iban):
        return _AMENDED_ACCOUNT.format(iban=_text(entry.original_iban))
    return _AMENDED_BANK


def build_document(
    batch: DirectDebitBatch,
    entries: Sequence[ExportedEntry],
    creditor: SepaCreditor,
    created_at: dt.datetime,
) -> bytes:
    """The pain.008 message of ``batch`` in its version, as UTF-8 bytes (not yet validated)."""
    version = batch.pain_version
    parts = [
        _HEADER.format(
            namespace=namespace(version),
            message_id=_text(batch.message_id),
            created_at=created_at.replace(microsecond=0).isoformat(),
            count=len(entries),
            control_sum=amount_text(sum((e.amount for e in entries), ZERO)),
            creditor_name=_text(creditor.name),
        )
    ]
    creditor_agent = _agent(version, creditor.bic, _CREDITOR_AGENT_INDENT)
    for block in payment_blocks(batch, entries):
        parts.append(
            _BLOCK.format(
                payment_information_id=_text(block.payment_information_id),
                count=len(block.entries),
                control_sum=amount_text(block.control_sum),
                sequence_type=block.sequence_type,
                collection_date=block.collection_date.isoformat(),
                creditor_name=_text(creditor.name),
                creditor_iban=_text(creditor.iban),
                creditor_agent=creditor_agent,
                creditor_identifier=_text(creditor.creditor_identifier),
            )
        )
        parts.extend(
            _TRANSACTION.format(
                end_to_end_id=_text(entry.end_to_end_id),
                amount=amount_text(entry.amount),
                mandate_reference=_text(entry.mandate_reference),
                sign_date=entry.mandate_sign_date.isoformat(),
                amendment=_amendment(entry),
                debtor_agent=_agent(version, entry.bic, _DEBTOR_AGENT_INDENT),
                debtor_name=_text(entry.account_holder),
                debtor_iban=_text(entry.iban),
                remittance=_text(entry.remittance),
            )
            for entry in block.entries
        )
        parts.append(_BLOCK_END)
    parts.append(_FOOTER)
    return "".join(parts).encode("utf-8")


def epc_errors(
    batch: DirectDebitBatch, entries: Sequence[ExportedEntry], creditor: SepaCreditor
) -> list[str]:
    """The EPC rules the schema leaves out, one message per broken rule and entry."""
    errors: list[str] = []
    for label, value, limit in (
        ("message id", batch.message_id, MAX_ID_LENGTH),
        ("creditor name", creditor.name, MAX_NAME_LENGTH),
    ):
        if len(value) > limit or not is_sepa_text(value):
            errors.append(
                f"batch: {label} {value!r} breaks the SEPA character set or length {limit}"
            )
    if not entries:
        errors.append("batch: no entries")
    seen: set[str] = set()
    for entry in entries:
        where = f"entry {entry.end_to_end_id} (invoice {entry.invoice_id})"
        if entry.end_to_end_id in seen:
            errors.append(f"{where}: EndToEndId is not unique in the message")
        seen.add(entry.end_to_end_id)
        for label, value, limit in (
            ("EndToEndId", entry.end_to_end_id, MAX_ID_LENGTH),
            ("mandate reference", entry.mandate_reference, MAX_ID_LENGTH),
            ("debtor name", entry.account_holder, MAX_NAME_LENGTH),
            ("remittance information", entry.remittance, MAX_REMITTANCE_LENGTH),
        ):
            if not value or len(value) > limit:
                errors.append(f"{where}: {label} must be 1 to {limit} characters, got {len(value)}")
            elif not is_sepa_text(value):
                errors.append(f"{where}: {label} {value!r} is outside the SEPA character set")
        if not MIN_AMOUNT <= entry.amount <= MAX_AMOUNT:
            errors.append(f"{where}: amount {entry.amount} is outside 0.01 to 999,999,999.99")
        elif entry.amount != entry.amount.quantize(Decimal("0.01")):
            errors.append(f"{where}: amount {entry.amount} has more than two decimals")
        if entry.sequence_type not in (SequenceType.FIRST, SequenceType.RECURRING):
            errors.append(f"{where}: sequence type {entry.sequence_type} is not FRST or RCUR")
    return errors


def schema_errors(document: bytes, version: str) -> list[str]:
    """The schema's complaints, each named by the entry (EndToEndId) whose element it is in."""
    from lxml import etree  # at the first file checked, as in schema()

    try:
        tree = etree.fromstring(document)
    except etree.XMLSyntaxError as broken:  # a character no XML file may hold
        return [f"batch: line {broken.lineno}: {broken.msg}"]
    checker = schema(version)
    if checker.validate(tree):
        return []
    starts = sorted(
        (
            element.sourceline or 0,
            element.findtext(f"{{{namespace(version)}}}PmtId/{{{namespace(version)}}}EndToEndId")
            or "?",
        )
        for element in tree.iter(f"{{{namespace(version)}}}DrctDbtTxInf")
    )
    errors = []
    for error in checker.error_log:
        owner = [end_to_end for line, end_to_end in starts if line <= error.line]
        where = f"entry {owner[-1]}" if owner else "batch"
        errors.append(f"{where}: line {error.line}: {error.message}")
    return errors


def validated_document(
    batch: DirectDebitBatch,
    entries: Sequence[ExportedEntry],
    creditor: SepaCreditor,
    created_at: dt.datetime,
) -> bytes:
    """The batch's file, or 422 ``batch_invalid`` listing every schema and EPC error."""
    errors = epc_errors(batch, entries, creditor)
    document = build_document(batch, entries, creditor, created_at)
    errors += schema_errors(document, batch.pain_version)
    if errors:
        shown = "; ".join(errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise BatchInvalid(
            f"batch {batch.id} is not a valid {batch.pain_version}: {shown}{more}", errors
        )
    return document


def export_batch(session: Session, user: User, batch_id: int) -> bytes:
    """The batch's pain.008, validated; a Draft batch becomes Generated. A Submitted or later
    batch can be exported again (the same entries) without changing status."""
    require(user, Permission.BILLING_WRITE)
    batch = get_batch(session, user, batch_id)
    if batch.status == BatchStatus.CANCELLED:
        raise BatchTransitionNotAllowed(f"batch {batch_id} is Cancelled; it cannot be exported")
    creditor = required_creditor(session)
    entries = export_entries(session, batch.id)
    document = validated_document(batch, entries, creditor, clock.now())
    if batch.status in (BatchStatus.DRAFT, BatchStatus.GENERATED):
        mark_generated(session, user, batch.id)
    return document

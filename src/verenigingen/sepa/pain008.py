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

from lxml import etree
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.money import ZERO
from verenigingen.sepa.batches import batch_entries, get_batch, mark_generated
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
    source = resources.files("verenigingen.sepa").joinpath("xsd", f"{version}.xsd")
    with resources.as_file(source) as path:
        return etree.XMLSchema(etree.parse(str(path)))


@dataclass(frozen=True)
class PaymentBlock:
    """One PmtInf: the entries of one sequence type on one collection date."""

    payment_information_id: str
    sequence_type: str
    collection_date: dt.date
    entries: Sequence[DirectDebitEntry]

    @property
    def control_sum(self) -> Decimal:
        return sum((entry.amount for entry in self.entries), ZERO)


def payment_blocks(
    batch: DirectDebitBatch, entries: Sequence[DirectDebitEntry]
) -> list[PaymentBlock]:
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


class _Builder:
    def __init__(self, version: str) -> None:
        self.version = version
        self.ns = namespace(version)
        self.bic_element = "BIC" if version == PainVersion.V02 else "BICFI"

    def sub(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if text is not None:
            element.text = text
        return element

    def path(self, parent: etree._Element, names: str, text: str | None = None) -> etree._Element:
        """``A/B/C`` under ``parent``, the last one with ``text``."""
        element = parent
        parts = names.split("/")
        for name in parts[:-1]:
            element = self.sub(element, name)
        return self.sub(element, parts[-1], text)

    def agent(self, parent: etree._Element, name: str, bic: str | None) -> None:
        institution = self.path(parent, f"{name}/FinInstnId")
        if bic:
            self.sub(institution, self.bic_element, bic)
        else:  # within SEPA the IBAN alone suffices (EPC: "NOTPROVIDED")
            self.path(institution, "Othr/Id", "NOTPROVIDED")


def build_document(
    batch: DirectDebitBatch,
    entries: Sequence[DirectDebitEntry],
    creditor: SepaCreditor,
    created_at: dt.datetime,
) -> bytes:
    """The pain.008 message of ``batch`` in its version, as UTF-8 bytes (not yet validated)."""
    builder = _Builder(batch.pain_version)
    sub, path = builder.sub, builder.path
    root = etree.Element(f"{{{builder.ns}}}Document", nsmap={None: builder.ns})
    initiation = sub(root, "CstmrDrctDbtInitn")
    header = sub(initiation, "GrpHdr")
    sub(header, "MsgId", batch.message_id)
    sub(header, "CreDtTm", created_at.replace(microsecond=0).isoformat())
    sub(header, "NbOfTxs", str(len(entries)))
    sub(header, "CtrlSum", amount_text(sum((e.amount for e in entries), ZERO)))
    path(header, "InitgPty/Nm", creditor.name)
    for block in payment_blocks(batch, entries):
        information = sub(initiation, "PmtInf")
        sub(information, "PmtInfId", block.payment_information_id)
        sub(information, "PmtMtd", "DD")
        sub(information, "NbOfTxs", str(len(block.entries)))
        sub(information, "CtrlSum", amount_text(block.control_sum))
        kind = sub(information, "PmtTpInf")
        path(kind, "SvcLvl/Cd", "SEPA")
        path(kind, "LclInstrm/Cd", "CORE")
        sub(kind, "SeqTp", block.sequence_type)
        sub(information, "ReqdColltnDt", block.collection_date.isoformat())
        path(information, "Cdtr/Nm", creditor.name)
        path(information, "CdtrAcct/Id/IBAN", creditor.iban)
        builder.agent(information, "CdtrAgt", creditor.bic)
        sub(information, "ChrgBr", "SLEV")
        scheme = path(information, "CdtrSchmeId/Id/PrvtId/Othr")
        sub(scheme, "Id", creditor.creditor_identifier)
        path(scheme, "SchmeNm/Prtry", "SEPA")
        for entry in block.entries:
            _transaction(builder, information, entry)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _transaction(builder: _Builder, information: etree._Element, entry: DirectDebitEntry) -> None:
    sub, path = builder.sub, builder.path
    transaction = sub(information, "DrctDbtTxInf")
    path(transaction, "PmtId/EndToEndId", entry.end_to_end_id)
    amount = sub(transaction, "InstdAmt", amount_text(entry.amount))
    amount.set("Ccy", "EUR")
    mandate = path(transaction, "DrctDbtTx/MndtRltdInf")
    sub(mandate, "MndtId", entry.mandate_reference)
    sub(mandate, "DtOfSgntr", entry.mandate_sign_date.isoformat())
    if entry.original_iban is not None:
        sub(mandate, "AmdmntInd", "true")
        details = sub(mandate, "AmdmntInfDtls")
        if same_bank(entry.original_iban, entry.iban):
            path(details, "OrgnlDbtrAcct/Id/IBAN", entry.original_iban)
        else:  # another bank: the rulebook's "same mandate, new debtor agent"
            path(details, "OrgnlDbtrAgt/FinInstnId/Othr/Id", "SMNDA")
    else:
        sub(mandate, "AmdmntInd", "false")
    builder.agent(transaction, "DbtrAgt", entry.bic)
    path(transaction, "Dbtr/Nm", entry.account_holder)
    path(transaction, "DbtrAcct/Id/IBAN", entry.iban)
    path(transaction, "RmtInf/Ustrd", entry.remittance)


def epc_errors(
    batch: DirectDebitBatch, entries: Sequence[DirectDebitEntry], creditor: SepaCreditor
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
    tree = etree.fromstring(document)
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
    entries: Sequence[DirectDebitEntry],
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
    entries = batch_entries(session, batch.id)
    document = validated_document(batch, entries, creditor, clock.now())
    if batch.status in (BatchStatus.DRAFT, BatchStatus.GENERATED):
        mark_generated(session, user, batch.id)
    return document

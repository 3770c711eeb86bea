"""Reading the bank's answers to a collection: pain.002 status reports and camt.054 notifications.

Both are read by the elements' local names, so any version of either message (pain.002.001.03
to .14, camt.054.001.02 to .13) and any namespace reads the same. What comes out is the list of
rejected or returned transactions, each with its reason code and where it was in the file:

- pain.002 (``CstmrPmtStsRpt``): the report on one of our messages (``OrgnlGrpInfAndSts``).
  A transaction with ``TxSts`` RJCT is a reject; a payment-information block or the whole
  message with status RJCT and no transactions listed rejects all of its entries.
- camt.054 (``BkToCstmrDbtCdtNtfctn``): the booked entries of the creditor's account; a
  transaction with return information (``RtrInf``) is a return of one of our collections.

A file that is not well-formed XML, is another message, or lacks an element a transaction needs
raises :class:`StatusReportInvalid` naming the element and its line; nothing is read partly.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from verenigingen.sepa.errors import StatusReportInvalid

if TYPE_CHECKING:
    from lxml import etree

PAIN_002_ROOT = "CstmrPmtStsRpt"
CAMT_054_ROOT = "BkToCstmrDbtCdtNtfctn"
REJECTED = "RJCT"
MAX_FILE_BYTES = 50 * 1024 * 1024


class ReportFormat(enum.StrEnum):
    PAIN_002 = "pain.002"
    CAMT_054 = "camt.054"


@dataclass(frozen=True)
class ReportedTransaction:
    """One reject or return as the bank reported it.

    ``end_to_end_id`` None: every entry of ``payment_information_id`` (or, when that is None
    too, of the message ``original_message_id``) was rejected at once.
    """

    end_to_end_id: str | None
    reason_code: str
    original_message_id: str | None
    payment_information_id: str | None
    amount: Decimal | None
    booked_on: dt.date | None
    line: int
    """The line of the transaction's element in the file, for error messages."""


@dataclass(frozen=True)
class StatusReportFile:
    file_format: ReportFormat
    message_id: str | None
    original_message_id: str | None
    transactions: list[ReportedTransaction]


def _local(element: etree._Element) -> str:
    """``Document`` of ``{urn:iso:std:iso:20022:tech:xsd:pain.002.001.03}Document``."""
    return str(element.tag).rpartition("}")[2]


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str) and _local(child) == name]


def _child(element: etree._Element, path: str) -> etree._Element | None:
    """The first element down ``path`` (``"Rsn/Cd"``), by local names."""
    current: etree._Element | None = element
    for name in path.split("/"):
        if current is None:
            return None
        found = _children(current, name)
        current = found[0] if found else None
    return current


def _text(element: etree._Element, path: str) -> str | None:
    found = _child(element, path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _required(element: etree._Element, path: str) -> str:
    value = _text(element, path)
    if value is None:
        raise StatusReportInvalid(
            f"<{_local(element)}> at line {element.sourceline} has no <{path}>"
        )
    return value


def _line(element: etree._Element) -> int:
    return element.sourceline or 0


def _amount(element: etree._Element, path: str) -> Decimal | None:
    text = _text(element, path)
    if text is None:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise StatusReportInvalid(
            f"<{path}> at line {_line(element)} is no amount: {text[:40]!r}"
        ) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise StatusReportInvalid(f"<{path}> at line {_line(element)} is no amount: {text[:40]!r}")
    return amount


def _date(element: etree._Element, path: str) -> dt.date | None:
    text = _text(element, path)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise StatusReportInvalid(
            f"<{path}> at line {_line(element)} is no date: {text[:40]!r}"
        ) from None


def _reason(element: etree._Element, *fallbacks: str | None) -> str | None:
    """The ISO reason code of ``element``'s ``StsRsnInf`` (or ``RtrInf``), else a fallback."""
    for path in ("StsRsnInf/Rsn/Cd", "StsRsnInf/Rsn/Prtry", "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry"):
        code = _text(element, path)
        if code is not None:
            return _checked_code(element, code)
    return next((code for code in fallbacks if code is not None), None)


def _checked_code(element: etree._Element, code: str) -> str:
    if not (code.isascii() and code.isalnum() and len(code) <= 4):
        raise StatusReportInvalid(
            f"the reason code at line {_line(element)} is no ISO reason code: {code[:40]!r}"
        )
    return code.upper()


def parse_status_report(data: bytes) -> StatusReportFile:
    """The rejects or returns reported in ``data`` (a pain.002 or camt.054 file)."""
    if len(data) > MAX_FILE_BYTES:
        raise StatusReportInvalid(f"the file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    # lxml (5 MB) is loaded by the first status report, not by every API process.
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno is not None else "?"
        raise StatusReportInvalid(f"not well-formed XML at line {line}: {error.msg}") from None
    message = root if _local(root) != "Document" else next(iter(_elements(root)), None)
    if message is None:
        raise StatusReportInvalid("the <Document> at line 1 holds no message")
    name = _local(message)
    if name == PAIN_002_ROOT:
        return _pain_002(message)
    if name == CAMT_054_ROOT:
        return _camt_054(message)
    raise StatusReportInvalid(
        f"unknown message <{name}> at line {_line(message)}: expected a pain.002 "
        f"<{PAIN_002_ROOT}> or a camt.054 <{CAMT_054_ROOT}>"
    )


def _elements(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _pain_002(message: etree._Element) -> StatusReportFile:
    group = _child(message, "OrgnlGrpInfAndSts")
    if group is None:
        raise StatusReportInvalid(
            f"<{PAIN_002_ROOT}> at line {_line(message)} has no <OrgnlGrpInfAndSts>"
        )
    original_message_id = _required(group, "OrgnlMsgId")
    group_reason = _reason(group)
    group_rejected = _text(group, "GrpSts") == REJECTED
    blocks = _children(message, "OrgnlPmtInfAndSts")
    rejected: list[ReportedTransaction] = []
    if group_rejected and not blocks:
        rejected.append(
            _reported(group, None, _needs_reason(group, group_reason), original_message_id, None)
        )
    for block in blocks:
        block_id = _required(block, "OrgnlPmtInfId")
        block_reason = _reason(block, group_reason)
        transactions = _children(block, "TxInfAndSts")
        block_rejected = _text(block, "PmtInfSts") == REJECTED or group_rejected
        if block_rejected and not transactions:
            reason = _needs_reason(block, block_reason)
            rejected.append(_reported(block, None, reason, original_message_id, block_id))
        for transaction in transactions:
            status = _text(transaction, "TxSts")
            if status != REJECTED and not (status is None and block_rejected):
                continue  # accepted (ACCP, ACSC, ...) or pending: nothing to undo
            end_to_end_id = _required(transaction, "OrgnlEndToEndId")
            reason = _needs_reason(transaction, _reason(transaction, block_reason))
            rejected.append(
                ReportedTransaction(
                    end_to_end_id=end_to_end_id,
                    reason_code=reason,
                    original_message_id=original_message_id,
                    payment_information_id=block_id,
                    amount=_amount(transaction, "OrgnlTxRef/Amt/InstdAmt"),
                    booked_on=_date(transaction, "OrgnlTxRef/ReqdColltnDt"),
                    line=_line(transaction),
                )
            )
    return StatusReportFile(
        file_format=ReportFormat.PAIN_002,
        message_id=_text(message, "GrpHdr/MsgId"),
        original_message_id=original_message_id,
        transactions=rejected,
    )


def _needs_reason(element: etree._Element, reason: str | None) -> str:
    if reason is None:
        raise StatusReportInvalid(
            f"the rejected <{_local(element)}> at line {_line(element)} has no reason code "
            "(<StsRsnInf><Rsn><Cd>)"
        )
    return reason


def _reported(
    element: etree._Element,
    end_to_end_id: str | None,
    reason: str,
    original_message_id: str | None,
    block_id: str | None,
) -> ReportedTransaction:
    return ReportedTransaction(
        end_to_end_id, reason, original_message_id, block_id, None, None, _line(element)
    )


def _camt_054(message: etree._Element) -> StatusReportFile:
    returned: list[ReportedTransaction] = []
    for notification in _children(message, "Ntfctn"):
        for entry in _children(notification, "Ntry"):
            booked_on = _date(entry, "BookgDt/Dt") or _date(entry, "BookgDt/DtTm")
            for details in _children(entry, "NtryDtls"):
                for transaction in _children(details, "TxDtls"):
                    if _child(transaction, "RtrInf") is None:
                        continue  # a collection booked, not returned
                    end_to_end_id = _required(transaction, "Refs/EndToEndId")
                    reason = _reason(transaction)
                    if reason is None:
                        raise StatusReportInvalid(
                            f"<RtrInf> of the transaction at line {_line(transaction)} has no "
                            "reason code (<Rsn><Cd>)"
                        )
                    amount = _amount(transaction, "Amt") or _amount(
                        transaction, "AmtDtls/TxAmt/Amt"
                    )
                    returned.append(
                        ReportedTransaction(
                            end_to_end_id=end_to_end_id,
                            reason_code=reason,
                            original_message_id=_text(transaction, "Refs/MsgId"),
                            payment_information_id=_text(transaction, "Refs/PmtInfId"),
                            amount=amount,
                            booked_on=booked_on,
                            line=_line(transaction),
                        )
                    )
    return StatusReportFile(
        file_format=ReportFormat.CAMT_054,
        message_id=_text(message, "GrpHdr/MsgId"),
        original_message_id=None,
        transactions=returned,
    )

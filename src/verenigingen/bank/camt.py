"""camt.053 statements (BkToCstmrStmt), every version from .001.02 on, read with lxml.

Paths ignore the namespace (``{*}``): the versions differ in it more than in the elements this
module reads. Where they do differ, both forms are tried: the status is ``<Sts>BOOK</Sts>`` in
.02 and ``<Sts><Cd>BOOK</Cd></Sts>`` from .07 on; a party's name ``Dbtr/Nm`` or ``Dbtr/Pty/Nm``;
a bank's ``BIC`` or ``BICFI``. Only booked entries (``BOOK``) are read: pending ones are not in
the balances. An entry that books several transactions (a batch) is one line, as the bank booked
it; the details of a single transaction are read into the line.

The parser reads no DTD, resolves no entity and fetches nothing from the network.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from verenigingen.bank.errors import StatementCurrencyMismatch, StatementFileMalformed
from verenigingen.bank.statement_file import Statement, StatementEntry

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)


def read_camt053(content: bytes) -> tuple[Statement, ...]:
    """Every ``Stmt`` of a camt.053 document; 422 naming the line or element that is wrong."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno is not None else "?"
        raise StatementFileMalformed(
            f"line {line}: the XML cannot be read ({error.msg}); is the file cut off?"
        ) from None
    report = root.find("{*}BkToCstmrStmt")
    if etree.QName(root).localname != "Document" or report is None:
        raise StatementFileMalformed(
            f"<{etree.QName(root).localname}> is not a camt.053 document (Document/BkToCstmrStmt)"
        )
    statements = report.findall("{*}Stmt")
    if not statements:
        raise StatementFileMalformed("BkToCstmrStmt holds no Stmt")
    return tuple(_statement(element, index) for index, element in enumerate(statements, 1))


def _statement(element: Any, index: int) -> Statement:
    where = f"Stmt[{index}] (line {element.sourceline})"
    account = _text(element, "{*}Acct/{*}Id/{*}IBAN") or _text(
        element, "{*}Acct/{*}Id/{*}Othr/{*}Id"
    )
    if account is None:
        raise StatementFileMalformed(f"{where}/Acct/Id: no account")
    statement_id = _required(element, "{*}Id", where)
    sequence = _text(element, "{*}LglSeqNb") or _text(element, "{*}ElctrncSeqNb")
    opening = _balance(element, _OPENING, where)
    closing = _balance(element, _CLOSING, where)
    currency = _text(element, "{*}Acct/{*}Ccy") or opening[2]
    for _amount, _date, balance_currency, balance_where in (opening, closing):
        if balance_currency != currency:
            raise StatementCurrencyMismatch(
                f"{balance_where}: balance in {balance_currency}, the account in {currency}"
            )
    entries = []
    for number, entry in enumerate(element.findall("{*}Ntry"), 1):
        status = _text(entry, "{*}Sts/{*}Cd") or _text(entry, "{*}Sts")
        if status == "BOOK":
            entries.append(_entry(entry, f"Stmt[{index}]/Ntry[{number}]", currency))
    return Statement(
        account=account.replace(" ", ""),
        currency=currency,
        statement_number=statement_id[:35],
        sequence_number=_sequence(sequence, where),
        opening_date=opening[1],
        closing_date=closing[1],
        opening_balance=opening[0],
        closing_balance=closing[0],
        entries=tuple(entries),
        where=where,
    )


def _entry(entry: Any, where: str, currency: str) -> StatementEntry:
    located = f"{where} (line {entry.sourceline})"
    amount, entry_currency = _signed_amount(entry, located)
    if entry_currency != currency:
        raise StatementCurrencyMismatch(
            f"{located}: an entry in {entry_currency} on a statement in {currency}"
        )
    details = entry.findall("{*}NtryDtls/{*}TxDtls")
    single = details[0] if len(details) == 1 else None
    # Money in: the other party is the debtor; money out: the creditor, except when a direct
    # debit the association collected comes back: then it is the member, the debtor.
    returned = single is not None and single.find("{*}RtrInf") is not None
    party, agent = ("Dbtr", "DbtrAgt") if amount > 0 or returned else ("Cdtr", "CdtrAgt")
    return StatementEntry(
        booking_date=_date(entry, "{*}BookgDt", located),
        value_date=_date(entry, "{*}ValDt", located)
        if entry.find("{*}ValDt") is not None
        else None,
        amount=amount,
        currency=entry_currency,
        where=located,
        counterparty_name=_party_name(single, party),
        counterparty_iban=_text(single, f"{{*}}RltdPties/{{*}}{party}Acct/{{*}}Id/{{*}}IBAN"),
        counterparty_bic=_text(single, f"{{*}}RltdAgts/{{*}}{agent}/{{*}}FinInstnId/{{*}}BIC")
        or _text(single, f"{{*}}RltdAgts/{{*}}{agent}/{{*}}FinInstnId/{{*}}BICFI"),
        remittance=_remittance(single),
        end_to_end_id=_reference(_text(single, "{*}Refs/{*}EndToEndId")),
        bank_reference=_reference(
            _text(entry, "{*}AcctSvcrRef") or _text(single, "{*}Refs/{*}AcctSvcrRef")
        ),
        transaction_type=_transaction_code(entry),
        mandate_reference=_text(single, "{*}Refs/{*}MndtId"),
        creditor_id=_text(single, "{*}RltdPties/{*}Cdtr/{*}Id/{*}PrvtId/{*}Othr/{*}Id")
        or _text(single, "{*}RltdPties/{*}Cdtr/{*}Pty/{*}Id/{*}PrvtId/{*}Othr/{*}Id"),
        return_reason=_text(single, "{*}RtrInf/{*}Rsn/{*}Cd"),
        payment_information_id=_payment_information_id(entry, details),
        batch_message_id=_reference(_text(entry, "{*}NtryDtls/{*}Btch/{*}MsgId")),
    )


def _payment_information_id(entry: Any, details: list[Any]) -> str | None:
    """The SEPA payment information id the entry books: ``NtryDtls/Btch/PmtInfId`` on a batch
    booking, else the ``TxDtls/Refs/PmtInfId`` its transactions (or its one transaction) share;
    None when they name different ones or none."""
    batch = _reference(_text(entry, "{*}NtryDtls/{*}Btch/{*}PmtInfId"))
    if batch is not None:
        return batch
    shared = {_reference(_text(detail, "{*}Refs/{*}PmtInfId")) for detail in details}
    return shared.pop() if len(shared) == 1 else None


def _balance(
    statement: Any, codes: tuple[str, ...], where: str
) -> tuple[Decimal, dt.date, str, str]:
    for index, balance in enumerate(statement.findall("{*}Bal"), 1):
        code = _text(balance, "{*}Tp/{*}CdOrPrtry/{*}Cd")
        if code in codes:
            located = f"{where}/Bal[{index}] ({code})"
            amount, currency = _signed_amount(balance, located)
            return amount, _date(balance, "{*}Dt", located), currency, located
    raise StatementFileMalformed(f"{where}: no {' or '.join(codes)} balance (Bal/Tp/CdOrPrtry/Cd)")


def _signed_amount(element: Any, where: str) -> tuple[Decimal, str]:
    amount_element = element.find("{*}Amt")
    if amount_element is None or not (amount_element.text or "").strip():
        raise StatementFileMalformed(f"{where}/Amt: no amount")
    try:
        amount = Decimal(amount_element.text.strip())
    except InvalidOperation:
        raise StatementFileMalformed(
            f"{where}/Amt: {amount_element.text.strip()[:30]!r} is not an amount"
        ) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise StatementFileMalformed(f"{where}/Amt: {amount} is not an amount in cents")
    currency = amount_element.get("Ccy")
    if not currency:
        raise StatementFileMalformed(f"{where}/Amt: no currency (Ccy)")
    indicator = _text(element, "{*}CdtDbtInd")
    if indicator not in {"CRDT", "DBIT"}:
        raise StatementFileMalformed(f"{where}/CdtDbtInd: {indicator!r} is not CRDT or DBIT")
    return (amount if indicator == "CRDT" else -amount), currency


def _date(element: Any, path: str, where: str) -> dt.date:
    value = _text(element, f"{path}/{{*}}Dt") or _text(element, f"{path}/{{*}}DtTm")
    name = path.replace("{*}", "")
    if value is None:
        raise StatementFileMalformed(f"{where}/{name}: no date")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise StatementFileMalformed(f"{where}/{name}: {value[:30]!r} is not a date") from None


def _sequence(value: str | None, where: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise StatementFileMalformed(f"{where}/LglSeqNb: {value[:30]!r} is not a number")
    return int(value)


def _party_name(details: Any, party: str) -> str | None:
    return _text(details, f"{{*}}RltdPties/{{*}}{party}/{{*}}Nm") or _text(
        details, f"{{*}}RltdPties/{{*}}{party}/{{*}}Pty/{{*}}Nm"
    )


def _remittance(details: Any) -> str | None:
    if details is None:
        return None
    parts = [(part.text or "").strip() for part in details.findall("{*}RmtInf/{*}Ustrd")]
    parts += [
        (part.text or "").strip()
        for part in details.findall("{*}RmtInf/{*}Strd/{*}CdtrRefInf/{*}Ref")
    ]
    joined = " ".join(part for part in parts if part)
    return joined or None


def _transaction_code(entry: Any) -> str | None:
    domain = _text(entry, "{*}BkTxCd/{*}Domn/{*}Cd")
    if domain is not None:
        family = _text(entry, "{*}BkTxCd/{*}Domn/{*}Fmly/{*}Cd") or ""
        sub_family = _text(entry, "{*}BkTxCd/{*}Domn/{*}Fmly/{*}SubFmlyCd") or ""
        return "/".join(part for part in (domain, family, sub_family) if part)
    return _text(entry, "{*}BkTxCd/{*}Prtry/{*}Cd")


def _reference(value: str | None) -> str | None:
    if value is None or value.upper() in {"NOTPROVIDED", "NONREF"}:
        return None
    return value


def _text(element: Any, path: str) -> str | None:
    if element is None:
        return None
    value = element.findtext(path)
    if value is None:
        return None
    return " ".join(value.split()) or None


def _required(element: Any, path: str, where: str) -> str:
    value = _text(element, path)
    if value is None:
        raise StatementFileMalformed(f"{where}/{path.replace('{*}', '')}: missing")
    return value

"""MT940 statements (the ``mt-940`` package), one statement per ``:20:`` block.

The package reads tags and amounts; this module cuts the file into statements first (the package
would merge every statement of a file into one), keeps the line number of each field so that an
error can name it, and reads the ``:86:`` descriptions itself (``bank/descriptions.py``).
Text before the first ``:20:`` is a bank's envelope (ING's ``0000 01INGBNL2A...``, ABN AMRO's
``ABNANL2A``, Rabobank's ``:940:``) and is skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import mt940
from schwifty import IBAN

from verenigingen.bank.descriptions import parse_description
from verenigingen.bank.errors import StatementCurrencyMismatch, StatementFileMalformed
from verenigingen.bank.statement_file import Statement, StatementEntry

_TAG = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):")
# 1!a6!n3!a15d: the package reads the longest prefix that fits and would take ``12A0,00`` as 12.
_BALANCE = re.compile(r"^[CD]\d{6}[A-Z]{3}\d{1,12},\d{0,2}$")
_BALANCE_TAGS = {"60F", "60M", "62F", "62M", "64", "65"}
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_TRIODOS_ACCOUNT = re.compile(r"^TRIODOSBANK/(\d{1,10})$")
# What the mt-940 package raises on a field it cannot read: a pattern that does not match
# (RuntimeError), a date or amount out of range (ValueError, decimal's ArithmeticError).
_PARSE_ERRORS = (RuntimeError, ValueError, ArithmeticError, KeyError, TypeError, IndexError)
_KNOWN_TAGS = {
    "20", "21", "25", "28", "28C", "60F", "60M", "61", "86", "62F", "62M", "64", "65", "13",
    "13D", "34F", "90C", "90D", "NS",
}  # fmt: skip


@dataclass
class _Field:
    tag: str
    line_number: int
    lines: list[str]

    @property
    def value(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Block:
    line_number: int
    fields: list[_Field] = field(default_factory=list)

    def first(self, *tags: str) -> _Field | None:
        return next((f for f in self.fields if f.tag in tags), None)

    @property
    def text(self) -> str:
        return "\n".join(f":{f.tag}:{f.value}" for f in self.fields)


def read_mt940(content: bytes) -> tuple[Statement, ...]:
    """Every statement of an MT940 file; 422 naming the line that cannot be read."""
    blocks = _blocks(_decode(content))
    if not blocks:
        raise StatementFileMalformed("no MT940 statement found (no :20: line)")
    return tuple(_statement(block) for block in blocks)


def _decode(content: bytes) -> str:
    # Banks write MT940 in ASCII, some in Latin-1 for names: both read as Windows-1252.
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _blocks(text: str) -> list[_Block]:
    """The file cut at each ``:20:``; a line without a tag continues the field above it."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for line_number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        match = _TAG.match(line)
        if match and match.group("tag") == "20":
            current = _Block(line_number)
            blocks.append(current)
        if current is None or not line:
            continue
        if line in {"-", "-}"} or line.startswith("{"):
            current = None
            continue
        if match:
            tag = match.group("tag")
            if tag not in _KNOWN_TAGS:
                raise StatementFileMalformed(f"line {line_number}: unknown MT940 field :{tag}:")
            current.fields.append(_Field(tag, line_number, [line[match.end() :]]))
        elif current.fields and current.fields[-1].tag in {"61", "86", "NS"}:
            current.fields[-1].lines.append(line)
        else:
            raise StatementFileMalformed(
                f"line {line_number}: {line[:40]!r} is not an MT940 field (:NN:) nor the "
                "continuation of a :61: or :86:"
            )
    return blocks


def _statement(block: _Block) -> Statement:
    where = f"the statement at line {block.line_number}"
    for tags, name in (
        (("25",), "account (:25:)"),
        (("28C", "28"), "statement number (:28C:)"),
        (("60F", "60M"), "opening balance (:60F:)"),
        (("62F", "62M"), "closing balance (:62F:); the file may be cut off"),
    ):
        if block.first(*tags) is None:
            raise StatementFileMalformed(f"{where} has no {name}")
    for balance in (f for f in block.fields if f.tag in _BALANCE_TAGS):
        if not _BALANCE.match(balance.value.strip()):
            raise StatementFileMalformed(
                f"line {balance.line_number}: :{balance.tag}: {balance.value.strip()[:40]!r} is "
                "not a balance (C or D, YYMMDD, currency, amount with a decimal comma)"
            )
    parsed = _parse(block)
    data: dict[str, Any] = parsed.data
    opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    if opening is None or closing is None:
        raise StatementFileMalformed(f"{where}: its balances cannot be read")
    currency = str(opening.amount.currency)
    if str(closing.amount.currency) != currency:
        raise StatementCurrencyMismatch(
            f"{where}: opening balance in {currency}, closing balance in {closing.amount.currency}"
        )
    number_field = block.first("28C", "28")
    assert number_field is not None  # checked above
    return Statement(
        account=_account(str(data.get("account_identification") or "").strip()),
        currency=currency,
        statement_number=number_field.value.strip(),
        sequence_number=int(data["statement_number"]),
        opening_date=_plain_date(opening.date),
        closing_date=_plain_date(closing.date),
        opening_balance=Decimal(opening.amount.amount),
        closing_balance=Decimal(closing.amount.amount),
        entries=tuple(_entries(block, parsed, currency)),
        where=where,
    )


def _account(named: str) -> str:
    """The account as ``:25:`` names it; Triodos's ``TRIODOSBANK/0212345678`` as the IBAN it is
    (the bank and its domestic number say which)."""
    triodos = _TRIODOS_ACCOUNT.match(named)
    if triodos is None:
        return named
    return str(IBAN.generate("NL", bank_code="TRIO", account_code=triodos.group(1).zfill(10)))


def _parse(block: _Block) -> Any:
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(block.text)
        return transactions
    except _PARSE_ERRORS:
        pass
    # Find the field that failed: each field alone, after the block's opening balance.
    opening = block.first("60F", "60M")
    prefix = f":20:X\n:{opening.tag}:{opening.value}\n" if opening else ":20:X\n"
    for candidate in block.fields:
        try:
            mt940.parse(prefix + f":{candidate.tag}:{candidate.value}")
        except _PARSE_ERRORS:
            raise StatementFileMalformed(
                f"line {candidate.line_number}: field :{candidate.tag}: cannot be read: "
                f"{candidate.value.splitlines()[0][:60]!r}"
            ) from None
    raise StatementFileMalformed(f"the statement at line {block.line_number} cannot be read")


def _entries(block: _Block, parsed: Any, currency: str) -> list[StatementEntry]:
    """One entry per ``:61:``, with the ``:86:`` that follows it (before the next ``:61:``)."""
    entry_fields: list[tuple[_Field, _Field | None]] = []
    for item in block.fields:
        if item.tag == "61":
            entry_fields.append((item, None))
        elif item.tag == "86" and entry_fields and entry_fields[-1][1] is None:
            entry_fields[-1] = (entry_fields[-1][0], item)
    transactions = list(parsed)
    if len(transactions) != len(entry_fields):
        raise StatementFileMalformed(f"the statement at line {block.line_number} cannot be read")
    entries = []
    for transaction, (line_field, description_field) in zip(
        transactions, entry_fields, strict=True
    ):
        data: dict[str, Any] = transaction.data
        description = parse_description(description_field.value if description_field else "")
        supplementary = str(data.get("extra_details") or "").strip().replace(" ", "")
        counterparty_iban = description.counterparty_iban
        if counterparty_iban is None and _IBAN.match(supplementary):
            counterparty_iban = supplementary  # Rabobank: the IBAN on the :61:'s second line
        bank_reference = str(data.get("bank_reference") or "").strip() or None
        entries.append(
            StatementEntry(
                booking_date=_plain_date(data.get("entry_date") or data["date"]),
                value_date=_plain_date(data["date"]),
                amount=Decimal(data["amount"].amount),
                currency=currency,
                where=f"line {line_field.line_number}",
                counterparty_name=description.counterparty_name,
                counterparty_iban=counterparty_iban,
                counterparty_bic=description.counterparty_bic,
                remittance=description.remittance,
                end_to_end_id=description.end_to_end_id,
                bank_reference=bank_reference,
                transaction_type=description.transaction_type
                or (str(data.get("id") or "").strip() or None),
                mandate_reference=description.mandate_reference,
                creditor_id=description.creditor_id,
                return_reason=description.return_reason,
                payment_information_id=description.payment_information_id,
            )
        )
    return entries


def _plain_date(value: dt.date) -> dt.date:
    """The package's ``Date`` subclass as a plain date."""
    return dt.date(value.year, value.month, value.day)

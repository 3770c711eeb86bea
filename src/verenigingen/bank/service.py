"""What may happen: the association's accounts are registered, and statement files imported.

An import is all or nothing. Every statement of the file is read and checked first (the account
is the association's, the currency the account's, opening balance plus entries is the closing
balance); only then is anything written, and the boundary that called commits it as one
transaction. A statement imported before is recognised by its account, number and closing date
and adds nothing; of a new statement, only the entries not stored before are added
(``bank/dedupe.py``). Gaps in the statements' running numbers are reported, not refused: the
missing statement may simply be imported later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.auth.permissions import Permission, require
from verenigingen.bank.dedupe import dedup_keys
from verenigingen.bank.errors import (
    BankAccountExists,
    StatementAccountUnknown,
    StatementCurrencyMismatch,
    StatementImportConcurrent,
    StatementUnbalanced,
)
from verenigingen.bank.formats import read_statement_file
from verenigingen.bank.models import (
    BankAccount,
    BankStatement,
    BankStatementLine,
    ReconciliationStatus,
)
from verenigingen.bank.statement_file import Statement, StatementEntry, StatementFile
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import InvalidIban, NotFound, ValidationFailed
from verenigingen.iban import normalise_iban

# Existing keys are looked up this many at a time: far below every engine's parameter limit.
_KEY_CHUNK = 500
# Lines are inserted on the table (``_insert_lines``).
_LINE_TABLE = cast(Table, BankStatementLine.__table__)
ProgressCallback = Callable[[int, int], None]
"""Called with the entries handled so far and the file's entries in all, as the import goes."""


@dataclass(frozen=True)
class StatementImported:
    statement_id: int
    account_iban: str
    statement_number: str
    closing_date: str
    lines_added: int
    lines_skipped: int
    already_imported: bool
    """The statement itself was imported before: every one of its lines was skipped."""


@dataclass(frozen=True)
class ImportResult:
    file_format: str
    statements: tuple[StatementImported, ...]
    gaps: tuple[str, ...]
    """One sentence per gap in an account's statement numbers."""

    @property
    def lines_added(self) -> int:
        return sum(s.lines_added for s in self.statements)

    @property
    def lines_skipped(self) -> int:
        return sum(s.lines_skipped for s in self.statements)


# Accounts


def add_account(
    session: Session, user: User, iban: str, *, name: str = "", currency: str = "EUR"
) -> BankAccount:
    """Register an account of the association; 422 ``invalid_iban``, 409 ``bank_account_exists``."""
    require(user, Permission.BILLING_WRITE)
    compact = normalise_iban(iban)
    if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise ValidationFailed(f"currency must be three capital letters, got {currency!r}")
    if session.scalar(select(BankAccount.id).where(BankAccount.iban == compact)) is not None:
        raise BankAccountExists(f"account {compact} is registered already")
    account = BankAccount(iban=compact, name=name.strip()[:140], currency=currency)
    session.add(account)
    session.flush()
    return account


def list_accounts(session: Session, user: User) -> Sequence[BankAccount]:
    require(user, Permission.BANK_ACCOUNTS_READ)
    return session.scalars(select(BankAccount).order_by(BankAccount.iban)).all()


# Import


def import_statement_file(
    session: Session,
    user: User,
    content: bytes,
    *,
    account_iban: str | None = None,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import every statement of a camt.053 or MT940 file, each entry once.

    ``account_iban`` (``--account``) names the account the file must be of; a file that names
    its account by an older domestic number needs it. 403 for a role that may not write
    billing; 422 ``statement_file_malformed`` (naming the line or element),
    ``statement_account_unknown`` (naming the account), ``statement_currency_mismatch``,
    ``statement_unbalanced`` (naming the difference), and nothing written.
    """
    require(user, Permission.BILLING_WRITE)
    requested = normalise_iban(account_iban) if account_iban else None
    parsed = read_statement_file(content)
    accounts = {a.iban: a for a in session.scalars(select(BankAccount)).all()}
    checked = [
        (statement, _checked_statement(statement, accounts, requested))
        for statement in parsed.statements
    ]
    total = sum(len(statement.entries) for statement in parsed.statements)
    handled = 0

    def advance(count: int) -> None:
        nonlocal handled
        handled += count
        if progress is not None:
            progress(handled, total)

    imported = []
    gaps: list[str] = []
    known_sequences: dict[int, set[int]] = {}
    added_keys: dict[int, set[str]] = {}
    for statement, account in checked:
        sequences = known_sequences.setdefault(account.id, _stored_sequences(session, account))
        if statement.sequence_number is not None:
            gap = _gap_before(statement.sequence_number, sequences, account.iban)
            if gap:
                gaps.append(gap)
            sequences.add(statement.sequence_number)
        imported.append(
            _store_statement(
                session,
                user,
                parsed,
                statement,
                account,
                added_keys.setdefault(account.id, set()),
                advance,
            )
        )
    return ImportResult(parsed.file_format, tuple(imported), tuple(gaps))


def _checked_statement(
    statement: Statement, accounts: dict[str, BankAccount], requested: str | None
) -> BankAccount:
    """The association's account the statement is of, after its currency and balance check."""
    account = _statement_account(statement, accounts, requested)
    if statement.currency != account.currency:
        raise StatementCurrencyMismatch(
            f"{statement.where} is in {statement.currency}; account {account.iban} is in "
            f"{account.currency}"
        )
    entries_total = sum((e.amount for e in statement.entries), Decimal("0.00"))
    expected = statement.opening_balance + entries_total
    if expected != statement.closing_balance:
        raise StatementUnbalanced(
            f"{statement.where} (number {statement.statement_number}) does not balance: opening "
            f"balance {statement.opening_balance} plus its {len(statement.entries)} entries "
            f"({entries_total}) is {expected}, the closing balance {statement.closing_balance}: "
            f"a difference of {statement.closing_balance - expected}"
        )
    return account


def _statement_account(
    statement: Statement, accounts: dict[str, BankAccount], requested: str | None
) -> BankAccount:
    named = statement.account
    iban = _iban_in(named)
    if iban is None:
        # An older domestic account number (ABN AMRO's 417164300): only --account can say which.
        if requested is None or not _same_domestic_number(named, requested):
            hint = f"not {requested}" if requested else "name its IBAN with --account"
            raise StatementAccountUnknown(
                f"{statement.where} is of account {named or '(none)'}: {hint}"
            )
        iban = requested
    elif requested is not None and iban != requested:
        raise StatementAccountUnknown(f"{statement.where} is of account {iban}, not {requested}")
    account = accounts.get(iban)
    if account is None:
        raise StatementAccountUnknown(
            f"{statement.where} is of account {iban}, which is not one of the association's "
            "accounts (verenigingen bank accounts add)"
        )
    return account


def _iban_in(named: str) -> str | None:
    """The IBAN an MT940 ``:25:`` or camt account names: ``NL20INGB0001234567EUR`` and
    ``NL39RABO0300065264 EUR`` carry the currency after it."""
    first = (named.split() or [""])[0].upper()
    candidates = [first, first[:-3]] if first[-3:].isalpha() else [first]
    for candidate in candidates:
        try:
            return normalise_iban(candidate)
        except InvalidIban:
            continue
    return None


def _same_domestic_number(named: str, iban: str) -> bool:
    digits = "".join(ch for ch in named if ch.isdigit())
    return bool(digits) and iban[-10:].lstrip("0") == digits.lstrip("0")


def _stored_sequences(session: Session, account: BankAccount) -> set[int]:
    numbers = session.scalars(
        select(BankStatement.sequence_number).where(BankStatement.bank_account_id == account.id)
    ).all()
    return {number for number in numbers if number is not None}


def _gap_before(sequence: int, known: set[int], iban: str) -> str | None:
    """A sentence when statements are missing between the closest lower number and this one."""
    lower = max((n for n in known if n < sequence), default=None)
    if lower is None or sequence - lower <= 1:
        return None
    missing = (
        f"statement {lower + 1} is"
        if sequence - lower == 2
        else f"statements {lower + 1} to {sequence - 1} are"
    )
    return f"{iban}: {missing} missing (between {lower} and {sequence})"


def _store_statement(
    session: Session,
    user: User,
    parsed: StatementFile,
    statement: Statement,
    account: BankAccount,
    added_keys: set[str],
    advance: Callable[[int], None],
) -> StatementImported:
    existing = session.scalar(
        select(BankStatement).where(
            BankStatement.bank_account_id == account.id,
            BankStatement.statement_number == statement.statement_number,
            BankStatement.closing_date == statement.closing_date,
        )
    )
    if existing is not None:
        advance(len(statement.entries))
        return _imported(existing, account, 0, len(statement.entries), already_imported=True)
    row = BankStatement(
        bank_account_id=account.id,
        statement_number=statement.statement_number,
        sequence_number=statement.sequence_number,
        opening_date=statement.opening_date,
        closing_date=statement.closing_date,
        currency=statement.currency,
        opening_balance=statement.opening_balance,
        closing_balance=statement.closing_balance,
        entry_count=len(statement.entries),
        file_format=parsed.file_format,
        file_hash=parsed.file_hash,
        imported_by=user.email,
        imported_at=clock.now(),
    )
    session.add(row)
    _flush_or_conflict(session)
    keys = dedup_keys(statement.entries)
    stored = _stored_keys(session, account, keys)
    added = 0
    pending: list[dict[str, object]] = []
    for position, (entry, key) in enumerate(zip(statement.entries, keys, strict=True), 1):
        if key not in stored and key not in added_keys:
            pending.append(_line(row, account, position, entry, key))
            added_keys.add(key)
            added += 1
        if position % _KEY_CHUNK == 0:
            _insert_lines(session, pending)
            pending = []
            advance(_KEY_CHUNK)
    _insert_lines(session, pending)
    advance(len(statement.entries) % _KEY_CHUNK)
    return _imported(row, account, added, len(statement.entries) - added, already_imported=False)


def _flush_or_conflict(session: Session) -> None:
    """Write what is pending; a unique key taken meanwhile means another import of the same
    statement or lines committed first (a second one waits for it on the key, then fails)."""
    try:
        session.flush()
    except IntegrityError:
        raise StatementImportConcurrent(
            "another import stored this statement or some of its lines meanwhile; nothing of "
            "this one is written: import the file again to add what is still missing"
        ) from None


def _stored_keys(session: Session, account: BankAccount, keys: list[str]) -> set[str]:
    stored: set[str] = set()
    for start in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[start : start + _KEY_CHUNK]
        stored.update(
            session.scalars(
                select(BankStatementLine.dedup_key).where(
                    BankStatementLine.bank_account_id == account.id,
                    BankStatementLine.dedup_key.in_(chunk),
                )
            ).all()
        )
    return stored


def _insert_lines(session: Session, rows: list[dict[str, object]]) -> None:
    """One executemany for a chunk of lines, on the table itself: the ORM sends a statement per
    run of lines that leave the same fields empty (on SQLite, one per line). A dedup key taken
    meanwhile is another import's, as in :func:`_flush_or_conflict`."""
    if not rows:
        return
    try:
        session.execute(insert(_LINE_TABLE), rows)
    except IntegrityError:
        raise StatementImportConcurrent(
            "another import stored some of these lines meanwhile; nothing of this one is "
            "written: import the file again to add what is still missing"
        ) from None


def _line(
    statement: BankStatement, account: BankAccount, position: int, entry: StatementEntry, key: str
) -> dict[str, object]:
    return {
        "bank_account_id": account.id,
        "statement_id": statement.id,
        "position": position,
        "booking_date": entry.booking_date,
        "value_date": entry.value_date,
        "amount": entry.amount,
        "currency": entry.currency,
        "counterparty_name": _fit(entry.counterparty_name, 140),
        "counterparty_iban": _fit(entry.counterparty_iban, 34),
        "counterparty_bic": _fit(entry.counterparty_bic, 11),
        "remittance": _fit(entry.remittance, 500),
        "end_to_end_id": _fit(entry.end_to_end_id, 35),
        "payment_information_id": _fit(entry.payment_information_id, 35),
        "batch_message_id": _fit(entry.batch_message_id, 35),
        "bank_reference": _fit(entry.bank_reference, 35),
        "transaction_type": _fit(entry.transaction_type, 35),
        "mandate_reference": _fit(entry.mandate_reference, 35),
        "creditor_id": _fit(entry.creditor_id, 35),
        "return_reason": _fit(entry.return_reason, 35),
        "dedup_key": key,
        "reconciliation_status": ReconciliationStatus.OPEN,
    }


def _fit(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _imported(
    statement: BankStatement,
    account: BankAccount,
    added: int,
    skipped: int,
    *,
    already_imported: bool,
) -> StatementImported:
    return StatementImported(
        statement_id=statement.id,
        account_iban=account.iban,
        statement_number=statement.statement_number,
        closing_date=statement.closing_date.isoformat(),
        lines_added=added,
        lines_skipped=skipped,
        already_imported=already_imported,
    )


# Reading


STATEMENT_ORDER = Keyset(
    "bank-statements", (BankStatement.closing_date, BankStatement.id), descending=True
)
"""The latest closing date first: the index ``ix_bank_statement_closing_date_id`` serves it."""

LINE_ORDER = Keyset("bank-statement-lines", (BankStatementLine.position, BankStatementLine.id))
"""A statement's order: ``ix_bank_statement_line_statement`` (statement, position) serves it."""


def list_statements(
    session: Session, user: User, *, page: PageRequest = PageRequest()
) -> KeysetPage[tuple[BankStatement, str, int]]:
    """Statements newest first, each with its account's IBAN and the lines stored with it."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    page.check()
    line_count = (
        select(func.count(BankStatementLine.id))
        .where(BankStatementLine.statement_id == BankStatement.id)
        .scalar_subquery()
    )
    statement = select(BankStatement, BankAccount.iban, line_count).join(
        BankAccount, BankAccount.id == BankStatement.bank_account_id
    )

    def rows(query: Select[Any]) -> list[tuple[BankStatement, str, int]]:
        return [(row[0], row[1], row[2]) for row in session.execute(query).all()]

    return keyset_page(
        session,
        statement,
        STATEMENT_ORDER,
        page,
        key_of=lambda row: [row[0].closing_date, row[0].id],
        rows=rows,
    )


def statement_lines(
    session: Session, user: User, statement_id: int, *, page: PageRequest = PageRequest()
) -> KeysetPage[BankStatementLine]:
    """The lines stored with a statement, in the statement's order; 404 for an unknown one."""
    require(user, Permission.BANK_ACCOUNTS_READ)
    page.check()
    if session.get(BankStatement, statement_id) is None:
        raise NotFound(f"no bank statement {statement_id}")
    statement = select(BankStatementLine).where(BankStatementLine.statement_id == statement_id)
    return keyset_page(session, statement, LINE_ORDER, page)

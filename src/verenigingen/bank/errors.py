"""Rules of bank accounts and statement imports (see ``verenigingen.errors`` for the scheme).

A file that cannot be read or does not add up is 422 and nothing of it is imported; a statement
of an account the association does not hold is 422 too, naming the account.
"""

from __future__ import annotations

from verenigingen.errors import Conflict, ValidationFailed


class StatementFileMalformed(ValidationFailed):
    """The file is not a camt.053 or MT940 statement, or is truncated or broken: the detail names
    the line (MT940, XML syntax) or the element (camt.053) where reading stopped."""

    code = "statement_file_malformed"


class StatementUnbalanced(ValidationFailed):
    """Opening balance plus the statement's entries is not its closing balance; the detail names
    the statement and the difference."""

    code = "statement_unbalanced"


class StatementCurrencyMismatch(ValidationFailed):
    """An entry or balance in another currency than its statement's or the account's."""

    code = "statement_currency_mismatch"


class StatementAccountUnknown(ValidationFailed):
    """The statement is of an account that is not one of the association's (``bank accounts
    add``), or not the one named with ``--account``; the detail shows the account."""

    code = "statement_account_unknown"


class BankAccountExists(Conflict):
    """The association's account with this IBAN is registered already."""

    code = "bank_account_exists"


class StatementImportConcurrent(Conflict):
    """Another import stored the same statement or lines while this one ran; nothing of this
    one is written. Importing the file again adds what the other left out."""

    code = "statement_import_concurrent"


# Review: the treasurer's decisions on a statement line (bank/review.py).


class LineAlreadyReconciled(Conflict):
    """The line was allocated or marked not member-related already (by the automatic run or
    another treasurer); the detail says how."""

    code = "line_already_reconciled"


class LineNotMoneyIn(ValidationFailed):
    """Only money in (a positive line) can pay invoices; a debit can only be marked not
    member-related."""

    code = "line_not_money_in"


class LineCurrencyNotInvoiced(ValidationFailed):
    """The line is in another currency than the invoices (euros): it cannot pay them."""

    code = "line_currency_not_invoiced"


class AllocationsNotLineAmount(ValidationFailed):
    """The amounts allocated by hand do not add up to the line's amount; the detail names both."""

    code = "allocations_not_line_amount"


class InvoiceNotOpen(ValidationFailed):
    """The chosen invoice owes nothing: it is a draft, cancelled, a credit note or paid."""

    code = "invoice_not_open"


class LineHasNoCandidate(Conflict):
    """Accepting without naming an invoice takes the line's best candidate, and it has none
    (or its candidate was paid meanwhile): allocate by hand instead."""

    code = "line_has_no_candidate"


class InvoiceNotACandidate(ValidationFailed):
    """Accepting names an invoice that is not one of the line's candidates: allocate by hand
    to pay an invoice the line does not point to."""

    code = "invoice_not_a_candidate"

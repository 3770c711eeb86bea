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

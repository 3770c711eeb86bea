"""Which format a statement file is in: camt.053 (XML) or MT940 (text), told by its first byte.

Each reader is imported when a file of its format arrives: an API process that reads no
statement file does not load mt-940 (``tests/architecture/test_startup_imports.py``).
"""

from __future__ import annotations

import hashlib

from verenigingen.bank.errors import StatementFileMalformed
from verenigingen.bank.statement_file import StatementFile


def read_statement_file(content: bytes) -> StatementFile:
    """Every statement in ``content``; 422 ``statement_file_malformed`` naming the line or
    element when the file is not a statement, is truncated or cannot be read."""
    file_hash = hashlib.sha256(content).hexdigest()
    start = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        raise StatementFileMalformed("the file is empty")
    if start.startswith(b"<"):
        from verenigingen.bank.camt import read_camt053

        return StatementFile("camt.053", file_hash, read_camt053(content))
    from verenigingen.bank.mt940_file import read_mt940

    return StatementFile("mt940", file_hash, read_mt940(content))

"""The dedup key that stores each bank entry once per account, however often it is imported.

Banks send the same entry more than once: a file downloaded twice, an MT940 of Monday to Wednesday
and then one of Wednesday to Friday, a camt.053 of days already read as MT940. The key is what
stays the same across all of those:

- the booking date and the signed amount: the bank's own record of the money;
- one reference, the most specific the entry has: the end-to-end id (set by the payer, carried
  unchanged by every bank and both formats), else the bank's reference of the entry (camt
  ``AcctSvcrRef``, MT940 ``//``), else the counterparty's IBAN with the remittance text;
- its occurrence: the n-th entry with the same date, amount and reference in its statement.

The occurrence is what keeps two real payments apart that look alike: two members paying 45.00
on the same day from a joint account with the same message and no reference. Without it the
second would be taken for a copy of the first and lost; with it, a statement that holds both
stores both, and a later statement holding the same two adds neither. The account is not in the
key because the key is unique per account (the table's constraint names both).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from verenigingen.bank.statement_file import StatementEntry


def entry_reference(entry: StatementEntry) -> str:
    """The most specific reference ``entry`` has, tagged with its kind."""
    if entry.end_to_end_id:
        return f"e2e:{entry.end_to_end_id}"
    if entry.bank_reference:
        return f"bank:{entry.bank_reference}"
    text = " ".join((entry.remittance or "").upper().split())
    return f"text:{entry.counterparty_iban or ''}:{text}"


def dedup_keys(entries: Iterable[StatementEntry]) -> list[str]:
    """One key per entry of a statement, in order (64 hexadecimal characters each)."""
    seen: Counter[str] = Counter()
    keys = []
    for entry in entries:
        base = f"{entry.booking_date.isoformat()}|{entry.amount:.2f}|{entry_reference(entry)}"
        seen[base] += 1
        keys.append(hashlib.sha256(f"{base}|{seen[base]}".encode()).hexdigest())
    return keys

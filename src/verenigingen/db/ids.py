"""Record ids as they come from outside: ASCII digits, within a database's BIGINT.

A path id, an ``offset`` or an id in a body is read as ``int``: Python reads an Arabic-Indic
digit one (U+0661) as 1 and fails on a superscript one (U+00B9), and an integer past 2**63 - 1
reaches the driver, which cannot bind it (SQLite's OverflowError, PostgreSQL's "bigint out of
range"). These types refuse all of them at the edge, as a 422 naming the field, before anything
is read or written.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

MAX_RECORD_ID = 2**63 - 1
"""The largest BIGINT: no row has a larger id, and no offset past it means anything."""


def ascii_integer(value: Any) -> Any:
    """Text must be ASCII digits (an optional leading minus for the range check to refuse);
    numbers go on to pydantic's own checks."""
    if isinstance(value, str):
        digits = value.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError("must be a whole number in ASCII digits")
    return value


def _between(lowest: int) -> AfterValidator:
    def check(value: int) -> int:
        if not lowest <= value <= MAX_RECORD_ID:
            raise ValueError(f"must be from {lowest} to {MAX_RECORD_ID}")
        return value

    return AfterValidator(check)


RecordId = Annotated[int, BeforeValidator(ascii_integer), _between(1)]
"""The id of a record: 1 to 2**63 - 1."""

RowOffset = Annotated[int, BeforeValidator(ascii_integer), _between(0)]
"""How many rows a page skips: 0 to 2**63 - 1."""


def parse_record_id(text: str) -> int | None:
    """``text`` as a record id when it is one (ASCII digits, in range), else None."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()):
        return None
    number = int(stripped)
    return number if 1 <= number <= MAX_RECORD_ID else None

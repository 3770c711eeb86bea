"""Money is ``Decimal`` with two places; every amount that enters is checked here."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from verenigingen.errors import (
    AmountNotANumber,
    AmountNotFinite,
    AmountNotPositive,
    AmountTooLarge,
    AmountTooPrecise,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("9999999999.99")
"""The largest amount a ``Numeric(12, 2)`` column holds, on every engine."""

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_amount(value: object, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Validate an amount from outside: a JSON number or plain decimal text (``"12.50"``: ASCII
    digits, an optional point, no exponent, spaces or separators), at most two decimals,
    greater than zero, at most :data:`MAX_AMOUNT`."""
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise AmountNotANumber(f"{field} must be a number such as 12.50, got {value!r}")
    if isinstance(value, float):
        value = repr(value)  # the number as JSON wrote it, not its binary approximation
    if not isinstance(value, str | int | Decimal):
        raise AmountNotANumber(f"{field} must be a number, got {value!r}")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise AmountNotANumber(f"{field} must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise AmountNotFinite(f"{field} must be a finite number")
    # Before anything rounds: past 28 digits Decimal's own arithmetic refuses to (a 500).
    if abs(amount) > MAX_AMOUNT:
        raise AmountTooLarge(f"{field} is too large: at most {MAX_AMOUNT}, got {value}")
    if amount != amount.quantize(CENT):
        raise AmountTooPrecise(f"{field} must have at most two decimals, got {value}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise AmountNotPositive(f"{field} must be greater than zero, got {value}")
    return amount.quantize(CENT)


def round_money(value: Decimal) -> Decimal:
    """Explicit rounding for computed amounts (rates times quantities)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)

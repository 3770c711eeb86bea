"""Money is ``Decimal`` with two places; every amount that enters is checked here."""

from __future__ import annotations

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


def parse_amount(value: object, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Validate an amount from outside: a number with at most two decimals, > 0."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise AmountNotANumber(f"{field} must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise AmountNotFinite(f"{field} must be a finite number")
    if amount != amount.quantize(CENT):
        raise AmountTooPrecise(f"{field} must have at most two decimals, got {value}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise AmountNotPositive(f"{field} must be greater than zero, got {value}")
    if amount >= Decimal("10000000000"):
        raise AmountTooLarge(f"{field} is too large: {value}")
    return amount.quantize(CENT)


def round_money(value: Decimal) -> Decimal:
    """Explicit rounding for computed amounts (rates times quantities)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)

"""Money is Decimal CNY with two places, rounded half-up, quantised here and nowhere else."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
# The largest amount one order may carry: 10 billion CNY. Published money fields hold 16
# integer digits and read models sum many orders per row, so bounding it here keeps every
# downstream representation safe.
MAX_ORDER_TOTAL = Decimal("10000000000.00")


class InvalidAmount(ValueError):
    pass


def cny(value: Decimal | int | str) -> Decimal:
    """Quantise to the fen (0.01 CNY), rounding half up (the Chinese accounting convention)."""
    try:
        amount = Decimal(value)
    except InvalidOperation as error:
        raise InvalidAmount(f"not an amount: {value!r}") from error
    if not amount.is_finite():
        raise InvalidAmount(f"not an amount: {value!r}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def line_amount(quantity: int, unit_price: Decimal) -> Decimal:
    return cny(unit_price * quantity)

"""Field types every API shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from services.kernel.money import cny

# Money travels as a decimal string with at most two places ("1299.00"), never a float.
MoneyString = Annotated[
    str,
    StringConstraints(pattern=r"^\d{1,16}(\.\d{1,2})?$"),
    Field(examples=["1299.00"], description="CNY, decimal string, at most 2 places"),
]


def to_money(value: str) -> Decimal:
    return cny(value)


Money = Annotated[MoneyString, AfterValidator(to_money)]

Code = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$"),
    Field(description="a business code in capitals: SKU, dealer, branch, region"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

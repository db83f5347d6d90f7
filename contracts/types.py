"""Field types shared by the integration events of every service."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

# The channel's dealer grades, as DealerRegistered publishes them (the orders service's
# DealerGrade); other services' commands that name a grade accept exactly these.
DealerGradeName = Literal["tier1_distributor", "tier2_distributor", "exclusive_dealer", "group_buy"]

Money = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=2),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+\.\d{2}$",
            "description": "CNY, decimal string with exactly two places",
        },
        mode="serialization",
    ),
]


class OrderLine(BaseModel):
    """A priced line of an order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    category: str
    quantity: int = Field(gt=0)
    unit_price: Money
    amount: Money


class Line(BaseModel):
    """A quantity of a SKU (stock movements)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0)

"""Integration events published by the orders service on topic ``<namespace>.orders.events``,
keyed by the aggregate id (dealer, product or order), so each aggregate's events stay in order.

Money fields are decimal strings in CNY with two places; quantities are integers in the
SKU's unit; dates are ISO 8601 business dates.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from contracts.envelope import IntegrationEvent

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


class DealerRegistered(IntegrationEvent):
    """A dealer joined the channel. Emitted once per dealer code."""

    service = "orders"
    event_name = "DealerRegistered"
    version = 1

    dealer_id: str
    dealer_code: str
    name: str
    branch: str
    region: str
    grade: str


class ProductRegistered(IntegrationEvent):
    """A SKU was added to the catalogue."""

    service = "orders"
    event_name = "ProductRegistered"
    version = 1

    product_id: str
    sku: str
    name: str
    category: str
    unit: str
    list_price: Money


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    category: str
    quantity: int = Field(gt=0)
    unit_price: Money
    amount: Money


class OrderPlaced(IntegrationEvent):
    """A dealer order was placed: priced lines and total, as they stand at placing."""

    service = "orders"
    event_name = "OrderPlaced"
    version = 1

    order_id: str
    dealer_id: str
    dealer_code: str
    branch: str
    region: str
    business_date: date
    lines: list[OrderLine] = Field(min_length=1)
    total: Money

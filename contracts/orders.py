"""Integration events published by the orders service on topic ``<namespace>.orders.events``,
keyed by the aggregate id (dealer, product or order), so each aggregate's events stay in order.

Money fields are decimal strings in CNY with two places; quantities are integers in the
SKU's unit; dates are ISO 8601 business dates.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from contracts.envelope import IntegrationEvent
from contracts.types import Money, OrderLine


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


class OrderApproved(IntegrationEvent):
    """Credit and stock are reserved (and, above the approval threshold, a branch manager
    approved): the order may be shipped."""

    service = "orders"
    event_name = "OrderApproved"
    version = 1

    order_id: str
    dealer_code: str
    branch: str
    total: Money
    manager_approval: bool = Field(description="a branch manager's approval was required")


class OrderRejected(IntegrationEvent):
    """The order will not be fulfilled; whatever was reserved for it is to be released."""

    service = "orders"
    event_name = "OrderRejected"
    version = 1

    order_id: str
    dealer_code: str
    reason: str = Field(description="machine-readable, e.g. insufficient_stock")
    detail: str


class OrderCancelled(IntegrationEvent):
    """Cancelled before anything shipped; whatever was reserved for it is to be released."""

    service = "orders"
    event_name = "OrderCancelled"
    version = 1

    order_id: str
    dealer_code: str
    reason: str

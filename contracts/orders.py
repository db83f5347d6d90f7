"""Integration events published by the orders service on topic ``<namespace>.orders.events``,
keyed by the aggregate id (dealer, product or order), so each aggregate's events stay in order.

Money fields are decimal strings in CNY with two places; quantities are integers in the
SKU's unit; dates are ISO 8601 business dates.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent
from contracts.types import Line, Money, OrderLine


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


class PlacedLine(BaseModel):
    """A line of a placed order: ``unit_price`` is what the dealer pays per unit after any
    promotion, ``list_unit_price`` the grade's price before it and ``discount`` what the
    promotion took off the line. A gift line (买赠) pays nothing and ships like any line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    category: str
    quantity: int = Field(gt=0)
    unit_price: Money
    amount: Money = Field(description="quantity x unit_price, to the fen")
    list_unit_price: Money = Field(description="the dealer grade's price in effect that day")
    discount: Money = Field(description="quantity x list_unit_price - amount")
    promotion_code: str | None = Field(description="the promotion that priced the line, if any")
    gift: bool = Field(description="a free gift line at zero price")

    @classmethod
    def at(cls, *, sku: str, category: str, quantity: int, unit_price: Decimal) -> PlacedLine:
        """A line at the grade's price, without promotion."""
        amount = (unit_price * quantity).quantize(Decimal("0.01"))
        return cls(
            sku=sku,
            category=category,
            quantity=quantity,
            unit_price=unit_price,
            amount=amount,
            list_unit_price=unit_price,
            discount=Decimal("0.00"),
            promotion_code=None,
            gift=False,
        )


class OrderPlaced(IntegrationEvent):
    """A dealer order was placed: priced lines and total, as they stand at placing. A later
    price or promotion change never reprices it.

    v2 (superseding v1) shows how each line was priced: the grade price in effect on the
    business date, the promotion that applied and its discount, and gift lines."""

    service = "orders"
    event_name = "OrderPlaced"
    version = 2

    order_id: str
    dealer_id: str
    dealer_code: str
    branch: str
    region: str
    business_date: date
    lines: list[PlacedLine] = Field(min_length=1)
    total: Money


class OrderPlacedV1(IntegrationEvent):
    """A dealer order was placed, as published before promotions (no discounts, no gifts).
    Superseded by v2."""

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

    def upcast(self) -> OrderPlaced:
        """v2 with every line at its grade price, no promotion, no gift."""
        return OrderPlaced(
            **self.model_dump(exclude={"lines"}),
            lines=[
                PlacedLine(
                    **line.model_dump(),
                    list_unit_price=line.unit_price,
                    discount=Decimal("0.00"),
                    promotion_code=None,
                    gift=False,
                )
                for line in self.lines
            ],
        )


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


class OrderAwaitingApproval(IntegrationEvent):
    """Credit and stock are reserved, but the order's total is above the approval threshold:
    it waits for a branch manager to approve (then OrderApproved) or reject it."""

    service = "orders"
    event_name = "OrderAwaitingApproval"
    version = 1

    order_id: str
    dealer_code: str
    branch: str
    total: Money
    threshold: Money = Field(description="the approval threshold the total is above")


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


class ReturnApproved(IntegrationEvent):
    """退货: a branch manager (or HQ) approved a dealer's return of goods shipped on an order.
    The warehouse is to receive them; finance credits what it receives at the order's
    prices."""

    service = "orders"
    event_name = "ReturnApproved"
    version = 1

    return_id: str
    order_id: str
    dealer_code: str
    branch: str
    warehouse_code: str = Field(description="where the goods come back: the order's warehouse")
    business_date: date = Field(description="the day the dealer asked")
    lines: list[Line] = Field(min_length=1)
    reason: str


class ConsignmentSaleRecorded(IntegrationEvent):
    """寄售结算: consignment stock a dealer reported sold (inventory's
    ConsignmentSellThroughReported), priced at the dealer grade's price list in effect on the
    period's last day, for finance to invoice (no promotions apply)."""

    service = "orders"
    event_name = "ConsignmentSaleRecorded"
    version = 1

    sale_id: str
    report_id: str = Field(description="the sell-through report it prices")
    dealer_code: str
    branch: str
    region: str
    warehouse_code: str
    period_from: date
    period_to: date = Field(description="the sale's business date")
    lines: list[PlacedLine] = Field(min_length=1)
    total: Money

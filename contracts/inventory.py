"""Integration events published by the inventory service on ``<namespace>.inventory.events``,
keyed by the aggregate id."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent
from contracts.types import Line, Money


class WarehouseRegistered(IntegrationEvent):
    """A warehouse was opened: central, a branch's, or a dealer's consignment store."""

    service = "inventory"
    event_name = "WarehouseRegistered"
    version = 1

    warehouse_id: str
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None


class ReceivedLine(BaseModel):
    """A SKU received, at the cost it came in at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0, description="in the SKU's unit")
    unit_cost: Money | None = Field(
        description="CNY per unit; null only on an event upcast from v1 (not valued)"
    )
    value: Money | None = Field(description="quantity x unit cost, to the fen (half up)")


class GoodsReceived(IntegrationEvent):
    """入库: goods arrived at a warehouse and are on hand, valued at their cost.

    v2 (superseding v1) values each line: stock movements carry what they are worth, so a
    ledger can post them (inventory against goods received not invoiced)."""

    service = "inventory"
    event_name = "GoodsReceived"
    version = 2

    receipt_id: str
    warehouse_code: str
    business_date: date
    lines: list[ReceivedLine] = Field(min_length=1)
    value: Money | None = Field(description="the lines' values; null if any line is not valued")


class GoodsReceivedV1(IntegrationEvent):
    """入库, as published before stock was valued (quantities only). Superseded by v2."""

    service = "inventory"
    event_name = "GoodsReceived"
    version = 1

    receipt_id: str
    warehouse_code: str
    business_date: date
    lines: list[Line] = Field(min_length=1)

    def upcast(self) -> GoodsReceived:
        """v2 with every line not valued (its cost was never recorded)."""
        return GoodsReceived(
            receipt_id=self.receipt_id,
            warehouse_code=self.warehouse_code,
            business_date=self.business_date,
            lines=[
                ReceivedLine(sku=line.sku, quantity=line.quantity, unit_cost=None, value=None)
                for line in self.lines
            ],
            value=None,
        )


class StockReserved(IntegrationEvent):
    """Every line of an order is reserved at one warehouse."""

    service = "inventory"
    event_name = "StockReserved"
    version = 1

    order_id: str
    warehouse_code: str
    lines: list[Line] = Field(min_length=1)


class Shortage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    requested: int
    available: int


class StockShortage(IntegrationEvent):
    """An order could not be reserved in full; nothing was reserved for it."""

    service = "inventory"
    event_name = "StockShortage"
    version = 1

    order_id: str
    warehouse_code: str | None = Field(description="none when no warehouse serves the order")
    shortages: list[Shortage]


class StockReleased(IntegrationEvent):
    """What was still reserved for an order (rejected or cancelled) is available again."""

    service = "inventory"
    event_name = "StockReleased"
    version = 1

    order_id: str
    warehouse_code: str
    lines: list[Line]
    reason: str


class ShippedLine(BaseModel):
    """A SKU shipped, at its cost to the warehouse (moving weighted average)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0, description="in the SKU's unit")
    cost: Money | None = Field(
        description="cost of goods shipped: the warehouse's moving weighted average cost x "
        "quantity, to the fen (half up); null only on an event upcast from v1 (not valued)"
    )


class ShipmentDispatched(IntegrationEvent):
    """出库/发货: goods left the warehouse against an approved order (possibly in part), at
    their cost.

    v2 (superseding v1) gives each line its cost of goods shipped."""

    service = "inventory"
    event_name = "ShipmentDispatched"
    version = 2

    shipment_id: str
    order_id: str
    dealer_code: str
    warehouse_code: str
    ship_date: date
    lines: list[ShippedLine] = Field(min_length=1)
    cost: Money | None = Field(description="the lines' costs; null if any line is not valued")
    order_complete: bool = Field(description="everything ordered has now shipped")


class ShipmentDispatchedV1(IntegrationEvent):
    """出库/发货, as published before stock was valued. Superseded by v2."""

    service = "inventory"
    event_name = "ShipmentDispatched"
    version = 1

    shipment_id: str
    order_id: str
    dealer_code: str
    warehouse_code: str
    ship_date: date
    lines: list[Line] = Field(min_length=1)
    order_complete: bool = Field(description="everything ordered has now shipped")

    def upcast(self) -> ShipmentDispatched:
        """v2 with every line not valued."""
        return ShipmentDispatched(
            shipment_id=self.shipment_id,
            order_id=self.order_id,
            dealer_code=self.dealer_code,
            warehouse_code=self.warehouse_code,
            ship_date=self.ship_date,
            lines=[
                ShippedLine(sku=line.sku, quantity=line.quantity, cost=None) for line in self.lines
            ],
            cost=None,
            order_complete=self.order_complete,
        )


class DeliveryConfirmed(IntegrationEvent):
    """The dealer confirmed it received a shipment."""

    service = "inventory"
    event_name = "DeliveryConfirmed"
    version = 1

    shipment_id: str
    order_id: str
    dealer_code: str
    delivered_on: date


class SafetyStockSet(IntegrationEvent):
    """安全库存: the level below which a SKU is flagged at a warehouse."""

    service = "inventory"
    event_name = "SafetyStockSet"
    version = 1

    warehouse_code: str
    sku: str
    quantity: int = Field(ge=0)

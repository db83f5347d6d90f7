"""Integration events published by the inventory service on ``<namespace>.inventory.events``,
keyed by the aggregate id."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent
from contracts.types import Line


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


class GoodsReceived(IntegrationEvent):
    """入库: goods arrived at a warehouse and are on hand."""

    service = "inventory"
    event_name = "GoodsReceived"
    version = 1

    receipt_id: str
    warehouse_code: str
    business_date: date
    lines: list[Line] = Field(min_length=1)


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


class ShipmentDispatched(IntegrationEvent):
    """出库/发货: goods left the warehouse against an approved order (possibly in part)."""

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

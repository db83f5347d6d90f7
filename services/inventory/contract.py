"""Translation of the inventory service's domain events into its integration events. Stock
items' own movements stay inside the service; what other services act on is published."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts import inventory as published
from contracts.envelope import IntegrationEvent
from contracts.types import Line
from services.inventory.domain import (
    GoodsReceipt,
    OrderReservation,
    Shipment,
    StockItem,
    Warehouse,
)


def _lines(lines: dict[str, int]) -> list[Line]:
    return [Line(sku=sku, quantity=quantity) for sku, quantity in sorted(lines.items())]


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    if isinstance(event, Warehouse.Registered):
        return published.WarehouseRegistered(
            warehouse_id=str(event.originator_id),
            code=event.code,
            name=event.name,
            kind=event.kind,
            branch=event.branch,
            region=event.region,
        )
    if isinstance(event, GoodsReceipt.Recorded):
        return published.GoodsReceived(
            receipt_id=str(event.originator_id),
            warehouse_code=event.warehouse_code,
            business_date=event.business_date,
            lines=_lines(event.lines),
        )
    if isinstance(event, OrderReservation.Made):
        if event.shortages:
            return published.StockShortage(
                order_id=event.order_id,
                warehouse_code=event.warehouse_code,
                shortages=[published.Shortage(**s) for s in event.shortages],
            )
        return published.StockReserved(
            order_id=event.order_id,
            warehouse_code=event.warehouse_code,
            lines=_lines(event.lines),
        )
    if isinstance(event, OrderReservation.Released):
        return published.StockReleased(
            order_id=event.order_id,
            warehouse_code=event.warehouse_code or "",
            lines=_lines(event.lines),
            reason=event.reason,
        )
    if isinstance(event, Shipment.Dispatched):
        return published.ShipmentDispatched(
            shipment_id=str(event.originator_id),
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            warehouse_code=event.warehouse_code,
            ship_date=event.ship_date,
            lines=_lines(event.lines),
            order_complete=event.order_complete,
        )
    if isinstance(event, StockItem.SafetyStockSet):
        return published.SafetyStockSet(
            warehouse_code=event.warehouse_code, sku=event.sku, quantity=event.quantity
        )
    if isinstance(event, Shipment.DeliveryConfirmed):
        return published.DeliveryConfirmed(
            shipment_id=str(event.originator_id),
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            delivered_on=event.delivered_on,
        )
    return None

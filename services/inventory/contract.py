"""Translation of the inventory service's domain events into its integration events. Stock
items' own movements stay inside the service; what other services act on is published."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

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
from services.kernel.money import line_amount


def _lines(lines: dict[str, int]) -> list[Line]:
    return [Line(sku=sku, quantity=quantity) for sku, quantity in sorted(lines.items())]


def _value(quantity: int, unit_cost: Decimal | None) -> Decimal | None:
    return None if unit_cost is None else line_amount(quantity, unit_cost)


def _total(amounts: Iterable[Decimal | None]) -> Decimal | None:
    """The sum, or None when any part is not valued (a receipt or shipment before v2)."""
    known = list(amounts)
    return None if any(a is None for a in known) else sum(known, Decimal("0.00"))


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
        received = [
            published.ReceivedLine(
                sku=sku,
                quantity=quantity,
                unit_cost=event.unit_costs.get(sku),
                value=_value(quantity, event.unit_costs.get(sku)),
            )
            for sku, quantity in sorted(event.lines.items())
        ]
        return published.GoodsReceived(
            receipt_id=str(event.originator_id),
            warehouse_code=event.warehouse_code,
            business_date=event.business_date,
            lines=received,
            value=_total(line.value for line in received),
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
        shipped = [
            published.ShippedLine(sku=sku, quantity=quantity, cost=event.costs.get(sku))
            for sku, quantity in sorted(event.lines.items())
        ]
        return published.ShipmentDispatched(
            shipment_id=str(event.originator_id),
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            warehouse_code=event.warehouse_code,
            ship_date=event.ship_date,
            lines=shipped,
            cost=_total(line.cost for line in shipped),
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

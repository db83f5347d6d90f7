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
    SellThroughReport,
    Shipment,
    StockItem,
    Stocktake,
    Transfer,
    Warehouse,
)
from services.inventory.opening import OpeningStock
from services.inventory.returns import ReturnReceipt
from services.kernel.money import line_amount


def _lines(lines: dict[str, int]) -> list[Line]:
    return [Line(sku=sku, quantity=quantity) for sku, quantity in sorted(lines.items())]


def _value(quantity: int, unit_cost: Decimal | None) -> Decimal | None:
    return None if unit_cost is None else line_amount(quantity, unit_cost)


def _valued(lines: dict[str, int], costs: dict[str, Decimal]) -> list[published.ValuedLine]:
    return [
        published.ValuedLine(sku=sku, quantity=quantity, cost=costs[sku])
        for sku, quantity in sorted(lines.items())
    ]


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
            dealer_code=event.dealer_code,
        )
    if isinstance(event, Transfer.Dispatched):
        return published.TransferDispatched(
            transfer_id=str(event.originator_id),
            from_warehouse=event.from_warehouse,
            to_warehouse=event.to_warehouse,
            ship_date=event.ship_date,
            lines=_valued(event.lines, event.costs),
            cost=sum(event.costs.values(), Decimal("0.00")),
        )
    if isinstance(event, Transfer.Received):
        arrived = [published.ArrivedLine(**a) for a in event.arrivals]
        return published.TransferReceived(
            transfer_id=str(event.originator_id),
            from_warehouse=event.from_warehouse,
            to_warehouse=event.to_warehouse,
            received_on=event.received_on,
            lines=arrived,
            cost=sum((a.cost for a in arrived), Decimal("0.00")),
            value=sum((a.value for a in arrived), Decimal("0.00")),
            difference=sum((a.difference for a in arrived), Decimal("0.00")),
        )
    if isinstance(event, Stocktake.Posted):
        counted = [published.CountedLine(**v) for v in event.variances]
        return published.StocktakePosted(
            stocktake_id=str(event.originator_id),
            warehouse_code=event.warehouse_code,
            count_date=event.count_date,
            posted_on=event.posted_on,
            lines=counted,
            value=sum((c.value for c in counted), Decimal("0.00")),
        )
    if isinstance(event, StockItem.MarkedDamaged):
        return published.StockDamaged(
            warehouse_code=event.warehouse_code,
            sku=event.sku,
            quantity=event.quantity,
            document_id=event.document_id,
            reason=event.reason,
            business_date=event.business_date,
        )
    if isinstance(event, StockItem.WrittenOff):
        return published.DamagedStockWrittenOff(
            warehouse_code=event.warehouse_code,
            sku=event.sku,
            quantity=event.quantity,
            cost=event.cost,
            document_id=event.document_id,
            reason=event.reason,
            business_date=event.business_date,
        )
    if isinstance(event, SellThroughReport.Reported):
        return published.ConsignmentSellThroughReported(
            report_id=str(event.originator_id),
            warehouse_code=event.warehouse_code,
            dealer_code=event.dealer_code,
            branch=event.branch,
            period_from=event.period_from,
            period_to=event.period_to,
            lines=_valued(event.lines, event.costs),
            cost=sum(event.costs.values(), Decimal("0.00")),
        )
    if isinstance(event, OpeningStock.Recorded):
        opened = [
            published.ReceivedLine(
                sku=sku,
                quantity=quantity,
                unit_cost=event.unit_costs[sku],
                value=line_amount(quantity, event.unit_costs[sku]),
            )
            for sku, quantity in sorted(event.lines.items())
        ]
        return published.OpeningStockRecorded(
            opening_id=str(event.originator_id),
            document_number=event.document_number,
            warehouse_code=event.warehouse_code,
            cut_over_date=event.cut_over_date,
            lines=opened,
            value=sum((line.value for line in opened), Decimal("0.00")),
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
    if isinstance(event, ReturnReceipt.Received):
        returned = [
            published.ReturnedLine(sku=sku, **line) for sku, line in sorted(event.received.items())
        ]
        return published.ReturnReceived(
            return_id=event.return_id,
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            warehouse_code=event.warehouse_code,
            received_on=event.received_on,
            lines=returned,
            value=sum((line.value for line in returned), Decimal("0.00")),
        )
    return None

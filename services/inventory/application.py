"""The inventory application: the command handlers of the inventory service, and the policies
of its process manager (stock reserved for placed orders, released for rejected or
cancelled ones, made shippable by approval)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts import orders as orders_events
from contracts.envelope import Envelope
from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from runtime.process_manager import Policy, Unit
from services.inventory.contract import to_integration_event
from services.inventory.domain import (
    GoodsReceipt,
    InvalidQuantity,
    InvalidUnitCost,
    OrderReservation,
    ReservationStatus,
    Shipment,
    StockItem,
    UnknownReservation,
    UnknownShipment,
    UnknownWarehouse,
    Warehouse,
    WarehouseAlreadyRegistered,
    WarehouseDirectory,
)
from services.kernel.errors import OutsideScope


@dataclass(frozen=True)
class RegisterWarehouse:
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None


@dataclass(frozen=True)
class ReceiveGoods:
    warehouse_code: str
    business_date: date
    lines: dict[str, int]
    unit_costs: dict[str, Decimal]  # per SKU of ``lines``: CNY per unit


@dataclass(frozen=True)
class DispatchShipment:
    order_id: str
    ship_date: date
    lines: dict[str, int]


def merge_lines(lines: list[tuple[str, int]]) -> dict[str, int]:
    """Quantities per SKU (a SKU named twice is one line of the sum), each positive."""
    merged: dict[str, int] = {}
    for sku, quantity in lines:
        if quantity <= 0:
            raise InvalidQuantity(f"quantity of {sku} must be positive, got {quantity}")
        merged[sku] = merged.get(sku, 0) + quantity
    if not merged:
        raise InvalidQuantity("at least one line is needed")
    return merged


def warehouse_view(warehouse: Warehouse) -> dict[str, Any]:
    return {
        "warehouse_id": str(warehouse.id),
        "code": warehouse.code,
        "name": warehouse.name,
        "kind": str(warehouse.kind),
        "branch": warehouse.branch,
        "region": warehouse.region,
    }


def stock_view(item: StockItem) -> dict[str, Any]:
    return {
        "warehouse_code": item.warehouse_code,
        "sku": item.sku,
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "available": item.available,
        "safety_stock": item.safety_stock,
        "value": f"{item.value:.2f}",
    }


def reservation_view(reservation: OrderReservation) -> dict[str, Any]:
    return {
        "order_id": reservation.order_id,
        "dealer_code": reservation.dealer_code,
        "warehouse_code": reservation.warehouse_code,
        "status": str(reservation.status),
        "lines": [
            {
                "sku": sku,
                "ordered": quantity,
                "shipped": reservation.shipped.get(sku, 0),
                "remaining": reservation.remaining(sku),
            }
            for sku, quantity in sorted(reservation.lines.items())
        ],
        "shortages": reservation.shortages,
    }


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    return {
        "shipment_id": str(shipment.id),
        "order_id": shipment.order_id,
        "dealer_code": shipment.dealer_code,
        "branch": shipment.branch,
        "warehouse_code": shipment.warehouse_code,
        "ship_date": shipment.ship_date.isoformat(),
        "lines": [
            {"sku": s, "quantity": q, "cost": _money(shipment.costs.get(s))}
            for s, q in sorted(shipment.lines.items())
        ],
        "order_complete": shipment.order_complete,
        "delivered_on": shipment.delivered_on.isoformat() if shipment.delivered_on else None,
    }


class InventoryApplication(ServiceApplication):
    service = "inventory"
    name = "inventory"
    contract = staticmethod(to_integration_event)
    # A SKU's stock changes with every receipt, reservation and shipment.
    snapshotting_intervals: ClassVar[dict[type, int]] = {StockItem: 50, WarehouseDirectory: 50}

    # -- warehouses --------------------------------------------------------------------------
    def register_warehouse(
        self, cmd: RegisterWarehouse, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        duplicate = WarehouseAlreadyRegistered(f"warehouse {cmd.code} is already registered")
        warehouse_id = Warehouse.create_id(cmd.code)
        for _attempt in range(10):
            if self.exists(warehouse_id):
                raise duplicate
            warehouse = Warehouse(
                code=cmd.code,
                name=cmd.name,
                kind=cmd.kind,
                branch=cmd.branch,
                region=cmd.region,
                by=by,
            )
            directory = self.warehouse_directory() or WarehouseDirectory()
            changed = [warehouse]
            if directory.takes(warehouse):
                directory.record_listing(
                    code=warehouse.code, kind=str(warehouse.kind), branch=warehouse.branch
                )
                changed.append(directory)
            try:
                return self.save_command(
                    *changed,
                    status_code=201,
                    body=warehouse_view(warehouse),
                    idempotency=idempotency,
                )
            except IntegrityError:
                continue  # the warehouse raced in (duplicate above), or the directory moved on
        raise duplicate

    def warehouse_directory(self) -> WarehouseDirectory | None:
        try:
            return self.repository.get(WarehouseDirectory.create_id())
        except AggregateNotFoundError:
            return None

    def get_warehouse(self, code: str) -> Warehouse:
        try:
            return self.repository.get(Warehouse.create_id(code))
        except AggregateNotFoundError:
            raise UnknownWarehouse(f"no warehouse {code}") from None

    # -- stock -------------------------------------------------------------------------------
    def receive_goods(
        self,
        cmd: ReceiveGoods,
        *,
        by: Provenance,
        warehouse_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        self.get_warehouse(cmd.warehouse_code)
        if warehouse_scope is not None and cmd.warehouse_code != warehouse_scope:
            raise OutsideScope(f"warehouse {cmd.warehouse_code} is not yours ({warehouse_scope})")
        if set(cmd.unit_costs) != set(cmd.lines):
            raise InvalidUnitCost("every line of a goods receipt needs its unit cost")
        receipt = GoodsReceipt(
            warehouse_code=cmd.warehouse_code,
            business_date=cmd.business_date,
            lines=cmd.lines,
            unit_costs=cmd.unit_costs,
            by=by,
        )
        items = self.stock_items(cmd.warehouse_code, list(cmd.lines), create=True)
        for sku, quantity in cmd.lines.items():
            items[sku].receive(quantity, document_id=str(receipt.id), unit_cost=cmd.unit_costs[sku])
        body = {
            "receipt_id": str(receipt.id),
            "warehouse_code": cmd.warehouse_code,
            "business_date": cmd.business_date.isoformat(),
            "stock": [stock_view(items[sku]) for sku in sorted(cmd.lines)],
        }
        return self.save_command(
            receipt, *items.values(), status_code=201, body=body, idempotency=idempotency
        )

    def stock_items(
        self,
        warehouse_code: str,
        skus: list[str],
        *,
        create: bool,
        reader: Callable[[list[UUID]], dict[UUID, Any]] | None = None,
    ) -> dict[str, StockItem]:
        """The stock items of ``skus`` at a warehouse, read at once (new ones opened when
        ``create``; else missing SKUs are absent), through ``reader`` if given (a process
        manager's unit of work)."""
        ids = {StockItem.create_id(warehouse_code, sku): sku for sku in skus}
        found = (reader or self.get_many)(list(ids))
        items = {ids[i]: item for i, item in found.items()}
        if create:
            for sku in skus:
                if sku not in items:
                    items[sku] = StockItem(warehouse_code=warehouse_code, sku=sku)
        return items

    def set_safety_stock(
        self,
        warehouse_code: str,
        sku: str,
        quantity: int,
        *,
        by: Provenance,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        self.get_warehouse(warehouse_code)
        [item] = self.stock_items(warehouse_code, [sku], create=True).values()
        item.set_safety_stock(quantity, by)
        return self.save_command(
            item, status_code=200, body=stock_view(item), idempotency=idempotency
        )

    def get_stock(self, warehouse_code: str, sku: str) -> StockItem:
        self.get_warehouse(warehouse_code)
        try:
            return self.repository.get(StockItem.create_id(warehouse_code, sku))
        except AggregateNotFoundError:
            return StockItem(warehouse_code=warehouse_code, sku=sku)  # nothing received yet

    # -- orders ------------------------------------------------------------------------------
    def get_reservation(self, order_id: str) -> OrderReservation:
        try:
            return self.repository.get(OrderReservation.create_id(order_id))
        except AggregateNotFoundError:
            raise UnknownReservation(f"inventory holds nothing for order {order_id}") from None

    def dispatch(
        self,
        cmd: DispatchShipment,
        *,
        by: Provenance,
        warehouse_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Ship against an approved order, never more than remains of it. A warehouse
        clerk (``warehouse_scope``) ships only from their own warehouse."""
        reservation = self.get_reservation(cmd.order_id)
        if warehouse_scope is not None and reservation.warehouse_code != warehouse_scope:
            raise OutsideScope(
                f"order {cmd.order_id} ships from {reservation.warehouse_code}, "
                f"not from {warehouse_scope}"
            )
        reservation.check_shippable(cmd.lines)
        assert reservation.warehouse_code is not None
        shipment_id = uuid4()
        items = self.stock_items(reservation.warehouse_code, list(cmd.lines), create=False)
        costs = {
            sku: items[sku].ship(cmd.order_id, str(shipment_id), quantity)
            for sku, quantity in cmd.lines.items()
        }
        reservation.record_shipment(shipment_id=str(shipment_id), lines=cmd.lines)
        shipment = Shipment(
            id=shipment_id,
            order_id=cmd.order_id,
            dealer_code=reservation.dealer_code,
            branch=reservation.branch,
            warehouse_code=reservation.warehouse_code,
            ship_date=cmd.ship_date,
            lines=cmd.lines,
            costs=costs,
            order_complete=reservation.status == ReservationStatus.SHIPPED,
            by=by,
        )
        return self.save_command(
            shipment,
            reservation,
            *items.values(),
            status_code=201,
            body=shipment_view(shipment),
            idempotency=idempotency,
        )

    def get_shipment(self, shipment_id: UUID) -> Shipment:
        try:
            shipment = self.repository.get(shipment_id)
        except AggregateNotFoundError:
            shipment = None
        if not isinstance(shipment, Shipment):
            raise UnknownShipment(f"no shipment {shipment_id}")
        return shipment

    def confirm_delivery(
        self,
        shipment_id: UUID,
        delivered_on: date,
        *,
        by: Provenance,
        dealer_scope: str | None,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        shipment = self.get_shipment(shipment_id)
        if dealer_scope is not None and shipment.dealer_code != dealer_scope:
            raise OutsideScope(f"shipment {shipment_id} went to another dealer")
        if branch_scope is not None and shipment.branch != branch_scope:
            raise OutsideScope(f"shipment {shipment_id} belongs to branch {shipment.branch}")
        shipment.confirm_delivery(delivered_on, by)
        return self.save_command(
            shipment, status_code=200, body=shipment_view(shipment), idempotency=idempotency
        )


# -- the process manager's policies ----------------------------------------------------------
def reserve_stock(unit: Unit, envelope: Envelope, placed: orders_events.OrderPlaced) -> None:
    """An order was placed: reserve every line at the warehouse serving its branch, or none."""
    reservation_id = OrderReservation.create_id(placed.order_id)
    if unit.find(reservation_id) is not None:
        return
    app: InventoryApplication = unit.app  # type: ignore[assignment]
    directory = unit.find(WarehouseDirectory.create_id())
    warehouse_code = directory.serving(placed.branch) if directory else None
    lines = merge_lines([(line.sku, line.quantity) for line in placed.lines])
    shortages: list[dict] = []
    items: dict[str, StockItem] = {}
    if warehouse_code is None:
        shortages = [{"sku": s, "requested": q, "available": 0} for s, q in lines.items()]
    else:
        items = app.stock_items(warehouse_code, list(lines), create=False, reader=unit.get_many)
        for sku, quantity in lines.items():
            available = items[sku].available if sku in items else 0
            if quantity > available:
                shortages.append({"sku": sku, "requested": quantity, "available": available})
    if not shortages:
        for sku, quantity in lines.items():
            items[sku].reserve(placed.order_id, quantity)
        unit.save(*items.values())
    unit.save(
        OrderReservation(
            order_id=placed.order_id,
            dealer_code=placed.dealer_code,
            branch=placed.branch,
            warehouse_code=warehouse_code,
            lines=lines,
            shortages=shortages,
        )
    )


def make_shippable(unit: Unit, envelope: Envelope, approved: orders_events.OrderApproved) -> None:
    reservation = unit.find(OrderReservation.create_id(approved.order_id))
    if reservation is not None and reservation.status == ReservationStatus.RESERVED:
        reservation.approve()
        unit.save(reservation)


def release_stock(unit: Unit, envelope: Envelope, ended: Any) -> None:
    """The order was rejected or cancelled: what is still held for it is available again."""
    reservation = unit.find(OrderReservation.create_id(ended.order_id))
    if reservation is None or reservation.status not in (
        ReservationStatus.RESERVED,
        ReservationStatus.APPROVED,
    ):
        return
    app: InventoryApplication = unit.app  # type: ignore[assignment]
    assert reservation.warehouse_code is not None
    items = app.stock_items(
        reservation.warehouse_code, list(reservation.lines), create=False, reader=unit.get_many
    )
    released = {}
    for sku, item in items.items():
        quantity = item.release(ended.order_id)
        if quantity:
            released[sku] = quantity
            unit.save(item)
    reason = getattr(ended, "reason", "")
    reservation.release(lines=released, reason=reason)
    unit.save(reservation)


POLICIES: dict[str, Policy] = {
    str(orders_events.OrderPlaced.event_type()): reserve_stock,
    str(orders_events.OrderApproved.event_type()): make_shippable,
    str(orders_events.OrderRejected.event_type()): release_stock,
    str(orders_events.OrderCancelled.event_type()): release_stock,
}

"""The inventory application: the command handlers of the inventory service, and the policies
of its process manager (dealers and products known from orders' registry and catalogue,
stock reserved for placed orders, released for rejected or cancelled ones, made shippable by
approval). Commands naming a dealer or SKU that registry or catalogue does not hold are
refused (404 ``unknown_dealer`` / ``unknown_sku``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from runtime.process_manager import Policy, Unit, reads
from services.inventory.contract import to_integration_event
from services.inventory.domain import (
    GoodsReceipt,
    InsufficientStock,
    InvalidQuantity,
    InvalidUnitCost,
    NotConsignment,
    OrderReservation,
    ReservationStatus,
    SellThroughAlreadyReported,
    SellThroughReport,
    Shipment,
    StockCondition,
    StockItem,
    Stocktake,
    Transfer,
    UnknownReservation,
    UnknownShipment,
    UnknownStocktake,
    UnknownTransfer,
    UnknownWarehouse,
    Warehouse,
    WarehouseAlreadyRegistered,
    WarehouseDirectory,
    WarehouseKind,
)
from services.inventory.opening import OpeningAlreadyRecorded, OpeningStock, check_cut_over_open
from services.inventory.returns import ReturnReceipt, UnknownReturn
from services.kernel.errors import OutsideScope
from services.kernel.money import cny, line_amount
from services.kernel.ownership import Ownership
from services.masterdata import replica
from services.masterdata.replica import KnowsMasterData

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class RegisterWarehouse:
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None
    dealer_code: str | None = None  # a consignment warehouse's dealer


@dataclass(frozen=True)
class Scope:
    """Whose warehouses a caller acts on: a warehouse clerk's own warehouse, a branch's
    warehouses, a dealer's own consignment warehouse; all of them None for headquarters."""

    warehouse: str | None = None
    branch: str | None = None
    dealer: str | None = None

    def check(self, warehouse: Warehouse) -> None:
        if self.warehouse is not None and warehouse.code != self.warehouse:
            raise OutsideScope(f"warehouse {warehouse.code} is not yours ({self.warehouse})")
        if self.branch is not None and warehouse.branch != self.branch:
            raise OutsideScope(f"warehouse {warehouse.code} is not of branch {self.branch}")
        if self.dealer is not None and warehouse.dealer_code != self.dealer:
            raise OutsideScope(f"warehouse {warehouse.code} is not dealer {self.dealer}'s")


HEADQUARTERS = Scope()


@dataclass(frozen=True)
class DispatchTransfer:
    from_warehouse: str
    to_warehouse: str
    ship_date: date
    lines: dict[str, int]
    note: str | None = None


@dataclass(frozen=True)
class Arrival:
    """What arrived of one line of a transfer."""

    received: int  # in good condition
    damaged: int = 0  # arrived damaged: into damaged stock
    reason: str | None = None  # required when received + damaged differs, or damaged > 0
    note: str | None = None


@dataclass(frozen=True)
class ReceiveTransfer:
    received_on: date
    lines: dict[str, Arrival]


@dataclass(frozen=True)
class StockDocument:
    """Damaged stock found, or damaged stock written off: one SKU at one warehouse."""

    warehouse_code: str
    sku: str
    quantity: int
    reason: str
    business_date: date


@dataclass(frozen=True)
class OpenStocktake:
    warehouse_code: str
    count_date: date
    skus: list[str]


@dataclass(frozen=True)
class RecordCounts:
    counts: dict[str, int]
    reasons: dict[str, str]  # per SKU whose count differs from the book


@dataclass(frozen=True)
class ReportSellThrough:
    warehouse_code: str
    period_from: date
    period_to: date
    lines: dict[str, int]


@dataclass(frozen=True)
class ReceiveReturn:
    return_id: str
    received_on: date
    counted: dict[str, tuple[int, int]]  # per SKU: (good, damaged)


@dataclass(frozen=True)
class ReceiveGoods:
    warehouse_code: str
    business_date: date
    lines: dict[str, int]
    unit_costs: dict[str, Decimal]  # per SKU of ``lines``: CNY per unit


@dataclass(frozen=True)
class RecordOpeningStock:
    warehouse_code: str
    document_number: str
    cut_over_date: date
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
        "dealer_code": warehouse.dealer_code,
    }


def stock_view(item: StockItem) -> dict[str, Any]:
    return {
        "warehouse_code": item.warehouse_code,
        "sku": item.sku,
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "available": item.available,
        "damaged": item.damaged,
        "safety_stock": item.safety_stock,
        "below_safety": item.available < item.safety_stock,
        "value": f"{item.value:.2f}",
        "in_transit": item.in_transit,
        "in_transit_value": f"{item.in_transit_value:.2f}",
    }


def transfer_view(transfer: Transfer) -> dict[str, Any]:
    arrivals = {a["sku"]: a for a in transfer.arrivals}
    lines = []
    for sku, quantity in sorted(transfer.lines.items()):
        line: dict[str, Any] = {
            "sku": sku,
            "dispatched": quantity,
            "cost": _money(transfer.costs[sku]),
        }
        arrival = arrivals.get(sku)
        line.update(
            received=arrival["received"] if arrival else None,
            damaged=arrival["damaged"] if arrival else None,
            value=_money(arrival["value"]) if arrival else None,
            difference=_money(arrival["difference"]) if arrival else None,
            reason=arrival["reason"] if arrival else None,
            note=arrival["note"] if arrival else None,
        )
        lines.append(line)
    return {
        "transfer_id": str(transfer.id),
        "from_warehouse": transfer.from_warehouse,
        "to_warehouse": transfer.to_warehouse,
        "status": str(transfer.status),
        "ship_date": transfer.ship_date.isoformat(),
        "received_on": transfer.received_on.isoformat() if transfer.received_on else None,
        "note": transfer.note,
        "cost": _money(sum(transfer.costs.values(), Decimal("0.00"))),
        "lines": lines,
    }


def stocktake_view(stocktake: Stocktake) -> dict[str, Any]:
    posted = {v["sku"]: v for v in stocktake.variances}
    return {
        "stocktake_id": str(stocktake.id),
        "warehouse_code": stocktake.warehouse_code,
        "count_date": stocktake.count_date.isoformat(),
        "status": str(stocktake.status),
        "posted_on": stocktake.posted_on.isoformat() if stocktake.posted_on else None,
        "lines": [
            {
                "sku": sku,
                "book": book,
                "counted": stocktake.counted.get(sku),
                "variance": stocktake.variance(sku) if sku in stocktake.counted else None,
                "reason": stocktake.reasons.get(sku),
                "value": _money(posted[sku]["value"]) if sku in posted else None,
            }
            for sku, book in sorted(stocktake.book.items())
        ],
    }


def sell_through_view(report: SellThroughReport) -> dict[str, Any]:
    return {
        "report_id": str(report.id),
        "warehouse_code": report.warehouse_code,
        "dealer_code": report.dealer_code,
        "period_from": report.period_from.isoformat(),
        "period_to": report.period_to.isoformat(),
        "lines": [
            {"sku": sku, "quantity": quantity, "cost": _money(report.costs[sku])}
            for sku, quantity in sorted(report.lines.items())
        ],
        "cost": _money(sum(report.costs.values(), Decimal("0.00"))),
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


def return_receipt_view(receipt: ReturnReceipt) -> dict[str, Any]:
    return {
        "return_id": receipt.return_id,
        "order_id": receipt.order_id,
        "dealer_code": receipt.dealer_code,
        "warehouse_code": receipt.warehouse_code,
        "status": str(receipt.status),
        "expected": [{"sku": s, "quantity": q} for s, q in sorted(receipt.lines.items())],
        "received_on": receipt.received_on.isoformat() if receipt.received_on else None,
        "received": [
            {
                "sku": sku,
                "good": line["good"],
                "damaged": line["damaged"],
                "unit_cost": f"{line['unit_cost']:.2f}",
                "value": f"{line['value']:.2f}",
            }
            for sku, line in sorted(receipt.received.items())
        ],
        "value": f"{receipt.value:.2f}",
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


class InventoryApplication(KnowsMasterData, ServiceApplication):
    service = "inventory"
    name = "inventory"
    contract = staticmethod(to_integration_event)
    # A SKU's stock changes with every receipt, reservation and shipment.
    snapshotting_intervals: ClassVar[dict[type, int]] = {StockItem: 50, WarehouseDirectory: 50}

    # -- warehouses --------------------------------------------------------------------------
    def register_warehouse(
        self, cmd: RegisterWarehouse, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        if cmd.dealer_code is not None:
            self.known_dealer(cmd.dealer_code)
        self.check_organisation(branch=cmd.branch, region=cmd.region)
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
                dealer_code=cmd.dealer_code,
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

    # -- who may read what (services.kernel.ownership) ---------------------------------------
    def warehouse_ownership(self, code: str, what: str | None = None) -> Ownership:
        """A warehouse belongs to its branch, its clerk and (consignment) its dealer; a
        central warehouse to headquarters and its clerk."""
        warehouse = self.get_warehouse(code)
        return Ownership.of(
            what or f"warehouse {code}",
            branches=[warehouse.branch],
            dealers=[warehouse.dealer_code],
            warehouses=[code],
        )

    def ownership_of(
        self, record: OrderReservation | Shipment | Transfer | Stocktake | ReturnReceipt
    ) -> Ownership:
        """What a stock document touches: its warehouses' owners, and for what is done for
        a dealer's order (a reservation, a shipment, a return) that dealer and its branch."""
        if isinstance(record, Transfer):
            what = f"transfer {record.id}"
            return self.warehouse_ownership(record.from_warehouse, what).joined(
                self.warehouse_ownership(record.to_warehouse, what)
            )
        if isinstance(record, Stocktake):
            return self.warehouse_ownership(record.warehouse_code, f"stocktake {record.id}")
        if isinstance(record, OrderReservation):
            what = f"what is held for order {record.order_id}"
        elif isinstance(record, Shipment):
            what = f"shipment {record.id}"
        else:
            what = f"return {record.return_id}"
        for_dealer = Ownership.of(what, branches=[record.branch], dealers=[record.dealer_code])
        if record.warehouse_code is None:
            return for_dealer
        return for_dealer.joined(self.warehouse_ownership(record.warehouse_code, what))

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
        self.check_skus(cmd.lines)
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

    # -- 期初: opening stock at the cut-over (services/inventory/opening.py) -------------------
    def record_opening_stock(
        self, cmd: RecordOpeningStock, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        warehouse = self.get_warehouse(cmd.warehouse_code)
        if set(cmd.unit_costs) != set(cmd.lines):
            raise InvalidUnitCost("every line of opening stock needs its unit cost")
        self.check_skus(cmd.lines)
        opening_id = OpeningStock.create_id(cmd.warehouse_code, cmd.document_number)
        duplicate = OpeningAlreadyRecorded(
            f"opening stock document {cmd.document_number} of {cmd.warehouse_code} is already "
            "recorded",
            document_number=cmd.document_number,
        )
        if self.exists(opening_id):
            raise duplicate
        items = self.stock_items(cmd.warehouse_code, list(cmd.lines), create=True)
        check_cut_over_open(warehouse, list(items.values()))
        opening = OpeningStock(
            warehouse_code=cmd.warehouse_code,
            document_number=cmd.document_number,
            cut_over_date=cmd.cut_over_date,
            lines=cmd.lines,
            unit_costs=cmd.unit_costs,
            by=by,
        )
        for sku, quantity in cmd.lines.items():
            items[sku].open_balance(quantity, str(opening.id), cmd.unit_costs[sku])
        body = {
            "opening_id": str(opening.id),
            "document_number": cmd.document_number,
            "warehouse_code": cmd.warehouse_code,
            "cut_over_date": cmd.cut_over_date.isoformat(),
            "stock": [stock_view(items[sku]) for sku in sorted(cmd.lines)],
        }
        try:
            return self.save_command(
                opening, *items.values(), status_code=201, body=body, idempotency=idempotency
            )
        except IntegrityError:
            if self.exists(opening_id):
                raise duplicate from None
            raise  # a SKU moved meanwhile: the caller decides again

    def reopen_cut_over(
        self, warehouse_code: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """Headquarters lets opening stock in after business has started at the warehouse."""
        warehouse = self.get_warehouse(warehouse_code)
        warehouse.reopen_cut_over(by)
        return self.save_command(
            warehouse,
            status_code=200,
            body={"warehouse_code": warehouse_code, "cut_over_reopened": True},
            idempotency=idempotency,
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
        self.check_skus([sku])
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

    # -- 调拨: transfers -----------------------------------------------------------------------
    def dispatch_transfer(
        self,
        cmd: DispatchTransfer,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Stock leaves the source at its moving average cost and is in transit to the
        destination. Never more than is available at the source: a reservation for an order
        racing this dispatch meets it on the stock item's version, and one decides again."""
        source = self.get_warehouse(cmd.from_warehouse)
        destination = self.get_warehouse(cmd.to_warehouse)
        scope.check(source)
        Transfer.check_route(source, destination)
        self.check_skus(cmd.lines)
        skus = list(cmd.lines)
        outgoing = self.stock_items(source.code, skus, create=False)
        incoming = self.stock_items(destination.code, skus, create=True)
        transfer_id = uuid4()
        costs = {}
        for sku, quantity in cmd.lines.items():
            if sku not in outgoing:
                raise InsufficientStock(
                    f"{sku} at {source.code}: {quantity} requested, 0 available",
                    sku=sku,
                    available=0,
                )
            costs[sku] = outgoing[sku].transfer_out(str(transfer_id), quantity)
            incoming[sku].expect_transfer(
                transfer_id=str(transfer_id), quantity=quantity, cost=costs[sku]
            )
        transfer = Transfer(
            id=transfer_id,
            from_warehouse=source.code,
            to_warehouse=destination.code,
            ship_date=cmd.ship_date,
            lines=cmd.lines,
            costs=costs,
            note=cmd.note,
            by=by,
        )
        return self.save_command(
            transfer,
            *outgoing.values(),
            *incoming.values(),
            status_code=201,
            body=transfer_view(transfer),
            idempotency=idempotency,
        )

    def get_transfer(self, transfer_id: UUID) -> Transfer:
        try:
            transfer = self.repository.get(transfer_id)
        except AggregateNotFoundError:
            transfer = None
        if not isinstance(transfer, Transfer):
            raise UnknownTransfer(f"no transfer {transfer_id}")
        return transfer

    def receive_transfer(
        self,
        transfer_id: UUID,
        cmd: ReceiveTransfer,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """The destination receives a transfer, once: good units into stock, damaged ones
        into damaged stock, each difference with its reason and its value (a loss or a
        gain) on the transfer."""
        transfer = self.get_transfer(transfer_id)
        scope.check(self.get_warehouse(transfer.to_warehouse))
        self.check_skus(cmd.lines)
        arrivals = transfer.arrivals_of(
            {s: (a.received, a.damaged, a.reason, a.note) for s, a in cmd.lines.items()}
        )
        transfer.receive(cmd.received_on, arrivals, by)
        items = self.stock_items(transfer.to_warehouse, list(transfer.lines), create=True)
        for arrival in arrivals:
            items[arrival["sku"]].receive_transfer(
                transfer_id=str(transfer.id),
                dispatched=arrival["dispatched"],
                cost=arrival["cost"],
                good=arrival["received"],
                damaged=arrival["damaged"],
                value=arrival["value"],
            )
        return self.save_command(
            transfer,
            *items.values(),
            status_code=200,
            body=transfer_view(transfer),
            idempotency=idempotency,
        )

    # -- 残损: damaged stock ------------------------------------------------------------------
    def mark_damaged(
        self,
        cmd: StockDocument,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        scope.check(self.get_warehouse(cmd.warehouse_code))
        self.check_skus([cmd.sku])
        item = self.get_stock(cmd.warehouse_code, cmd.sku)
        document_id = str(uuid4())
        item.mark_damaged(
            cmd.quantity,
            document_id=document_id,
            reason=cmd.reason,
            business_date=cmd.business_date,
            by=by,
        )
        body = {"document_id": document_id, **stock_view(item)}
        return self.save_command(item, status_code=200, body=body, idempotency=idempotency)

    def write_off_damaged(
        self,
        cmd: StockDocument,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        scope.check(self.get_warehouse(cmd.warehouse_code))
        self.check_skus([cmd.sku])
        item = self.get_stock(cmd.warehouse_code, cmd.sku)
        document_id = str(uuid4())
        cost = item.write_off_damaged(
            cmd.quantity,
            document_id=document_id,
            reason=cmd.reason,
            business_date=cmd.business_date,
            by=by,
        )
        body = {"document_id": document_id, "cost": f"{cost:.2f}", **stock_view(item)}
        return self.save_command(item, status_code=200, body=body, idempotency=idempotency)

    # -- 盘点: stocktakes ----------------------------------------------------------------------
    def open_stocktake(
        self,
        cmd: OpenStocktake,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """A count sheet for the SKUs named, each with its book quantity and value now."""
        scope.check(self.get_warehouse(cmd.warehouse_code))
        if not cmd.skus:
            raise InvalidQuantity("a count sheet names at least one SKU")
        self.check_skus(cmd.skus)
        items = self.stock_items(cmd.warehouse_code, cmd.skus, create=False)
        stocktake = Stocktake(
            warehouse_code=cmd.warehouse_code,
            count_date=cmd.count_date,
            book={sku: items[sku].on_hand if sku in items else 0 for sku in cmd.skus},
            book_values={
                sku: items[sku].value if sku in items else Decimal("0.00") for sku in cmd.skus
            },
            by=by,
        )
        return self.save_command(
            stocktake, status_code=201, body=stocktake_view(stocktake), idempotency=idempotency
        )

    def get_stocktake(self, stocktake_id: UUID) -> Stocktake:
        try:
            stocktake = self.repository.get(stocktake_id)
        except AggregateNotFoundError:
            stocktake = None
        if not isinstance(stocktake, Stocktake):
            raise UnknownStocktake(f"no stocktake {stocktake_id}")
        return stocktake

    def record_counts(
        self,
        stocktake_id: UUID,
        cmd: RecordCounts,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        stocktake = self.get_stocktake(stocktake_id)
        scope.check(self.get_warehouse(stocktake.warehouse_code))
        self.check_skus(cmd.counts)
        stocktake.record_counts(cmd.counts, cmd.reasons, by)
        return self.save_command(
            stocktake, status_code=200, body=stocktake_view(stocktake), idempotency=idempotency
        )

    def post_stocktake(
        self,
        stocktake_id: UUID,
        posted_on: date,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Post every variance, or none: each SKU counted, each variance with its reason,
        and no SKU left with less than its orders hold."""
        stocktake = self.get_stocktake(stocktake_id)
        scope.check(self.get_warehouse(stocktake.warehouse_code))
        stocktake.check_postable()
        varied = [sku for sku in sorted(stocktake.book) if stocktake.variance(sku)]
        items = self.stock_items(stocktake.warehouse_code, varied, create=True)
        values = {
            sku: items[sku].adjust_to_count(
                str(stocktake.id),
                stocktake.variance(sku),
                fallback_unit_cost=stocktake.book_unit_cost(sku),
                reason=stocktake.reasons[sku],
            )
            for sku in varied
        }
        stocktake.post(posted_on, values, by)
        return self.save_command(
            stocktake,
            *items.values(),
            status_code=200,
            body=stocktake_view(stocktake),
            idempotency=idempotency,
        )

    # -- 寄售: consignment ---------------------------------------------------------------------
    def report_sell_through(
        self,
        cmd: ReportSellThrough,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """The dealer (or its branch) reports what it sold of the consignment stock it holds
        in a period: it leaves at cost, never more than is there; one report a period."""
        warehouse = self.get_warehouse(cmd.warehouse_code)
        scope.check(warehouse)
        if warehouse.kind != WarehouseKind.CONSIGNMENT or warehouse.dealer_code is None:
            raise NotConsignment(f"{warehouse.code} is not a dealer's consignment warehouse")
        self.check_skus(cmd.lines)
        report_id = SellThroughReport.create_id(warehouse.code, cmd.period_from, cmd.period_to)
        already = SellThroughAlreadyReported(
            f"sell-through of {warehouse.code} for {cmd.period_from} to {cmd.period_to} "
            "was reported already"
        )
        if self.exists(report_id):
            raise already
        items = self.stock_items(warehouse.code, list(cmd.lines), create=False)
        costs = {}
        for sku, quantity in cmd.lines.items():
            if sku not in items:
                raise InsufficientStock(
                    f"{sku} at {warehouse.code}: {quantity} reported sold, 0 held",
                    sku=sku,
                    available=0,
                )
            costs[sku] = items[sku].sell_through(str(report_id), quantity)
        report = SellThroughReport(
            warehouse_code=warehouse.code,
            dealer_code=warehouse.dealer_code,
            branch=warehouse.branch,
            period_from=cmd.period_from,
            period_to=cmd.period_to,
            lines=cmd.lines,
            costs=costs,
            by=by,
        )
        try:
            return self.save_command(
                report,
                *items.values(),
                status_code=201,
                body=sell_through_view(report),
                idempotency=idempotency,
            )
        except IntegrityError:
            if self.exists(report_id):
                raise already from None
            raise

    # -- orders ------------------------------------------------------------------------------
    # -- returns (退货入库) -------------------------------------------------------------------
    def get_return_receipt(self, return_id: str) -> ReturnReceipt:
        try:
            return self.repository.get(ReturnReceipt.create_id(return_id))
        except AggregateNotFoundError:
            raise UnknownReturn(
                f"no approved return {return_id} here (yet: approval travels from orders)"
            ) from None

    def receive_return(
        self,
        cmd: ReceiveReturn,
        *,
        by: Provenance,
        scope: Scope,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Count a dealer's approved return in: good units back to available stock, damaged
        ones to damaged stock, both at what they cost when they shipped on the order."""
        receipt = self.get_return_receipt(cmd.return_id)
        scope.check(self.get_warehouse(receipt.warehouse_code))
        self.check_skus(cmd.counted)
        receipt.check_receivable(cmd.counted)
        arrived = {sku: gd for sku, gd in cmd.counted.items() if sum(gd)}
        unit_costs = self.shipped_unit_costs(receipt.order_id, receipt.warehouse_code, arrived)
        items = self.stock_items(receipt.warehouse_code, list(arrived), create=True)
        document_id = f"return:{receipt.return_id}"
        received = {}
        for sku, (good, damaged) in sorted(arrived.items()):
            unit_cost = unit_costs[sku]
            if good:
                items[sku].receive(good, document_id, unit_cost)
            if damaged:
                items[sku].receive(damaged, document_id, unit_cost, StockCondition.DAMAGED)
            received[sku] = {
                "good": good,
                "damaged": damaged,
                "unit_cost": unit_cost,
                "value": line_amount(good + damaged, unit_cost),
            }
        receipt.receive(cmd.received_on, received, by)
        return self.save_command(
            receipt,
            *items.values(),
            status_code=201,
            body=return_receipt_view(receipt),
            idempotency=idempotency,
        )

    def shipped_unit_costs(
        self, order_id: str, warehouse_code: str, skus: Iterable[str]
    ) -> dict[str, Decimal]:
        """What a unit of each SKU cost when it shipped on the order (its shipments' costs
        over their quantities, to the fen); for a shipment dispatched before stock was
        valued, the warehouse's moving average now."""
        reservation = self.get_reservation(order_id)
        shipments = self.get_many([UUID(i) for i in reservation.shipment_ids])
        costs: dict[str, Decimal] = {}
        for sku in skus:
            quantity = sum(s.lines.get(sku, 0) for s in shipments.values() if sku in s.costs)
            if quantity:
                cost = sum((s.costs[sku] for s in shipments.values() if sku in s.costs), ZERO)
                costs[sku] = cny(cost / quantity)
            else:
                item = self.stock_items(warehouse_code, [sku], create=True)[sku]
                costs[sku] = cny(item.value / item.on_hand) if item.on_hand else ZERO
        return costs

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
        self.check_skus(cmd.lines)
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
@reads(
    lambda placed: [
        OrderReservation.create_id(placed.order_id),
        WarehouseDirectory.create_id(),
    ]
)
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


@reads(lambda approved: [OrderReservation.create_id(approved.order_id)])
def make_shippable(unit: Unit, envelope: Envelope, approved: orders_events.OrderApproved) -> None:
    reservation = unit.find(OrderReservation.create_id(approved.order_id))
    if reservation is not None and reservation.status == ReservationStatus.RESERVED:
        reservation.approve()
        unit.save(reservation)


@reads(lambda ended: [OrderReservation.create_id(ended.order_id)])
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
        quantity = reservation.remaining(sku)
        if quantity:
            item.release(ended.order_id, quantity)
            released[sku] = quantity
            unit.save(item)
    reason = getattr(ended, "reason", "")
    reservation.release(lines=released, reason=reason)
    unit.save(reservation)


def expect_return(unit: Unit, envelope: Envelope, approved: orders_events.ReturnApproved) -> None:
    """Orders approved a dealer's return: expect it at the order's warehouse."""
    receipt_id = ReturnReceipt.create_id(approved.return_id)
    if unit.find(receipt_id) is None:
        unit.save(
            ReturnReceipt(
                return_id=approved.return_id,
                order_id=approved.order_id,
                dealer_code=approved.dealer_code,
                branch=approved.branch,
                warehouse_code=approved.warehouse_code,
                lines={line.sku: line.quantity for line in approved.lines},
            )
        )


POLICIES: dict[str, Policy] = {
    **replica.POLICIES,
    str(orders_events.ReturnApproved.event_type()): expect_return,
    str(orders_events.OrderPlaced.event_type()): reserve_stock,
    str(orders_events.OrderApproved.event_type()): make_shippable,
    str(orders_events.OrderRejected.event_type()): release_stock,
    str(orders_events.OrderCancelled.event_type()): release_stock,
}

"""Routes of the inventory API (port 8102): warehouses, goods receipts, stock, what is held
for each order, shipments and their delivery, transfers between warehouses, stocktakes,
damaged stock and dealers' sell-through of consignment stock."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.schemas import Code, Count, IsoDate, Money, Name
from runtime.settings import BRANCH_ROLES, Role
from services.inventory.application import (
    HEADQUARTERS,
    Arrival,
    DispatchShipment,
    DispatchTransfer,
    InventoryApplication,
    OpenStocktake,
    ReceiveGoods,
    ReceiveReturn,
    ReceiveTransfer,
    RecordCounts,
    RegisterWarehouse,
    ReportSellThrough,
    Scope,
    StockDocument,
    merge_lines,
    reservation_view,
    return_receipt_view,
    shipment_view,
    stock_view,
    stocktake_view,
    transfer_view,
    warehouse_view,
)
from services.inventory.domain import DiscrepancyReason, VarianceReason, WarehouseKind
from services.kernel.dates import business_today


async def _inventory(request: Request) -> InventoryApplication:
    return request.app.state.application


InventoryApp = Annotated[InventoryApplication, Depends(_inventory)]

Quantity = Annotated[int, Field(gt=0, le=1_000_000_000, description="in the SKU's unit")]


class StockLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    quantity: Quantity


class WarehouseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    kind: WarehouseKind
    branch: Code | None = None
    region: Code | None = None
    dealer_code: Code | None = Field(
        default=None, description="a consignment warehouse's dealer (its location); required then"
    )


class WarehouseRead(BaseModel):
    warehouse_id: str
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None
    dealer_code: str | None = None
    position: str | None = None


class ReceiptLine(StockLine):
    unit_cost: Money = Field(description="CNY per unit, at cost (what the goods came in at)")


class GoodsReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse_code: Code
    business_date: IsoDate | None = Field(default=None, description="default: today (CST)")
    lines: list[ReceiptLine] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def one_cost_per_sku(self) -> GoodsReceiptCreate:
        costs: dict[str, Decimal] = {}
        for line in self.lines:
            if costs.setdefault(line.sku, line.unit_cost) != line.unit_cost:
                raise ValueError(f"{line.sku} is received at two unit costs: one line each")
        return self


class StockRead(BaseModel):
    warehouse_code: str
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(description="on hand - reserved - damaged")
    damaged: int = Field(description="残损: on hand, never available")
    safety_stock: int
    below_safety: bool = Field(description="available is below safety stock")
    value: str = Field(description="CNY at cost (moving weighted average) of what is on hand")
    in_transit: int = Field(description="dispatched to this warehouse by transfers, not received")
    in_transit_value: str = Field(description="CNY at cost of what is in transit to it")


class StockSet(StockRead):
    position: str | None = None


class SafetyStockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: Count = Field(ge=0, le=1_000_000_000)


class GoodsReceiptRead(BaseModel):
    receipt_id: str
    warehouse_code: str
    business_date: IsoDate
    stock: list[StockRead]
    position: str | None = None


class ShipmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: UUID
    ship_date: IsoDate | None = Field(default=None, description="default: today (CST)")
    lines: list[StockLine] = Field(min_length=1, max_length=500)


class ShipmentLine(BaseModel):
    sku: str
    quantity: int
    cost: str | None = Field(description="cost of the goods shipped, CNY at moving average")


class ShipmentRead(BaseModel):
    shipment_id: str
    order_id: str
    dealer_code: str
    branch: str
    warehouse_code: str
    ship_date: IsoDate
    lines: list[ShipmentLine]
    order_complete: bool
    delivered_on: IsoDate | None
    position: str | None = None


class DeliveryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivered_on: IsoDate | None = Field(default=None, description="default: today (CST)")


class ReservationLine(BaseModel):
    sku: str
    ordered: int
    shipped: int
    remaining: int


class ReservationRead(BaseModel):
    order_id: str
    dealer_code: str
    warehouse_code: str | None
    status: str
    lines: list[ReservationLine]
    shortages: list[dict]


Reason = Annotated[str, Field(min_length=1, max_length=200, description="why, in words")]
Note = Annotated[str, Field(max_length=500)]


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_warehouse: Code
    to_warehouse: Code
    ship_date: IsoDate | None = Field(default=None, description="default: today (CST)")
    lines: list[StockLine] = Field(min_length=1, max_length=500)
    note: Note | None = None


class ArrivalLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    received: Count = Field(ge=0, le=1_000_000_000, description="arrived in good condition")
    damaged: Count = Field(default=0, ge=0, le=1_000_000_000, description="arrived damaged")
    reason: DiscrepancyReason | None = Field(
        default=None,
        description="required when received + damaged differs from what was dispatched, or "
        "anything arrived damaged",
    )
    note: Note | None = None


class TransferReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received_on: IsoDate | None = Field(default=None, description="default: today (CST)")
    lines: list[ArrivalLine] = Field(
        max_length=500, description="per SKU of the transfer; a SKU left out arrived not at all"
    )

    @model_validator(mode="after")
    def one_line_per_sku(self) -> TransferReceipt:
        skus = [line.sku for line in self.lines]
        if len(skus) != len(set(skus)):
            raise ValueError("one line per SKU")
        return self


class TransferLine(BaseModel):
    sku: str
    dispatched: int
    cost: str = Field(description="CNY at the source's moving average cost")
    received: int | None
    damaged: int | None
    value: str | None = Field(description="what arrived is worth")
    difference: str | None = Field(description="value - cost: a transit loss when negative")
    reason: str | None
    note: str | None


class TransferRead(BaseModel):
    transfer_id: str
    from_warehouse: str
    to_warehouse: str
    status: str = Field(description="in_transit or received")
    ship_date: IsoDate
    received_on: IsoDate | None
    note: str | None
    cost: str
    lines: list[TransferLine]
    position: str | None = None


class StockDocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: Quantity
    reason: Reason
    business_date: IsoDate | None = Field(default=None, description="default: today (CST)")


class StockDocumentRead(StockSet):
    document_id: str
    cost: str | None = Field(default=None, description="a write-off: what left, at cost")


class StocktakeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse_code: Code
    count_date: IsoDate | None = Field(default=None, description="default: today (CST)")
    skus: list[Code] = Field(min_length=1, max_length=2000, description="the count sheet")


class CountLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    counted: Count = Field(ge=0, le=1_000_000_000, description="all units there, damaged too")
    reason: VarianceReason | None = Field(
        default=None, description="required (by posting) when the count differs from the book"
    )


class CountsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[CountLine] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def one_line_per_sku(self) -> CountsCreate:
        skus = [line.sku for line in self.lines]
        if len(skus) != len(set(skus)):
            raise ValueError("one line per SKU")
        return self


class PostingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    posted_on: IsoDate | None = Field(default=None, description="default: today (CST)")


class StocktakeLine(BaseModel):
    sku: str
    book: int = Field(description="on hand when the sheet was opened")
    counted: int | None
    variance: int | None = Field(description="counted - book")
    reason: str | None
    value: str | None = Field(description="posted: the variance's value at moving average")


class StocktakeRead(BaseModel):
    stocktake_id: str
    warehouse_code: str
    count_date: IsoDate
    status: str = Field(description="open or posted")
    posted_on: IsoDate | None
    lines: list[StocktakeLine]
    position: str | None = None


class SellThroughCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_from: IsoDate
    period_to: IsoDate
    lines: list[StockLine] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def period_in_order(self) -> SellThroughCreate:
        if self.period_to < self.period_from:
            raise ValueError("period_to is before period_from")
        return self


class SellThroughLine(BaseModel):
    sku: str
    quantity: int
    cost: str


class SellThroughRead(BaseModel):
    report_id: str
    warehouse_code: str
    dealer_code: str
    period_from: IsoDate
    period_to: IsoDate
    lines: list[SellThroughLine]
    cost: str
    position: str | None = None


def _warehouse_scope(principal: Principal) -> str | None:
    return principal.grant.warehouse if principal.role == Role.WAREHOUSE_CLERK else None


def _scope(principal: Principal) -> Scope:
    """The warehouses the caller acts on: its own (a warehouse clerk), its branch's, its own
    consignment warehouse (a dealer), or all (headquarters)."""
    if principal.is_hq:
        return HEADQUARTERS
    if principal.role == Role.WAREHOUSE_CLERK:
        return Scope(warehouse=principal.grant.warehouse)
    if principal.role in BRANCH_ROLES:
        return Scope(branch=principal.grant.branch)
    return Scope(dealer=principal.grant.dealer)


warehouses = APIRouter(prefix="/warehouses", tags=["warehouses"])
goods_receipts = APIRouter(prefix="/goods-receipts", tags=["stock"])
stock = APIRouter(prefix="/stock", tags=["stock"])
shipments = APIRouter(prefix="/shipments", tags=["shipments"])
transfers = APIRouter(prefix="/transfers", tags=["transfers"])
stocktakes = APIRouter(prefix="/stocktakes", tags=["stocktakes"])


@warehouses.post("", status_code=201, response_model=WarehouseRead)
def register_warehouse(
    body: WarehouseCreate, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    principal.require(Role.HQ_ADMIN)
    cmd = RegisterWarehouse(
        body.code, body.name, body.kind, body.branch, body.region, body.dealer_code
    )
    return run_command(
        app,
        key,
        lambda k: app.register_warehouse(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@warehouses.get("/{code}", response_model=WarehouseRead)
def get_warehouse(code: str, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    principal.check_reads(app.warehouse_ownership(code))
    return warehouse_view(app.get_warehouse(code))


@goods_receipts.post("", status_code=201, response_model=GoodsReceiptRead)
def receive_goods(
    body: GoodsReceiptCreate, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    """入库: goods arrive at a warehouse at their unit cost; on hand rises by each line, and
    the stock's value by its cost."""
    principal.require(Role.WAREHOUSE_CLERK, Role.HQ_ADMIN)
    cmd = ReceiveGoods(
        warehouse_code=body.warehouse_code,
        business_date=body.business_date or business_today(),
        lines=merge_lines([(line.sku, line.quantity) for line in body.lines]),
        unit_costs={line.sku: line.unit_cost for line in body.lines},
    )
    return run_command(
        app,
        key,
        lambda k: app.receive_goods(
            cmd,
            by=principal.provenance(causation_id=k.key),
            warehouse_scope=_warehouse_scope(principal),
            idempotency=k,
        ),
    )


class ReturnedLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    good: Count = Field(ge=0, le=1_000_000, description="back to available stock")
    damaged: Count = Field(ge=0, le=1_000_000, description="to damaged stock")


class ReturnReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received_on: IsoDate | None = Field(default=None, description="default today (CST)")
    lines: list[ReturnedLineCreate] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def distinct_skus(self) -> ReturnReceiptCreate:
        if len({line.sku for line in self.lines}) != len(self.lines):
            raise ValueError("each SKU once: add up its quantities")
        return self


class ReturnedLineRead(BaseModel):
    sku: str
    good: int
    damaged: int
    unit_cost: str = Field(description="what a unit cost when it shipped on the order")
    value: str


class ReturnReceiptRead(BaseModel):
    return_id: str
    order_id: str
    dealer_code: str
    warehouse_code: str
    status: str = Field(description="expected or received")
    expected: list[StockLine]
    received_on: IsoDate | None
    received: list[ReturnedLineRead]
    value: str
    position: str | None = None


@goods_receipts.post("/returns/{return_id}", status_code=201, response_model=ReturnReceiptRead)
def receive_return(
    return_id: UUID,
    body: ReturnReceiptCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """退货入库: count a dealer's approved return in, per SKU good or damaged; finance then
    credits what arrived at the order's prices. A SKU of the return left out did not arrive."""
    principal.require(Role.WAREHOUSE_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = ReceiveReturn(
        return_id=str(return_id),
        received_on=body.received_on or business_today(),
        counted={line.sku: (line.good, line.damaged) for line in body.lines},
    )
    return run_command(
        app,
        key,
        lambda k: app.receive_return(
            cmd,
            by=principal.provenance(causation_id=k.key),
            scope=_scope(principal),
            idempotency=k,
        ),
    )


@goods_receipts.get("/returns/{return_id}", response_model=ReturnReceiptRead)
def get_return_receipt(return_id: UUID, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    receipt = app.get_return_receipt(str(return_id))
    principal.check_reads(app.ownership_of(receipt))
    return return_receipt_view(receipt)


@stock.get("/reservations/{order_id}", response_model=ReservationRead)
def get_reservation(order_id: UUID, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    """What inventory holds for an order, and what has shipped against it."""
    reservation = app.get_reservation(str(order_id))
    principal.check_reads(app.ownership_of(reservation))
    return reservation_view(reservation)


@stock.get("/{warehouse_code}/{sku}", response_model=StockRead)
def get_stock(
    warehouse_code: str, sku: str, principal: CurrentPrincipal, app: InventoryApp
) -> dict:
    """On hand, reserved and available of one SKU at one warehouse, as of now."""
    principal.check_reads(app.warehouse_ownership(warehouse_code, f"stock at {warehouse_code}"))
    return stock_view(app.get_stock(warehouse_code, sku))


@stock.post("/{warehouse_code}/{sku}/safety-stock", response_model=StockSet)
def set_safety_stock(
    warehouse_code: str,
    sku: Code,
    body: SafetyStockUpdate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """安全库存: headquarters sets the level below which a SKU is flagged at a warehouse."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.set_safety_stock(
            warehouse_code,
            sku,
            body.quantity,
            by=principal.provenance(causation_id=k.key),
            idempotency=k,
        ),
    )


@shipments.post("", status_code=201, response_model=ShipmentRead)
def dispatch_shipment(
    body: ShipmentCreate, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    """出库: ship against an approved order, in part or in full, never more than ordered."""
    principal.require(Role.WAREHOUSE_CLERK, Role.HQ_ADMIN)
    cmd = DispatchShipment(
        order_id=str(body.order_id),
        ship_date=body.ship_date or business_today(),
        lines=merge_lines([(line.sku, line.quantity) for line in body.lines]),
    )
    return run_command(
        app,
        key,
        lambda k: app.dispatch(
            cmd,
            by=principal.provenance(causation_id=k.key),
            warehouse_scope=_warehouse_scope(principal),
            idempotency=k,
        ),
    )


@shipments.get("/{shipment_id}", response_model=ShipmentRead)
def get_shipment(shipment_id: UUID, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    shipment = app.get_shipment(shipment_id)
    principal.check_reads(app.ownership_of(shipment))
    return shipment_view(shipment)


@shipments.post("/{shipment_id}/delivery", status_code=200, response_model=ShipmentRead)
def confirm_delivery(
    shipment_id: UUID,
    body: DeliveryCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """The dealer (or its branch, or HQ) confirms the shipment arrived."""
    principal.require(Role.DEALER, Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.confirm_delivery(
            shipment_id,
            body.delivered_on or business_today(),
            by=principal.provenance(causation_id=k.key),
            dealer_scope=principal.grant.dealer if principal.role == Role.DEALER else None,
            branch_scope=None if principal.is_hq else principal.grant.branch,
            idempotency=k,
        ),
    )


# -- 寄售: consignment -------------------------------------------------------------------------
@warehouses.post("/{code}/sell-through", status_code=201, response_model=SellThroughRead)
def report_sell_through(
    code: str,
    body: SellThroughCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """寄售: the dealer (its own consignment warehouse only), its branch or HQ reports what
    the dealer sold of the consignment stock in a period. It leaves at cost; no more than is
    held; one report per warehouse and period. Publishes ConsignmentSellThroughReported."""
    principal.require(Role.DEALER, Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = ReportSellThrough(
        warehouse_code=code,
        period_from=body.period_from,
        period_to=body.period_to,
        lines=merge_lines([(line.sku, line.quantity) for line in body.lines]),
    )
    return run_command(
        app,
        key,
        lambda k: app.report_sell_through(
            cmd, by=principal.provenance(causation_id=k.key), scope=_scope(principal), idempotency=k
        ),
    )


# -- 残损: damaged stock ----------------------------------------------------------------------
def _stock_document(warehouse_code: str, sku: str, body: StockDocumentCreate) -> StockDocument:
    return StockDocument(
        warehouse_code=warehouse_code,
        sku=sku,
        quantity=body.quantity,
        reason=body.reason,
        business_date=body.business_date or business_today(),
    )


@stock.post("/{warehouse_code}/{sku}/damage", response_model=StockDocumentRead)
def mark_damaged(
    warehouse_code: str,
    sku: Code,
    body: StockDocumentCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """残损: available stock found damaged (at a stocktake, on the shelf): it stays on hand
    and valued but is never available for orders."""
    principal.require(Role.WAREHOUSE_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = _stock_document(warehouse_code, sku, body)
    return run_command(
        app,
        key,
        lambda k: app.mark_damaged(
            cmd, by=principal.provenance(causation_id=k.key), scope=_scope(principal), idempotency=k
        ),
    )


@stock.post("/{warehouse_code}/{sku}/write-off", response_model=StockDocumentRead)
def write_off_damaged(
    warehouse_code: str,
    sku: Code,
    body: StockDocumentCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """Damaged stock written off: it leaves the books at its moving average cost. A branch
    manager or HQ decides."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = _stock_document(warehouse_code, sku, body)
    return run_command(
        app,
        key,
        lambda k: app.write_off_damaged(
            cmd, by=principal.provenance(causation_id=k.key), scope=_scope(principal), idempotency=k
        ),
    )


# -- 调拨: transfers --------------------------------------------------------------------------
@transfers.post("", status_code=201, response_model=TransferRead)
def dispatch_transfer(
    body: TransferCreate, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    """调拨: dispatch stock from one warehouse (the caller's) to another. It leaves at the
    source's moving average cost and is in transit to the destination; never more than is
    available (409 insufficient_stock, nothing changed)."""
    principal.require(Role.WAREHOUSE_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = DispatchTransfer(
        from_warehouse=body.from_warehouse,
        to_warehouse=body.to_warehouse,
        ship_date=body.ship_date or business_today(),
        lines=merge_lines([(line.sku, line.quantity) for line in body.lines]),
        note=body.note,
    )
    return run_command(
        app,
        key,
        lambda k: app.dispatch_transfer(
            cmd, by=principal.provenance(causation_id=k.key), scope=_scope(principal), idempotency=k
        ),
    )


@transfers.get("/{transfer_id}", response_model=TransferRead)
def get_transfer(transfer_id: UUID, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    transfer = app.get_transfer(transfer_id)
    principal.check_reads(app.ownership_of(transfer))
    return transfer_view(transfer)


@transfers.post("/{transfer_id}/receipt", status_code=200, response_model=TransferRead)
def receive_transfer(
    transfer_id: UUID,
    body: TransferReceipt,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """The destination receives the transfer, once (409 invalid_transition after): per SKU
    what arrived in good condition and damaged; any difference needs its reason (409
    discrepancy_reason_required), and its value is a transit loss (or gain)."""
    principal.require(
        Role.WAREHOUSE_CLERK, Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.DEALER, Role.HQ_ADMIN
    )
    cmd = ReceiveTransfer(
        received_on=body.received_on or business_today(),
        lines={
            line.sku: Arrival(line.received, line.damaged, line.reason, line.note)
            for line in body.lines
        },
    )
    return run_command(
        app,
        key,
        lambda k: app.receive_transfer(
            transfer_id,
            cmd,
            by=principal.provenance(causation_id=k.key),
            scope=_scope(principal),
            idempotency=k,
        ),
    )


# -- 盘点: stocktakes -------------------------------------------------------------------------
@stocktakes.post("", status_code=201, response_model=StocktakeRead)
def open_stocktake(
    body: StocktakeCreate, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    """盘点: open a count sheet for SKUs at a warehouse; each SKU's book quantity is frozen
    as it stands now."""
    principal.require(Role.WAREHOUSE_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = OpenStocktake(
        warehouse_code=body.warehouse_code,
        count_date=body.count_date or business_today(),
        skus=list(dict.fromkeys(body.skus)),
    )
    return run_command(
        app,
        key,
        lambda k: app.open_stocktake(
            cmd, by=principal.provenance(causation_id=k.key), scope=_scope(principal), idempotency=k
        ),
    )


@stocktakes.get("/{stocktake_id}", response_model=StocktakeRead)
def get_stocktake(stocktake_id: UUID, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    stocktake = app.get_stocktake(stocktake_id)
    principal.check_reads(app.ownership_of(stocktake))
    return stocktake_view(stocktake)


@stocktakes.post("/{stocktake_id}/counts", status_code=200, response_model=StocktakeRead)
def record_counts(
    stocktake_id: UUID,
    body: CountsCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """Counted quantities, in as many submissions as it takes (a later count of a SKU
    replaces the earlier one), each differing from the book with its reason."""
    principal.require(Role.WAREHOUSE_CLERK, Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = RecordCounts(
        counts={line.sku: line.counted for line in body.lines},
        reasons={line.sku: str(line.reason) for line in body.lines if line.reason},
    )
    return run_command(
        app,
        key,
        lambda k: app.record_counts(
            stocktake_id,
            cmd,
            by=principal.provenance(causation_id=k.key),
            scope=_scope(principal),
            idempotency=k,
        ),
    )


@stocktakes.post("/{stocktake_id}/posting", status_code=200, response_model=StocktakeRead)
def post_stocktake(
    stocktake_id: UUID,
    body: PostingCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """Post the variances (counted - book at opening) against the stock as it stands, at
    moving average cost, once: every SKU counted (409 count_incomplete), every variance with
    its reason (409 variance_reason_required), none leaving less than orders hold (409
    stock_reserved). A branch manager or HQ posts."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.post_stocktake(
            stocktake_id,
            body.posted_on or business_today(),
            by=principal.provenance(causation_id=k.key),
            scope=_scope(principal),
            idempotency=k,
        ),
    )

"""Routes of the inventory API (port 8102): warehouses, goods receipts, stock, what is held
for each order, shipments and their delivery."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.schemas import Code, Money, Name
from runtime.settings import Role
from services.inventory.application import (
    DispatchShipment,
    InventoryApplication,
    ReceiveGoods,
    RegisterWarehouse,
    merge_lines,
    reservation_view,
    shipment_view,
    stock_view,
    warehouse_view,
)
from services.inventory.domain import WarehouseKind
from services.kernel.dates import business_today


def _inventory(request: Request) -> InventoryApplication:
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


class WarehouseRead(BaseModel):
    warehouse_id: str
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None
    position: str | None = None


class ReceiptLine(StockLine):
    unit_cost: Money = Field(description="CNY per unit, at cost (what the goods came in at)")


class GoodsReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse_code: Code
    business_date: date | None = Field(default=None, description="default: today (CST)")
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
    available: int
    safety_stock: int
    value: str = Field(description="CNY at cost (moving weighted average) of what is on hand")


class StockSet(StockRead):
    position: str | None = None


class SafetyStockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=0, le=1_000_000_000)


class GoodsReceiptRead(BaseModel):
    receipt_id: str
    warehouse_code: str
    business_date: date
    stock: list[StockRead]
    position: str | None = None


class ShipmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: UUID
    ship_date: date | None = Field(default=None, description="default: today (CST)")
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
    ship_date: date
    lines: list[ShipmentLine]
    order_complete: bool
    delivered_on: date | None
    position: str | None = None


class DeliveryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivered_on: date | None = Field(default=None, description="default: today (CST)")


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


def _warehouse_scope(principal: Principal) -> str | None:
    return principal.grant.warehouse if principal.role == Role.WAREHOUSE_CLERK else None


warehouses = APIRouter(prefix="/warehouses", tags=["warehouses"])
goods_receipts = APIRouter(prefix="/goods-receipts", tags=["stock"])
stock = APIRouter(prefix="/stock", tags=["stock"])
shipments = APIRouter(prefix="/shipments", tags=["shipments"])


@warehouses.post("", status_code=201, response_model=WarehouseRead)
def register_warehouse(
    body: WarehouseCreate, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    principal.require(Role.HQ_ADMIN)
    cmd = RegisterWarehouse(body.code, body.name, body.kind, body.branch, body.region)
    return run_command(
        app,
        key,
        lambda k: app.register_warehouse(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@warehouses.get("/{code}", response_model=WarehouseRead)
def get_warehouse(code: str, principal: CurrentPrincipal, app: InventoryApp) -> dict:
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


@stock.get("/reservations/{order_id}", response_model=ReservationRead)
def get_reservation(order_id: UUID, principal: CurrentPrincipal, app: InventoryApp) -> dict:
    """What inventory holds for an order, and what has shipped against it."""
    return reservation_view(app.get_reservation(str(order_id)))


@stock.get("/{warehouse_code}/{sku}", response_model=StockRead)
def get_stock(
    warehouse_code: str, sku: str, principal: CurrentPrincipal, app: InventoryApp
) -> dict:
    """On hand, reserved and available of one SKU at one warehouse, as of now."""
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
    return shipment_view(app.get_shipment(shipment_id))


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

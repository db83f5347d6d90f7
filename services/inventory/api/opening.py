"""Routes of opening stock at the cut-over (期初库存, services/inventory/opening.py):
headquarters records a warehouse's stock on hand at cost, one document at a time, before
business starts there, and may reopen a warehouse's cut-over."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.schemas import Code, IsoDate
from runtime.settings import Role
from services.inventory.api.routes import InventoryApp, ReceiptLine, StockRead
from services.inventory.application import RecordOpeningStock, merge_lines

opening_stock = APIRouter(prefix="/warehouses", tags=["opening balances"])

RULES = {
    201: {"description": "recorded"},
    409: {"description": "document already recorded, or business already started (cut-over)"},
}


class OpeningStockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_number: Code = Field(examples=["OB-WH-CD-001"])
    cut_over_date: IsoDate
    lines: list[ReceiptLine] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def one_cost_per_sku(self) -> OpeningStockCreate:
        costs: dict[str, Decimal] = {}
        for line in self.lines:
            if costs.setdefault(line.sku, line.unit_cost) != line.unit_cost:
                raise ValueError(f"{line.sku} opens at two unit costs: one line each")
        return self


class OpeningStockRead(BaseModel):
    opening_id: str
    document_number: str
    warehouse_code: str
    cut_over_date: IsoDate
    stock: list[StockRead]
    position: str | None = None


class CutOverReopened(BaseModel):
    warehouse_code: str
    cut_over_reopened: bool
    position: str | None = None


@opening_stock.post(
    "/{code}/opening-stock", status_code=201, response_model=OpeningStockRead, responses=RULES
)
def record_opening_stock(
    code: str,
    body: OpeningStockCreate,
    principal: CurrentPrincipal,
    app: InventoryApp,
    key: Idempotency,
) -> JSONResponse:
    """期初库存: stock on hand at the cut-over, per SKU at its unit cost, starting the moving
    average. Once a SKU has moved at the warehouse, 409 ``cut_over_closed`` unless
    headquarters reopened the cut-over; a document number again, 409
    ``opening_already_recorded``."""
    principal.require(Role.HQ_ADMIN)
    cmd = RecordOpeningStock(
        warehouse_code=code,
        document_number=body.document_number,
        cut_over_date=body.cut_over_date,
        lines=merge_lines([(line.sku, line.quantity) for line in body.lines]),
        unit_costs={line.sku: line.unit_cost for line in body.lines},
    )
    return run_command(
        app,
        key,
        lambda k: app.record_opening_stock(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@opening_stock.post("/{code}/cut-over/reopening", response_model=CutOverReopened)
def reopen_cut_over(
    code: str, principal: CurrentPrincipal, app: InventoryApp, key: Idempotency
) -> JSONResponse:
    """Headquarters lets opening stock in after business has started at the warehouse (a
    correction of the cut-over)."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.reopen_cut_over(
            code, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )

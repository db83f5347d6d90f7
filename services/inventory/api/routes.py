"""Routes of the inventory API: warehouses in this first cut (port 8102)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.schemas import Code, Name
from runtime.settings import Role
from services.inventory.application import (
    InventoryApplication,
    RegisterWarehouse,
    warehouse_view,
)
from services.inventory.domain import WarehouseKind


def _inventory(request: Request) -> InventoryApplication:
    return request.app.state.application


InventoryApp = Annotated[InventoryApplication, Depends(_inventory)]


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


warehouses = APIRouter(prefix="/warehouses", tags=["warehouses"])


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

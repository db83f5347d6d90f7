"""Wires the inventory process: its application, relay, process manager and HTTP app."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.imports.api import import_routes
from services.inventory.api.opening import opening_stock
from services.inventory.api.routes import (
    goods_receipts,
    shipments,
    stock,
    stocktakes,
    transfers,
    warehouses,
)
from services.inventory.application import POLICIES, InventoryApplication
from services.inventory.contract import to_integration_event


def build(
    settings: Settings, *, with_relay: bool = True, with_process_manager: bool = True
) -> Process:
    return service_process(
        settings,
        application_class=InventoryApplication,
        translate=to_integration_event,
        routers=[
            import_routes("inventory"),
            warehouses,
            opening_stock,
            goods_receipts,
            stock,
            shipments,
            transfers,
            stocktakes,
        ],
        description="Warehouses, stock, reservations per order, shipments and deliveries, "
        "transfers, stocktakes, damaged stock and consignment sell-through.",
        policies=POLICIES,
        listens_to=("orders",),
        with_relay=with_relay,
        with_process_manager=with_process_manager,
    )

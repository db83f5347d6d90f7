"""Wires the inventory process."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.inventory.api.routes import warehouses
from services.inventory.application import InventoryApplication
from services.inventory.contract import to_integration_event


def build(settings: Settings, *, with_relay: bool = True) -> Process:
    return service_process(
        settings,
        application_class=InventoryApplication,
        translate=to_integration_event,
        routers=[warehouses],
        description="Warehouses and stock.",
        with_relay=with_relay,
    )

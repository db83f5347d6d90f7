"""Wires the inventory process: application, relay, HTTP app."""

from __future__ import annotations

from runtime.process import Process
from runtime.relay import Relay
from runtime.settings import Settings
from services.inventory.api.app import build_api
from services.inventory.application import InventoryApplication
from services.inventory.contract import to_integration_event


def build(settings: Settings, *, with_relay: bool = True) -> Process:
    app = InventoryApplication(settings)
    relay = Relay(settings, app, to_integration_event) if with_relay else None
    return Process(
        name="inventory",
        api=build_api(settings, app, relay),
        workers=[relay] if relay else [],
        on_close=[app.close],
    )

"""Wires the orders process: application, relay, HTTP app. Nothing is built at import time."""

from __future__ import annotations

from runtime.process import Process
from runtime.relay import Relay
from runtime.settings import Settings
from services.orders.api.app import build_api
from services.orders.application import OrdersApplication
from services.orders.contract import to_integration_event


def build(settings: Settings, *, with_relay: bool = True) -> Process:
    app = OrdersApplication(settings)
    relay = Relay(settings, app, to_integration_event) if with_relay else None
    return Process(
        name="orders",
        api=build_api(settings, app, relay),
        workers=[relay] if relay else [],
        on_close=[app.close],
    )

"""Wires the orders process. Nothing is built at import time."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.orders.api.routes import dealers, orders, products
from services.orders.application import OrdersApplication
from services.orders.contract import to_integration_event


def build(settings: Settings, *, with_relay: bool = True) -> Process:
    return service_process(
        settings,
        application_class=OrdersApplication,
        translate=to_integration_event,
        routers=[dealers, products, orders],
        description="Dealer registry, product catalogue and dealer orders.",
        with_relay=with_relay,
    )

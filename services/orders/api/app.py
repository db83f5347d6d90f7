"""The orders HTTP app (port 8101)."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.http.app import broker_reachable, create_app, database_reachable, relay_running
from runtime.relay import Relay
from runtime.settings import Settings
from services.orders.api.routes import dealers, orders, products
from services.orders.application import OrdersApplication


def build_api(settings: Settings, app: OrdersApplication, relay: Relay | None) -> FastAPI:
    checks = [database_reachable(app), broker_reachable(settings)]
    if relay is not None:
        checks.append(relay_running(relay))
    api = create_app(
        title="orders",
        process="orders",
        settings=settings,
        checks=checks,
        description="Dealer registry, product catalogue and dealer orders.",
    )
    api.state.orders = app
    for router in (dealers, products, orders):
        api.include_router(router)
    return api

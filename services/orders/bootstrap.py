"""Wires the orders process: its application, relay, process manager and HTTP app."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.imports.api import import_routes
from services.orders.api.organisation import organisation
from services.orders.api.planning import demand_plans, salespeople_of_dealers, targets
from services.orders.api.returns import returns
from services.orders.api.routes import dealers, orders, price_lists, products, promotions
from services.orders.application import POLICIES, OrdersApplication
from services.orders.contract import to_integration_event


def build(
    settings: Settings, *, with_relay: bool = True, with_process_manager: bool = True
) -> Process:
    return service_process(
        settings,
        application_class=OrdersApplication,
        translate=to_integration_event,
        routers=[
            import_routes("orders"),
            organisation,
            dealers,
            products,
            price_lists,
            promotions,
            orders,
            returns,
        ]
        + [demand_plans, targets, salespeople_of_dealers],
        description="The sales organisation (regions and branches), dealer registry, "
        "product catalogue and dealer orders with their workflow.",
        policies=POLICIES,
        listens_to=("finance", "inventory"),
        with_relay=with_relay,
        with_process_manager=with_process_manager,
    )

"""Create every schema and table once, before any process starts (never raced: concurrent
CREATE TABLE fails with 'tuple concurrently updated', INFRA-NOTES)."""

from __future__ import annotations

from runtime.eventstore import ServiceApplication, create_schema
from runtime.relay import create_relay_state_table
from runtime.settings import Settings


def service_applications() -> dict[str, type[ServiceApplication]]:
    from services.finance.application import FinanceApplication
    from services.inventory.application import InventoryApplication
    from services.orders.application import OrdersApplication

    return {
        "orders": OrdersApplication,
        "inventory": InventoryApplication,
        "finance": FinanceApplication,
    }


def migrate(settings: Settings) -> None:
    from projections.bootstrap import PROJECTIONS
    from projections.tracking import create_tables, projections_engine

    for service, application_class in service_applications().items():
        create_schema(settings, service)
        application_class(settings, create_table=True).close()
        create_relay_state_table(settings, service)
    engine = projections_engine(settings, settings.projections_schema)
    try:
        for projection in PROJECTIONS:
            create_tables(engine, settings.projections_schema, projection)
    finally:
        engine.dispose()

"""Create every schema, table and topic once, before any process starts (never raced:
concurrent CREATE TABLE fails with 'tuple concurrently updated', INFRA-NOTES), and rebuild
each read model the code reads differently (projections/upgrade.py). Relays and
consumers also create a missing topic, with the same settings: the embedded broker forgets
its topics when it restarts."""

from __future__ import annotations

from runtime import kafka
from runtime.eventstore import ServiceApplication, create_schema
from runtime.relay import create_relay_state_table
from runtime.settings import Settings


def service_applications() -> dict[str, type[ServiceApplication]]:
    from services.finance.application import FinanceApplication
    from services.identity.application import IdentityApplication
    from services.inventory.application import InventoryApplication
    from services.orders.application import OrdersApplication
    from services.warnings.application import WarningsApplication

    return {
        "orders": OrdersApplication,
        "inventory": InventoryApplication,
        "finance": FinanceApplication,
        "identity": IdentityApplication,
        "warnings": WarningsApplication,
    }


def migrate(settings: Settings) -> None:
    from projections.bootstrap import PROJECTIONS
    from projections.tracking import projections_engine
    from projections.upgrade import upgrade
    from services.warnings.board import create_board_tables

    for service, application_class in service_applications().items():
        create_schema(settings, service)
        application_class(settings, create_table=True).close()
        create_relay_state_table(settings, service)
    create_board_tables(settings)
    if settings.kafka_bootstrap_servers:
        client = kafka.admin(settings)
        try:
            for service in service_applications():
                kafka.ensure_topic(client, settings.topic(service), settings)
        finally:
            client.close()
    engine = projections_engine(settings, settings.projections_schema)
    try:
        # Each read model created, or rebuilt when the code reads another shape or version.
        upgrade(settings, engine, PROJECTIONS)
    finally:
        engine.dispose()

"""Translation of the inventory service's domain events into its integration events."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts import inventory as published
from contracts.envelope import IntegrationEvent
from services.inventory.domain import Warehouse


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    if isinstance(event, Warehouse.Registered):
        return published.WarehouseRegistered(
            warehouse_id=str(event.originator_id),
            code=event.code,
            name=event.name,
            kind=event.kind,
            branch=event.branch,
            region=event.region,
        )
    return None

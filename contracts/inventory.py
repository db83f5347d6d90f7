"""Integration events published by the inventory service on ``<namespace>.inventory.events``,
keyed by the aggregate id."""

from __future__ import annotations

from contracts.envelope import IntegrationEvent


class WarehouseRegistered(IntegrationEvent):
    """A warehouse was opened: central, a branch's, or a dealer's consignment store."""

    service = "inventory"
    event_name = "WarehouseRegistered"
    version = 1

    warehouse_id: str
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None

"""The inventory application: the command handler of the inventory service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from services.inventory.domain import UnknownWarehouse, Warehouse, WarehouseAlreadyRegistered


@dataclass(frozen=True)
class RegisterWarehouse:
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None


def warehouse_view(warehouse: Warehouse) -> dict[str, Any]:
    return {
        "warehouse_id": str(warehouse.id),
        "code": warehouse.code,
        "name": warehouse.name,
        "kind": str(warehouse.kind),
        "branch": warehouse.branch,
        "region": warehouse.region,
    }


class InventoryApplication(ServiceApplication):
    service = "inventory"
    name = "inventory"

    def register_warehouse(
        self, cmd: RegisterWarehouse, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        duplicate = WarehouseAlreadyRegistered(f"warehouse {cmd.code} is already registered")
        if self.exists(Warehouse.create_id(cmd.code)):
            raise duplicate
        warehouse = Warehouse(
            code=cmd.code,
            name=cmd.name,
            kind=cmd.kind,
            branch=cmd.branch,
            region=cmd.region,
            by=by,
        )
        return self.save_registration(
            warehouse, body=warehouse_view(warehouse), idempotency=idempotency, duplicate=duplicate
        )

    def get_warehouse(self, code: str) -> Warehouse:
        try:
            return self.repository.get(Warehouse.create_id(code))
        except AggregateNotFoundError:
            raise UnknownWarehouse(f"no warehouse {code}") from None

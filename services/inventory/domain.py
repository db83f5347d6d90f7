"""The inventory service's aggregates. This first cut holds the warehouse registry; stock,
reservations and shipments arrive with order to cash."""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:inventory")


class WarehouseKind(StrEnum):
    CENTRAL = "central"
    BRANCH = "branch"
    CONSIGNMENT = "consignment"  # 寄售: stock held at a dealer's location


class WarehouseAlreadyRegistered(RuleViolation):
    code = "warehouse_already_registered"


class UnknownWarehouse(NotFound):
    code = "unknown_warehouse"


class MissingBranch(RuleViolation):
    code = "branch_required"


class Warehouse(Aggregate):
    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(_IDS, f"warehouse:{code}")

    class Registered(Aggregate.Created):
        code: str
        name: str
        kind: str
        branch: str | None
        region: str | None
        by: Provenance

    @event(Registered)
    def __init__(
        self,
        *,
        code: str,
        name: str,
        kind: str,
        branch: str | None,
        region: str | None,
        by: Provenance,
    ) -> None:
        if kind != WarehouseKind.CENTRAL and not branch:
            raise MissingBranch(f"a {kind} warehouse belongs to a branch")
        self.code = code
        self.name = name
        self.kind = WarehouseKind(kind)
        self.branch = branch
        self.region = region

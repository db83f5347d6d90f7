"""期初库存: opening stock at the cut-over, when a brand brings its stock on hand at cost
from the system it leaves.

An opening document names a warehouse, its own document number (idempotent per document:
the same number again is 409 ``opening_already_recorded``), the cut-over date and, per SKU,
the quantity and unit cost; each line starts the SKU's moving average there like a receipt,
but is its own event (``OpeningStockRecorded``), posted by the ERP against the opening
balances clearing account rather than goods received not invoiced.

Opening stock comes before business: once a SKU has moved at a warehouse (a receipt, a
reservation, a transfer, a count, ...), opening stock of it there is refused (409
``cut_over_closed``) unless headquarters has reopened the warehouse's cut-over.
Nothing here does I/O.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.inventory.domain import StockItem, Warehouse
from services.kernel.errors import RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:inventory")


class CutOverClosed(RuleViolation):
    code = "cut_over_closed"


class OpeningAlreadyRecorded(RuleViolation):
    code = "opening_already_recorded"


def check_cut_over_open(warehouse: Warehouse, items: list[StockItem]) -> None:
    moved = sorted(item.sku for item in items if item.has_moved)
    if moved and not warehouse.takes_openings_after_business:
        raise CutOverClosed(
            f"{', '.join(moved)} already moved at {warehouse.code}: opening stock comes before "
            "business (headquarters may reopen the warehouse's cut-over)",
            warehouse_code=warehouse.code,
            skus=moved,
        )


class OpeningStock(Aggregate):
    """One opening stock document of a warehouse."""

    @staticmethod
    def create_id(warehouse_code: str, document_number: str) -> UUID:
        return uuid5(_IDS, f"opening-stock:{warehouse_code}:{document_number}")

    class Recorded(Aggregate.Created):
        warehouse_code: str
        document_number: str
        cut_over_date: date
        lines: dict[str, int]
        unit_costs: dict[str, Decimal]
        by: Provenance

    @event(Recorded)
    def __init__(
        self,
        *,
        warehouse_code: str,
        document_number: str,
        cut_over_date: date,
        lines: dict[str, int],
        unit_costs: dict[str, Decimal],
        by: Provenance,
    ) -> None:
        self.warehouse_code = warehouse_code
        self.document_number = document_number
        self.cut_over_date = cut_over_date
        self.lines = lines
        self.unit_costs = unit_costs

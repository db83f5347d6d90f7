"""退货入库: receiving a dealer's approved return back into stock.

Orders approves a return (``ReturnApproved``); inventory then expects it at the order's
warehouse. The warehouse counts what came back, per SKU good (back to available stock) or
damaged (to damaged stock: on hand, never available). Either comes back at what it cost when
it shipped on that order, so returning goods neither makes nor loses value. A return is
received once; what never arrived is simply not received (and not credited).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:inventory")


class UnknownReturn(NotFound):
    code = "unknown_return"


class ReturnOverReceipt(RuleViolation):
    code = "return_over_receipt"


class NotOnReturn(RuleViolation):
    code = "not_on_return"


class ReturnAlreadyReceived(RuleViolation):
    code = "invalid_transition"


class NothingReceived(RuleViolation):
    code = "invalid_quantity"


class ReturnReceiptStatus(StrEnum):
    EXPECTED = "expected"
    RECEIVED = "received"


class ReturnReceipt(Aggregate):
    """An approved return, expected at a warehouse, and what of it arrived."""

    @staticmethod
    def create_id(return_id: str) -> UUID:
        return uuid5(_IDS, f"return:{return_id}")

    class Expected(Aggregate.Created):
        return_id: str
        order_id: str
        dealer_code: str
        branch: str
        warehouse_code: str
        lines: dict[str, int]

    @event(Expected)
    def __init__(
        self,
        *,
        return_id: str,
        order_id: str,
        dealer_code: str,
        branch: str,
        warehouse_code: str,
        lines: dict[str, int],
    ) -> None:
        self.return_id = return_id
        self.order_id = order_id
        self.dealer_code = dealer_code
        self.branch = branch
        self.warehouse_code = warehouse_code
        self.lines = lines
        self.status = ReturnReceiptStatus.EXPECTED
        self.received_on: date | None = None
        self.received: dict[str, dict] = {}  # sku -> good, damaged, unit_cost, value

    def check_receivable(self, counted: dict[str, tuple[int, int]]) -> None:
        """``counted``: per SKU (good, damaged)."""
        if self.status != ReturnReceiptStatus.EXPECTED:
            raise ReturnAlreadyReceived(f"return {self.return_id} was received already")
        strangers = sorted(set(counted) - set(self.lines))
        if strangers:
            raise NotOnReturn(f"not on return {self.return_id}: {', '.join(strangers)}")
        for sku, (good, damaged) in sorted(counted.items()):
            if good + damaged > self.lines[sku]:
                raise ReturnOverReceipt(
                    f"{sku}: {good + damaged} received, but the return approved {self.lines[sku]}",
                    sku=sku,
                )
        if not any(good + damaged for good, damaged in counted.values()):
            raise NothingReceived("nothing received: count at least one unit")

    def receive(self, received_on: date, received: dict[str, dict], by: Provenance) -> None:
        self._received(
            return_id=self.return_id,
            order_id=self.order_id,
            dealer_code=self.dealer_code,
            warehouse_code=self.warehouse_code,
            received_on=received_on,
            received=received,
            by=by,
        )

    @event("Received")
    def _received(
        self,
        return_id: str,
        order_id: str,
        dealer_code: str,
        warehouse_code: str,
        received_on: date,
        received: dict[str, dict],
        by: Provenance,
    ) -> None:
        self.status = ReturnReceiptStatus.RECEIVED
        self.received_on = received_on
        self.received = received

    @property
    def value(self) -> Decimal:
        return sum((line["value"] for line in self.received.values()), Decimal("0.00"))

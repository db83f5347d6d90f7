"""寄售结算: consignment stock a dealer reported sold is a sale, priced here for finance to
invoice. The goods left the brand's consignment warehouse at the dealer's location when the
dealer sold them (inventory's ``ConsignmentSellThroughReported``); the sale is priced at the
dealer grade's price list in effect on the last day of the reported period. Promotions are
for orders placed, not for consignment settled."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_IDS = uuid5(NAMESPACE_URL, "urn:dist:orders")


class ConsignmentSale(Aggregate):
    """What one sell-through report sold, at the dealer's prices."""

    @staticmethod
    def create_id(report_id: str) -> UUID:
        return uuid5(_IDS, f"consignment-sale:{report_id}")

    class Priced(Aggregate.Created):
        report_id: str
        dealer_code: str
        branch: str
        region: str
        warehouse_code: str
        period_from: date
        period_to: date
        lines: list[dict]
        total: Decimal

    @event(Priced)
    def __init__(
        self,
        *,
        report_id: str,
        dealer_code: str,
        branch: str,
        region: str,
        warehouse_code: str,
        period_from: date,
        period_to: date,
        lines: list[dict],
        total: Decimal,
    ) -> None:
        self.report_id = report_id
        self.dealer_code = dealer_code
        self.branch = branch
        self.region = region
        self.warehouse_code = warehouse_code
        self.period_from = period_from
        self.period_to = period_to
        self.lines = lines
        self.total = total

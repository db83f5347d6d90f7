"""The orders service's aggregates: the dealer registry, the product catalogue, dealer orders.

An aggregate's events are its only state. Rules live in ``check_*`` functions and aggregate
methods that raise named errors; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, OutsideScope, RuleViolation
from services.kernel.money import MAX_ORDER_TOTAL, cny, line_amount

_IDS = uuid5(NAMESPACE_URL, "urn:dist:orders")


class DealerGrade(StrEnum):
    """Channel tiers: the grade picks the dealer's price list (later issue)."""

    TIER1_DISTRIBUTOR = "tier1_distributor"
    TIER2_DISTRIBUTOR = "tier2_distributor"
    EXCLUSIVE_DEALER = "exclusive_dealer"
    GROUP_BUY = "group_buy"


class DealerAlreadyRegistered(RuleViolation):
    code = "dealer_already_registered"


class ProductAlreadyRegistered(RuleViolation):
    code = "product_already_registered"


class UnknownDealer(NotFound):
    code = "unknown_dealer"


class UnknownProduct(NotFound):
    code = "unknown_sku"


class UnknownOrder(NotFound):
    code = "unknown_order"


class InvalidQuantity(RuleViolation):
    code = "invalid_quantity"


class InvalidPrice(RuleViolation):
    code = "invalid_price"


class OrderTooLarge(RuleViolation):
    code = "order_too_large"


class Dealer(Aggregate):
    """经销商: a dealer of a branch office, with its grade."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(_IDS, f"dealer:{code}")

    class Registered(Aggregate.Created):
        code: str
        name: str
        branch: str
        region: str
        grade: str
        by: Provenance

    @event(Registered)
    def __init__(
        self, *, code: str, name: str, branch: str, region: str, grade: str, by: Provenance
    ) -> None:
        self.code = code
        self.name = name
        self.branch = branch
        self.region = region
        self.grade = DealerGrade(grade)


class Product(Aggregate):
    """A SKU of the catalogue, with its list price per unit."""

    @staticmethod
    def create_id(sku: str) -> UUID:
        return uuid5(_IDS, f"product:{sku}")

    class Registered(Aggregate.Created):
        sku: str
        name: str
        category: str
        unit: str
        list_price: Decimal
        by: Provenance

    @event(Registered)
    def __init__(
        self,
        *,
        sku: str,
        name: str,
        category: str,
        unit: str,
        list_price: Decimal,
        by: Provenance,
    ) -> None:
        if list_price <= 0 or cny(list_price) != list_price or list_price > MAX_ORDER_TOTAL:
            raise InvalidPrice(f"list price of {sku} must be positive, to the fen")
        self.sku = sku
        self.name = name
        self.category = category
        self.unit = unit
        self.list_price = list_price


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal
    amount: Decimal

    def as_event_data(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": self.amount,
        }


def price_lines(
    requested: list[RequestedLine], catalogue: dict[str, Product]
) -> tuple[list[PricedLine], Decimal]:
    """Price each line at the catalogue's list price; the total is the sum of line amounts,
    each quantised to the fen (so the total always equals what the lines show)."""
    if not requested:
        raise InvalidQuantity("an order needs at least one line")
    missing = sorted({line.sku for line in requested} - set(catalogue))
    if missing:
        raise UnknownProduct(f"unknown SKU(s): {', '.join(missing)}", skus=missing)
    lines = []
    for line in requested:
        if line.quantity <= 0:
            raise InvalidQuantity(f"quantity of {line.sku} must be positive, got {line.quantity}")
        product = catalogue[line.sku]
        lines.append(
            PricedLine(
                sku=product.sku,
                name=product.name,
                category=product.category,
                quantity=line.quantity,
                unit_price=product.list_price,
                amount=line_amount(line.quantity, product.list_price),
            )
        )
    total = cny(sum((line.amount for line in lines), Decimal("0")))
    if total > MAX_ORDER_TOTAL:
        raise OrderTooLarge(f"order total {total} exceeds the {MAX_ORDER_TOTAL} CNY ceiling")
    return lines, total


def check_may_order_for(
    dealer: Dealer, *, role: str, branch: str | None, dealer_code: str | None
) -> None:
    """A branch sees its own dealers, a dealer only itself; headquarters everyone."""
    if role in ("branch_clerk", "branch_manager") and dealer.branch != branch:
        raise OutsideScope(f"dealer {dealer.code} belongs to branch {dealer.branch}")
    if role == "dealer" and dealer.code != dealer_code:
        raise OutsideScope(f"a dealer may only order for itself, not {dealer.code}")
    if role in ("warehouse_clerk", "erp", "hq_viewer"):
        raise OutsideScope(f"role {role} may not place orders")


class Order(Aggregate):
    """订单: a dealer's order, priced at placing."""

    class Placed(Aggregate.Created):
        dealer_id: UUID
        dealer_code: str
        branch: str
        region: str
        business_date: date
        lines: list[dict]
        total: Decimal
        by: Provenance

    @event(Placed)
    def __init__(
        self,
        *,
        dealer_id: UUID,
        dealer_code: str,
        branch: str,
        region: str,
        business_date: date,
        lines: list[dict],
        total: Decimal,
        by: Provenance,
    ) -> None:
        self.dealer_id = dealer_id
        self.dealer_code = dealer_code
        self.branch = branch
        self.region = region
        self.business_date = business_date
        self.lines = lines
        self.total = total
        self.status = "placed"

    @classmethod
    def place(
        cls,
        *,
        dealer: Dealer,
        priced: list[PricedLine],
        total: Decimal,
        business_date: date,
        by: Provenance,
    ) -> Order:
        return cls(
            dealer_id=dealer.id,
            dealer_code=dealer.code,
            branch=dealer.branch,
            region=dealer.region,
            business_date=business_date,
            lines=[line.as_event_data() for line in priced],
            total=total,
            by=by,
        )

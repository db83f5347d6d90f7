"""The orders service's aggregates: the dealer registry, the product catalogue, dealer orders.

An aggregate's events are its only state. Rules live in ``check_*`` functions and aggregate
methods that raise named errors; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, OutsideScope, RuleViolation
from services.kernel.money import MAX_ORDER_TOTAL, cny, line_amount
from services.orders.promotions import CategoryTree, Promotion, PromotionKind
from services.orders.returns import ReturnExceedsShipped

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


class PriceBackdated(RuleViolation):
    code = "price_backdated"


ALWAYS = date.min  # a price set before prices had effective dates applies from the start


class PriceList(Aggregate):
    """价格表: a dealer grade's unit prices, each in effect from a date until the SKU's next
    price takes over. A SKU it does not list sells at list price.

    When a price may take effect (today or later, or in the past after the last order booked
    of the grade) is ``BookedDates``' rule (history.py), checked before ``set_price``."""

    # v2 keeps each SKU's prices by the date they take effect; v1 kept one price per SKU.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["schedule"] = {
            sku: {ALWAYS.isoformat(): price} for sku, price in state.pop("prices").items()
        }

    @staticmethod
    def create_id(grade: str) -> UUID:
        return uuid5(_IDS, f"price-list:{grade}")

    class Opened(Aggregate.Created):
        grade: str

    @event(Opened)
    def __init__(self, *, grade: str) -> None:
        self.grade = DealerGrade(grade)
        self.schedule: dict[str, dict[str, Decimal]] = {}  # sku -> effective from -> price

    def set_price(
        self, sku: str, unit_price: Decimal, *, effective_from: date, by: Provenance
    ) -> bool:
        """The SKU sells at ``unit_price`` from ``effective_from`` on. False: it did already."""
        if unit_price <= 0 or cny(unit_price) != unit_price or unit_price > MAX_ORDER_TOTAL:
            raise InvalidPrice(f"the price of {sku} must be positive, to the fen")
        if self.schedule.get(sku, {}).get(effective_from.isoformat()) == unit_price:
            return False
        self._price_set(sku=sku, unit_price=unit_price, effective_from=effective_from, by=by)
        return True

    class PriceSet(Aggregate.Event):
        sku: str
        unit_price: Decimal
        effective_from: date | None
        by: Provenance

        # v2 names the day the price takes effect; a v1 price applied from the start.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["effective_from"] = None

    @event(PriceSet)
    def _price_set(
        self, sku: str, unit_price: Decimal, effective_from: date | None, by: Provenance
    ) -> None:
        start = (effective_from or ALWAYS).isoformat()
        self.schedule.setdefault(sku, {})[start] = unit_price

    def price_on(self, sku: str, on: date) -> tuple[Decimal, date] | None:
        """The SKU's price in effect on ``on`` and the day it took effect, if any."""
        day = on.isoformat()
        started = [start for start in self.schedule.get(sku, {}) if start <= day]
        if not started:
            return None
        start = max(started)
        return self.schedule[sku][start], date.fromisoformat(start)

    def price_of(self, product: Product, on: date) -> Decimal:
        found = self.price_on(product.sku, on)
        return found[0] if found else product.list_price

    def prices_on(self, on: date) -> dict[str, tuple[Decimal, date]]:
        return {sku: found for sku in sorted(self.schedule) if (found := self.price_on(sku, on))}

    def scheduled_after(self, on: date) -> list[tuple[str, date, Decimal]]:
        """Prices that take effect after ``on``: (sku, effective from, price)."""
        day = on.isoformat()
        return sorted(
            (sku, date.fromisoformat(start), price)
            for sku, prices in self.schedule.items()
            for start, price in prices.items()
            if start > day
        )


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    """A line as the order keeps it: ``unit_price`` is what the dealer pays per unit, after
    any promotion; ``list_unit_price`` is the grade's price before it, and ``discount`` what
    the promotion took off the line. A gift line pays nothing."""

    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    list_unit_price: Decimal
    discount: Decimal = Decimal("0.00")
    promotion: str | None = None
    gift: bool = False

    def as_event_data(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": self.amount,
            "list_unit_price": self.list_unit_price,
            "discount": self.discount,
            "promotion": self.promotion,
            "gift": self.gift,
        }


def price_lines(
    requested: list[RequestedLine],
    catalogue: dict[str, Product],
    price_list: PriceList | None = None,
    *,
    on: date,
    promotions: Sequence[Promotion] = (),
    categories: CategoryTree | None = None,
) -> tuple[list[PricedLine], Decimal]:
    """Price each line at the dealer grade's price list in effect on ``on`` (else the
    catalogue's list price), take off the best category discount in force, and add the gift
    lines of buy-N-get-M promotions. The total is the sum of line amounts, each quantised to
    the fen (so the total always equals what the lines show). A discounted unit price is
    rounded to the fen first, so any part of a line invoices at exactly that price."""
    if not requested:
        raise InvalidQuantity("an order needs at least one line")
    missing = sorted({line.sku for line in requested} - set(catalogue))
    if missing:
        raise UnknownProduct(f"unknown SKU(s): {', '.join(missing)}", skus=missing)

    def within(category: str, ancestor: str | None) -> bool:
        if ancestor is None:
            return False
        return categories.within(category, ancestor) if categories else category == ancestor

    def grade_price(product: Product) -> Decimal:
        return price_list.price_of(product, on) if price_list else product.list_price

    discounts = [p for p in promotions if p.kind == PromotionKind.CATEGORY_DISCOUNT]
    lines = []
    for line in requested:
        if line.quantity <= 0:
            raise InvalidQuantity(f"quantity of {line.sku} must be positive, got {line.quantity}")
        product = catalogue[line.sku]
        gross = grade_price(product)
        offers = [p for p in discounts if within(product.category, p.category)]
        best = max(offers, key=lambda p: (p.discount_rate, p.code), default=None)
        net = cny(gross * (1 - best.discount_rate)) if best else gross
        amount = line_amount(line.quantity, net)
        lines.append(
            PricedLine(
                sku=product.sku,
                name=product.name,
                category=product.category,
                quantity=line.quantity,
                unit_price=net,
                amount=amount,
                list_unit_price=gross,
                discount=line_amount(line.quantity, gross) - amount,
                promotion=best.code if best else None,
            )
        )
    paid: dict[str, int] = {}
    for line in requested:
        paid[line.sku] = paid.get(line.sku, 0) + line.quantity
    for promotion in promotions:
        if promotion.kind != PromotionKind.BUY_GET:
            continue
        sets = paid.get(promotion.buy_sku, 0) // promotion.buy_quantity
        if not sets:
            continue
        gift = catalogue.get(promotion.gift_sku)
        if gift is None:
            raise UnknownProduct(f"the gift of {promotion.code}, {promotion.gift_sku}, is unknown")
        quantity = sets * promotion.gift_quantity
        gross = grade_price(gift)
        lines.append(
            PricedLine(
                sku=gift.sku,
                name=gift.name,
                category=gift.category,
                quantity=quantity,
                unit_price=Decimal("0.00"),
                amount=Decimal("0.00"),
                list_unit_price=gross,
                discount=line_amount(quantity, gross),
                promotion=promotion.code,
                gift=True,
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


class InvalidTransition(RuleViolation):
    code = "invalid_transition"


class OrderStatus(StrEnum):
    PLACED = "placed"  # awaiting credit and stock
    CREDIT_HOLD = "credit_hold"  # credit refused: a credit controller may override
    AWAITING_APPROVAL = "awaiting_approval"  # above the threshold: a branch manager decides
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    PARTLY_SHIPPED = "partly_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


ENDED = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.DELIVERED})
# Before anything shipped, an order may still be cancelled or rejected.
UNSHIPPED = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.CREDIT_HOLD,
        OrderStatus.AWAITING_APPROVAL,
        OrderStatus.APPROVED,
    }
)


class Order(Aggregate):
    """订单: a dealer's order, priced at placing, and its way to cash.

    placed -> (credit and stock reserved) -> approved, or awaiting a branch manager's
    approval above the threshold; credit refused -> credit_hold until a credit controller
    overrides (or the order is rejected or cancelled); stock short -> rejected. Approved
    orders ship, in parts (partly_shipped, shipped), and end delivered. Until something
    ships, an order may be cancelled.
    """

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
        self.status = OrderStatus.PLACED
        self.credit: str | None = None  # reserved | refused
        self.stock: str | None = None  # reserved | short
        self.warehouse_code: str | None = None
        self.credit_override = False
        self.manager_approval = False
        self.reason: str | None = None  # why it was rejected or cancelled
        self.detail: str | None = None
        # Every refusal the saga heard (credit, stock), in the order heard, also those that
        # arrive after the order was already decided: an order can fail both checks.
        self.refusals: list[dict[str, str]] = []
        self.shipped: dict[str, int] = {}
        self.shipments: dict[str, bool] = {}  # shipment id -> delivered
        self.returns: dict[str, dict[str, int]] = {}  # return id -> quantities it takes back

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

    # -- the saga's answers ------------------------------------------------------------------
    def credit_reserved(self, *, override: bool, approval_threshold: Decimal) -> None:
        if self.status in ENDED or self.credit == "reserved":
            return
        self._credit_reserved(override=override)
        self._decide(approval_threshold)

    @event("CreditReserved")
    def _credit_reserved(self, override: bool) -> None:
        self.credit = "reserved"
        self.credit_override = override
        if self.status == OrderStatus.CREDIT_HOLD:
            self.status = OrderStatus.PLACED
            self.reason = self.detail = None

    def credit_refused(self, *, detail: str) -> None:
        if self.credit is not None or self.shipped:
            return
        self._credit_refused(detail=detail)

    @event("CreditRefused")
    def _credit_refused(self, detail: str) -> None:
        self.credit = "refused"
        self.refusals.append({"code": "credit_limit_exceeded", "detail": detail})
        if self.status == OrderStatus.PLACED:  # else already decided: the refusal is noted
            self.status = OrderStatus.CREDIT_HOLD
            self.reason = "credit_limit_exceeded"
            self.detail = detail

    def stock_reserved(self, *, warehouse_code: str, approval_threshold: Decimal) -> None:
        if self.status in ENDED or self.stock is not None:
            return
        self._stock_reserved(warehouse_code=warehouse_code)
        self._decide(approval_threshold)

    @event("StockReserved")
    def _stock_reserved(self, warehouse_code: str) -> None:
        self.stock = "reserved"
        self.warehouse_code = warehouse_code

    def stock_short(self, *, detail: str) -> None:
        if self.status in (OrderStatus.PLACED, OrderStatus.CREDIT_HOLD):
            self._rejected(
                dealer_code=self.dealer_code, reason="insufficient_stock", detail=detail, by=None
            )
        elif self.stock is None and not self.shipped:
            self._stock_short_noted(detail=detail)

    @event("StockShortNoted")
    def _stock_short_noted(self, detail: str) -> None:
        """A shortage heard after the order was decided (cancelled, or rejected for another
        reason): the order keeps its status and shows the refusal too."""
        self.stock = "short"
        self.refusals.append({"code": "insufficient_stock", "detail": detail})

    def _decide(self, approval_threshold: Decimal) -> None:
        if self.status != OrderStatus.PLACED:
            return
        if self.credit == "reserved" and self.stock == "reserved":
            if self.total > approval_threshold:
                self._awaiting_approval(
                    dealer_code=self.dealer_code,
                    branch=self.branch,
                    total=self.total,
                    threshold=approval_threshold,
                )
            else:
                self._approved(
                    dealer_code=self.dealer_code,
                    branch=self.branch,
                    total=self.total,
                    manager_approval=False,
                    by=None,
                )

    class AwaitingApproval(Aggregate.Event):
        """Above the approval threshold: a branch manager decides. Published as
        OrderAwaitingApproval since version 2; version 1 events (recorded while it stayed
        inside the service) carry only the threshold and stay unpublished, so what the
        relay republishes of an old order is what it published then."""

        class_version = 2

        dealer_code: str | None
        branch: str | None
        total: Decimal | None
        threshold: Decimal

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.setdefault("dealer_code", None)
            state.setdefault("branch", None)
            state.setdefault("total", None)

    @event(AwaitingApproval)
    def _awaiting_approval(
        self, dealer_code: str | None, branch: str | None, total: Decimal | None, threshold: Decimal
    ) -> None:
        self.status = OrderStatus.AWAITING_APPROVAL

    @event("Approved")
    def _approved(
        self,
        dealer_code: str,
        branch: str,
        total: Decimal,
        manager_approval: bool,
        by: Provenance | None,
    ) -> None:
        self.status = OrderStatus.APPROVED
        self.manager_approval = manager_approval

    @event("Rejected")
    def _rejected(self, dealer_code: str, reason: str, detail: str, by: Provenance | None) -> None:
        self.status = OrderStatus.REJECTED
        self.reason = reason
        self.detail = detail
        if reason == "insufficient_stock":
            self.stock = "short"
            self.refusals.append({"code": reason, "detail": detail})

    # -- people's decisions ------------------------------------------------------------------
    def approve(self, by: Provenance) -> None:
        """A branch manager approves an order above the threshold."""
        if self.status != OrderStatus.AWAITING_APPROVAL:
            raise InvalidTransition(f"order {self.id} is {self.status}, not awaiting approval")
        self._approved(
            dealer_code=self.dealer_code,
            branch=self.branch,
            total=self.total,
            manager_approval=True,
            by=by,
        )

    def reject(self, reason: str, by: Provenance) -> None:
        """A branch manager turns down an order awaiting approval or on credit hold."""
        if self.status not in (OrderStatus.AWAITING_APPROVAL, OrderStatus.CREDIT_HOLD):
            raise InvalidTransition(
                f"order {self.id} is {self.status}: only orders awaiting approval or on credit "
                "hold can be rejected"
            )
        self._rejected(
            dealer_code=self.dealer_code, reason="rejected_by_manager", detail=reason, by=by
        )

    def cancel(self, reason: str, by: Provenance) -> None:
        if self.status not in UNSHIPPED:
            raise InvalidTransition(
                f"order {self.id} is {self.status}: only an order with nothing shipped can be "
                "cancelled"
            )
        self._cancelled(dealer_code=self.dealer_code, reason=reason, by=by)

    @event("Cancelled")
    def _cancelled(self, dealer_code: str, reason: str, by: Provenance) -> None:
        self.status = OrderStatus.CANCELLED
        self.reason = "cancelled"
        self.detail = reason

    # -- fulfilment --------------------------------------------------------------------------
    def record_shipment(self, shipment_id: str, lines: dict[str, int], complete: bool) -> None:
        if shipment_id in self.shipments:
            return
        self._shipment_recorded(shipment_id=shipment_id, lines=lines, complete=complete)

    @event("ShipmentRecorded")
    def _shipment_recorded(self, shipment_id: str, lines: dict[str, int], complete: bool) -> None:
        self.shipments[shipment_id] = False
        for sku, quantity in lines.items():
            self.shipped[sku] = self.shipped.get(sku, 0) + quantity
        # Shipped in full when what was recorded covers every line, not when a shipment says
        # it completed the order: shipments travel on different partitions, and the one that
        # completed it may be heard before an earlier partial one.
        if self.status != OrderStatus.CANCELLED:
            self.status = (
                OrderStatus.SHIPPED if self._fully_shipped() else OrderStatus.PARTLY_SHIPPED
            )
        # else: the warehouse shipped while the cancellation travelled to it. What shipped
        # is recorded (and invoiced by finance); the rest was released.

    def _fully_shipped(self) -> bool:
        ordered: dict[str, int] = {}
        for line in self.lines:
            ordered[line["sku"]] = ordered.get(line["sku"], 0) + line["quantity"]
        return all(self.shipped.get(sku, 0) >= quantity for sku, quantity in ordered.items())

    # -- returns (退货) ------------------------------------------------------------------------
    def returnable(self, sku: str) -> int:
        """Shipped on this order and not taken back by another return (not rejected)."""
        taken = sum(lines.get(sku, 0) for lines in self.returns.values())
        return self.shipped.get(sku, 0) - taken

    def take_back(self, return_id: str, lines: dict[str, int]) -> None:
        for sku, quantity in sorted(lines.items()):
            if quantity > self.returnable(sku):
                raise ReturnExceedsShipped(
                    f"{sku}: returning {quantity}, but {self.returnable(sku)} shipped on order "
                    f"{self.id} can still be returned",
                    sku=sku,
                )
        self._taken_back(return_id=return_id, lines=lines)

    @event("ReturnRequested")
    def _taken_back(self, return_id: str, lines: dict[str, int]) -> None:
        self.returns[return_id] = dict(lines)

    def settle_return(self, return_id: str, lines: dict[str, int]) -> None:
        """The return was rejected (nothing) or received (what actually came back): the
        rest may be returned again."""
        if return_id in self.returns and self.returns[return_id] != lines:
            self._return_settled(return_id=return_id, lines=lines)

    @event("ReturnSettled")
    def _return_settled(self, return_id: str, lines: dict[str, int]) -> None:
        if any(lines.values()):
            self.returns[return_id] = {sku: q for sku, q in lines.items() if q}
        else:
            del self.returns[return_id]

    def record_delivery(self, shipment_id: str, delivered_on: date) -> None:
        if self.shipments.get(shipment_id) is not False:
            return
        self._delivery_recorded(shipment_id=shipment_id, delivered_on=delivered_on)

    @event("DeliveryRecorded")
    def _delivery_recorded(self, shipment_id: str, delivered_on: date) -> None:
        self.shipments[shipment_id] = True
        if self.status == OrderStatus.SHIPPED and all(self.shipments.values()):
            self.status = OrderStatus.DELIVERED

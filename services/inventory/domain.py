"""The inventory service's aggregates: warehouses, stock per warehouse and SKU, what is
reserved for each order, shipments and goods receipts.

No stock is ever reserved beyond what is on hand: a ``StockItem`` refuses a reservation
larger than its available quantity, and concurrent reservations of one SKU at one warehouse
meet on that aggregate's version (optimistic concurrency), so one of them decides again.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation
from services.kernel.money import MAX_ORDER_TOTAL, cny, line_amount

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


class UnknownReservation(NotFound):
    code = "unknown_order"


class UnknownShipment(NotFound):
    code = "unknown_shipment"


class InsufficientStock(RuleViolation):
    code = "insufficient_stock"


class InvalidQuantity(RuleViolation):
    code = "invalid_quantity"


class InvalidUnitCost(RuleViolation):
    code = "invalid_unit_cost"


class OverShipment(RuleViolation):
    code = "over_shipment"


class InvalidTransition(RuleViolation):
    code = "invalid_transition"


class WarehouseDirectory(Aggregate):
    """Which warehouse serves a branch's orders: the first branch warehouse registered for
    it, else the first central warehouse. One directory for the service."""

    ID = uuid5(_IDS, "warehouse-directory")

    @staticmethod
    def create_id() -> UUID:
        return WarehouseDirectory.ID

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.central: str | None = None
        self.by_branch: dict[str, str] = {}

    def serving(self, branch: str) -> str | None:
        return self.by_branch.get(branch) or self.central

    def takes(self, warehouse: Warehouse) -> bool:
        """Whether registering ``warehouse`` changes the directory."""
        if warehouse.kind == WarehouseKind.CENTRAL:
            return self.central is None
        return warehouse.kind == WarehouseKind.BRANCH and warehouse.branch not in self.by_branch

    @event("Listed")
    def record_listing(self, code: str, kind: str, branch: str | None) -> None:
        if kind == WarehouseKind.CENTRAL:
            self.central = code
        elif branch is not None:
            self.by_branch[branch] = code


class StockItem(Aggregate):
    """Stock of one SKU at one warehouse: on hand, reserved per order, available, and what
    it is worth at cost (moving weighted average, 移动加权平均: a receipt adds its cost, a
    shipment takes the average cost of what it takes, to the fen; the last unit out takes
    what value is left, so nothing lingers)."""

    # v2 values the stock: a snapshot taken before (v1) had no value; stock received then
    # was never costed and counts at zero.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["value"] = Decimal("0.00")

    @staticmethod
    def create_id(warehouse_code: str, sku: str) -> UUID:
        return uuid5(_IDS, f"stock:{warehouse_code}:{sku}")

    class Opened(Aggregate.Created):
        warehouse_code: str
        sku: str

    @event(Opened)
    def __init__(self, *, warehouse_code: str, sku: str) -> None:
        self.warehouse_code = warehouse_code
        self.sku = sku
        self.on_hand = 0
        self.reserved = 0
        self.safety_stock = 0
        self.reservations: dict[str, int] = {}
        self.value = Decimal("0.00")  # CNY at cost of what is on hand

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def set_safety_stock(self, quantity: int, by: Provenance) -> None:
        """安全库存: below this, the SKU shows on headquarters' below-safety list."""
        if quantity < 0:
            raise InvalidQuantity(f"safety stock of {self.sku} cannot be negative")
        self._safety_stock_set(
            warehouse_code=self.warehouse_code, sku=self.sku, quantity=quantity, by=by
        )

    @event("SafetyStockSet")
    def _safety_stock_set(
        self, warehouse_code: str, sku: str, quantity: int, by: Provenance
    ) -> None:
        self.safety_stock = quantity

    def cost_of(self, quantity: int) -> Decimal:
        """What ``quantity`` of what is on hand is worth at the moving average cost."""
        if quantity >= self.on_hand:
            return self.value
        return cny(self.value * quantity / self.on_hand)

    def receive(self, quantity: int, document_id: str, unit_cost: Decimal) -> None:
        if quantity <= 0:
            raise InvalidQuantity(f"received quantity of {self.sku} must be positive")
        if unit_cost < 0 or unit_cost != cny(unit_cost) or unit_cost * quantity > MAX_ORDER_TOTAL:
            raise InvalidUnitCost(
                f"the unit cost of {self.sku} must be to the fen, not negative, and the line "
                f"at most {MAX_ORDER_TOTAL}"
            )
        self._received(quantity=quantity, document_id=document_id, unit_cost=unit_cost)

    class Received(Aggregate.Event):
        quantity: int
        document_id: str
        unit_cost: Decimal | None

        # v2 carries the unit cost; a receipt recorded before (v1) was not costed.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["unit_cost"] = None

    @event(Received)
    def _received(self, quantity: int, document_id: str, unit_cost: Decimal | None) -> None:
        self.on_hand += quantity
        if unit_cost is not None:
            self.value += line_amount(quantity, unit_cost)

    def reserve(self, order_id: str, quantity: int) -> None:
        if quantity > self.available:
            raise InsufficientStock(
                f"{self.sku} at {self.warehouse_code}: {quantity} requested, "
                f"{self.available} available"
            )
        self._reserved(order_id=order_id, quantity=quantity)

    @event("Reserved")
    def _reserved(self, order_id: str, quantity: int) -> None:
        self.reservations[order_id] = self.reservations.get(order_id, 0) + quantity
        self.reserved += quantity

    def release(self, order_id: str) -> int:
        quantity = self.reservations.get(order_id, 0)
        if quantity:
            self._released(order_id=order_id, quantity=quantity)
        return quantity

    @event("Released")
    def _released(self, order_id: str, quantity: int) -> None:
        self.reservations.pop(order_id, None)
        self.reserved -= quantity

    def ship(self, order_id: str, shipment_id: str, quantity: int) -> Decimal:
        """Take ``quantity`` out for an order; return its cost."""
        if quantity > self.reservations.get(order_id, 0):
            raise OverShipment(f"{self.sku}: {quantity} exceeds what is reserved for the order")
        cost = self.cost_of(quantity)
        self._shipped(order_id=order_id, shipment_id=shipment_id, quantity=quantity, cost=cost)
        return cost

    class Shipped(Aggregate.Event):
        order_id: str
        shipment_id: str
        quantity: int
        cost: Decimal | None

        # v2 carries the cost of the goods shipped; replaying a shipment recorded before
        # (v1) works it out again from the stock as it then stood.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["cost"] = None

    @event(Shipped)
    def _shipped(
        self, order_id: str, shipment_id: str, quantity: int, cost: Decimal | None
    ) -> None:
        self.value -= self.cost_of(quantity) if cost is None else cost
        left = self.reservations[order_id] - quantity
        if left:
            self.reservations[order_id] = left
        else:
            del self.reservations[order_id]
        self.reserved -= quantity
        self.on_hand -= quantity


class ReservationStatus(StrEnum):
    RESERVED = "reserved"  # waiting for the order's approval
    SHORT = "short"  # nothing reserved: some line could not be covered
    APPROVED = "approved"  # may be shipped
    RELEASED = "released"  # rejected or cancelled: what was held is available again
    SHIPPED = "shipped"  # everything ordered has shipped


class OrderReservation(Aggregate):
    """What inventory holds for one order, and what has shipped against it."""

    @staticmethod
    def create_id(order_id: str) -> UUID:
        return uuid5(_IDS, f"reservation:{order_id}")

    class Made(Aggregate.Created):
        order_id: str
        dealer_code: str
        branch: str
        warehouse_code: str | None
        lines: dict[str, int]
        shortages: list[dict]

    @event(Made)
    def __init__(
        self,
        *,
        order_id: str,
        dealer_code: str,
        branch: str,
        warehouse_code: str | None,
        lines: dict[str, int],
        shortages: list[dict],
    ) -> None:
        self.order_id = order_id
        self.dealer_code = dealer_code
        self.branch = branch
        self.warehouse_code = warehouse_code
        self.lines = lines
        self.shortages = shortages
        self.shipped: dict[str, int] = {}
        self.status = ReservationStatus.SHORT if shortages else ReservationStatus.RESERVED

    def remaining(self, sku: str) -> int:
        return self.lines.get(sku, 0) - self.shipped.get(sku, 0)

    @event("Approved")
    def approve(self) -> None:
        self.status = ReservationStatus.APPROVED

    def release(self, lines: dict[str, int], reason: str) -> None:
        self._released(
            order_id=self.order_id, warehouse_code=self.warehouse_code, lines=lines, reason=reason
        )

    @event("Released")
    def _released(
        self, order_id: str, warehouse_code: str | None, lines: dict[str, int], reason: str
    ) -> None:
        self.status = ReservationStatus.RELEASED

    def check_shippable(self, lines: dict[str, int]) -> None:
        if self.status != ReservationStatus.APPROVED:
            raise InvalidTransition(
                f"order {self.order_id} is {self.status}: only approved orders ship"
            )
        for sku, quantity in lines.items():
            if quantity <= 0:
                raise InvalidQuantity(f"quantity of {sku} must be positive, got {quantity}")
            if quantity > self.remaining(sku):
                raise OverShipment(
                    f"{sku}: shipping {quantity} but only {self.remaining(sku)} of the order "
                    "remain to ship",
                    sku=sku,
                )

    @event("Shipped")
    def record_shipment(self, shipment_id: str, lines: dict[str, int]) -> None:
        for sku, quantity in lines.items():
            self.shipped[sku] = self.shipped.get(sku, 0) + quantity
        if all(self.remaining(sku) == 0 for sku in self.lines):
            self.status = ReservationStatus.SHIPPED


class Shipment(Aggregate):
    """出库: goods dispatched to a dealer against an approved order."""

    class Dispatched(Aggregate.Created):
        order_id: str
        dealer_code: str
        branch: str
        warehouse_code: str
        ship_date: date
        lines: dict[str, int]
        costs: dict[str, Decimal]  # per SKU: cost of the goods shipped
        order_complete: bool
        by: Provenance

        # v2 carries the costs; a shipment dispatched before (v1) was not costed.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["costs"] = {}

    @event(Dispatched)
    def __init__(
        self,
        *,
        id: UUID,  # noqa: A002 - the library's name for an aggregate's given id
        order_id: str,
        dealer_code: str,
        branch: str,
        warehouse_code: str,
        ship_date: date,
        lines: dict[str, int],
        costs: dict[str, Decimal],
        order_complete: bool,
        by: Provenance,
    ) -> None:
        self.order_id = order_id
        self.dealer_code = dealer_code
        self.branch = branch
        self.warehouse_code = warehouse_code
        self.ship_date = ship_date
        self.lines = lines
        self.costs = costs
        self.order_complete = order_complete
        self.delivered_on: date | None = None

    def confirm_delivery(self, delivered_on: date, by: Provenance) -> None:
        if self.delivered_on is not None:
            raise InvalidTransition(f"shipment {self.id} was confirmed delivered already")
        if delivered_on < self.ship_date:
            raise InvalidTransition("a shipment cannot be delivered before it shipped")
        self._delivered(
            order_id=self.order_id, dealer_code=self.dealer_code, delivered_on=delivered_on, by=by
        )

    @event("DeliveryConfirmed")
    def _delivered(
        self, order_id: str, dealer_code: str, delivered_on: date, by: Provenance
    ) -> None:
        self.delivered_on = delivered_on


class GoodsReceipt(Aggregate):
    """入库: goods received into a warehouse."""

    class Recorded(Aggregate.Created):
        warehouse_code: str
        business_date: date
        lines: dict[str, int]
        unit_costs: dict[str, Decimal]  # per SKU: CNY per unit
        by: Provenance

        # v2 carries the unit costs; a receipt recorded before (v1) was not costed.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["unit_costs"] = {}

    @event(Recorded)
    def __init__(
        self,
        *,
        warehouse_code: str,
        business_date: date,
        lines: dict[str, int],
        unit_costs: dict[str, Decimal],
        by: Provenance,
    ) -> None:
        self.warehouse_code = warehouse_code
        self.business_date = business_date
        self.lines = lines
        self.unit_costs = unit_costs

"""The inventory service's aggregates: warehouses, stock per warehouse and SKU, what is
reserved for each order, shipments and goods receipts, transfers between warehouses,
stocktakes, and dealers' sell-through of consignment stock.

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


class MissingDealer(RuleViolation):
    code = "dealer_required"


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
        dealer_code: str | None  # a consignment warehouse's dealer (寄售: its location)

        # v2 names a consignment warehouse's dealer; one registered before (v1) had none.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["dealer_code"] = None

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
        dealer_code: str | None = None,
    ) -> None:
        if kind != WarehouseKind.CENTRAL and not branch:
            raise MissingBranch(f"a {kind} warehouse belongs to a branch")
        if (kind == WarehouseKind.CONSIGNMENT) != bool(dealer_code):
            raise MissingDealer(
                "a consignment warehouse is one dealer's location: name its dealer "
                "(and only a consignment warehouse has one)"
            )
        self.code = code
        self.name = name
        self.kind = WarehouseKind(kind)
        self.branch = branch
        self.region = region
        self.dealer_code = dealer_code
        self.cut_over_reopened = False

    @property
    def takes_openings_after_business(self) -> bool:
        """Headquarters reopened the cut-over: opening stock is taken even for a SKU that
        has moved here (a warehouse registered before go-live never had the flag)."""
        return getattr(self, "cut_over_reopened", False)

    @event("CutOverReopened")
    def reopen_cut_over(self, by: Provenance) -> None:
        self.cut_over_reopened = True


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


class InsufficientDamagedStock(RuleViolation):
    code = "insufficient_damaged_stock"


class StockStillReserved(RuleViolation):
    """Stock would fall below what is reserved for orders (release or ship them first)."""

    code = "stock_reserved"


class StockCondition(StrEnum):
    GOOD = "good"
    DAMAGED = "damaged"  # 残损: on hand, never available for orders


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
    """Stock of one SKU at one warehouse: on hand, reserved for orders (in all: what each
    order holds is its OrderReservation's), damaged, available, in transit to it, and what
    it is worth at cost (moving weighted average, 移动加权平均: a receipt adds its cost, a
    shipment takes the average cost of what it takes, to the fen; the last unit out takes
    what value is left, so nothing lingers).

    Damaged stock (残损) is on hand and valued like the rest, but never available: available =
    on hand - reserved - damaged. In transit (在途) is what transfers dispatched to this
    warehouse and it has not yet received, with the value that travels with it."""

    # v2 values the stock: a snapshot taken before (v1) had no value; stock received then
    # was never costed and counts at zero. v3 adds damaged and in-transit stock. v4 keeps
    # only the total reserved: what each order holds is its OrderReservation's, so a busy
    # SKU's state (and its snapshot) no longer grows with the orders open on it.
    class_version = 4

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["value"] = Decimal("0.00")

    @staticmethod
    def upcast_v2_v3(state: dict) -> None:
        state["damaged"] = 0
        state["in_transit"] = 0
        state["in_transit_value"] = Decimal("0.00")

    @staticmethod
    def upcast_v3_v4(state: dict) -> None:
        state.pop("reservations", None)

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
        self.value = Decimal("0.00")  # CNY at cost of what is on hand
        self.damaged = 0  # of on hand
        self.in_transit = 0  # dispatched to this warehouse by transfers, not yet received
        self.in_transit_value = Decimal("0.00")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.damaged

    def check_available(self, quantity: int) -> None:
        if quantity <= 0:
            raise InvalidQuantity(f"quantity of {self.sku} must be positive, got {quantity}")
        if quantity > self.available:
            raise InsufficientStock(
                f"{self.sku} at {self.warehouse_code}: {quantity} requested, "
                f"{self.available} available",
                sku=self.sku,
                available=self.available,
            )

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

    def receive(
        self,
        quantity: int,
        document_id: str,
        unit_cost: Decimal,
        condition: StockCondition = StockCondition.GOOD,
    ) -> None:
        """Goods in at ``unit_cost``: on hand and value rise. ``condition="damaged"`` takes
        them straight into damaged stock (on hand and valued, never available), e.g. a
        dealer's return that came back broken."""
        self.check_receivable(quantity, unit_cost)
        if StockCondition(condition) == StockCondition.DAMAGED:
            self._received_damaged(quantity=quantity, document_id=document_id, unit_cost=unit_cost)
        else:
            self._received(quantity=quantity, document_id=document_id, unit_cost=unit_cost)

    def check_receivable(self, quantity: int, unit_cost: Decimal) -> None:
        if quantity <= 0:
            raise InvalidQuantity(f"received quantity of {self.sku} must be positive")
        if unit_cost < 0 or unit_cost != cny(unit_cost) or unit_cost * quantity > MAX_ORDER_TOTAL:
            raise InvalidUnitCost(
                f"the unit cost of {self.sku} must be to the fen, not negative, and the line "
                f"at most {MAX_ORDER_TOTAL}"
            )

    @event("ReceivedDamaged")
    def _received_damaged(self, quantity: int, document_id: str, unit_cost: Decimal) -> None:
        self.on_hand += quantity
        self.damaged += quantity
        self.value += line_amount(quantity, unit_cost)

    # -- 残损: damaged stock ------------------------------------------------------------------
    def mark_damaged(
        self, quantity: int, *, document_id: str, reason: str, business_date: date, by: Provenance
    ) -> None:
        """Good stock found damaged: it stays on hand (and valued) but is no longer
        available. Only available stock can be marked (not what orders hold)."""
        self.check_available(quantity)
        self._marked_damaged(
            warehouse_code=self.warehouse_code,
            sku=self.sku,
            quantity=quantity,
            document_id=document_id,
            reason=reason,
            business_date=business_date,
            by=by,
        )

    @event("MarkedDamaged")
    def _marked_damaged(
        self,
        warehouse_code: str,
        sku: str,
        quantity: int,
        document_id: str,
        reason: str,
        business_date: date,
        by: Provenance,
    ) -> None:
        self.damaged += quantity

    def write_off_damaged(
        self, quantity: int, *, document_id: str, reason: str, business_date: date, by: Provenance
    ) -> Decimal:
        """Damaged stock leaves the books at its moving average cost; return that cost."""
        if quantity <= 0:
            raise InvalidQuantity(f"quantity of {self.sku} must be positive, got {quantity}")
        if quantity > self.damaged:
            raise InsufficientDamagedStock(
                f"{self.sku} at {self.warehouse_code}: writing off {quantity}, "
                f"{self.damaged} damaged"
            )
        cost = self.cost_of(quantity)
        self._written_off(
            warehouse_code=self.warehouse_code,
            sku=self.sku,
            quantity=quantity,
            cost=cost,
            document_id=document_id,
            reason=reason,
            business_date=business_date,
            by=by,
        )
        return cost

    @event("WrittenOff")
    def _written_off(
        self,
        warehouse_code: str,
        sku: str,
        quantity: int,
        cost: Decimal,
        document_id: str,
        reason: str,
        business_date: date,
        by: Provenance,
    ) -> None:
        self.on_hand -= quantity
        self.damaged -= quantity
        self.value -= cost

    # -- 调拨: transfers -----------------------------------------------------------------------
    def transfer_out(self, transfer_id: str, quantity: int) -> Decimal:
        """Available stock leaves for another warehouse at its moving average cost (the
        value travels with it); return that cost."""
        self.check_available(quantity)
        cost = self.cost_of(quantity)
        self._transferred_out(transfer_id=transfer_id, quantity=quantity, cost=cost)
        return cost

    @event("TransferredOut")
    def _transferred_out(self, transfer_id: str, quantity: int, cost: Decimal) -> None:
        self.on_hand -= quantity
        self.value -= cost

    @event("TransferIncoming")
    def expect_transfer(self, transfer_id: str, quantity: int, cost: Decimal) -> None:
        self.in_transit += quantity
        self.in_transit_value += cost

    @event("TransferReceived")
    def receive_transfer(
        self,
        transfer_id: str,
        dispatched: int,
        cost: Decimal,
        good: int,
        damaged: int,
        value: Decimal,
    ) -> None:
        """What arrived of ``dispatched`` units that left at ``cost``: ``good`` and
        ``damaged`` units, worth ``value`` (the transfer works out any loss or gain)."""
        self.in_transit -= dispatched
        self.in_transit_value -= cost
        self.on_hand += good + damaged
        self.damaged += damaged
        self.value += value

    # -- 盘点: stocktakes ----------------------------------------------------------------------
    def adjust_to_count(
        self, stocktake_id: str, variance: int, *, fallback_unit_cost: Decimal, reason: str
    ) -> Decimal:
        """Post a stocktake's variance (counted - book): a loss leaves at the moving average
        cost, a gain comes in at it (or at ``fallback_unit_cost``, the average when the count
        sheet was opened, when nothing is on hand now). Stock never falls below what orders
        hold, nor below what is damaged. Return the change in value."""
        after = self.on_hand + variance
        if after - self.damaged < self.reserved:
            raise StockStillReserved(
                f"{self.sku} at {self.warehouse_code}: posting {variance:+d} leaves {after} on "
                f"hand, {self.damaged} damaged, but {self.reserved} are reserved for orders; "
                "release or ship them first",
                sku=self.sku,
                reserved=self.reserved,
            )
        if variance < 0:
            change = -self.cost_of(-variance)
        elif self.on_hand > 0:
            change = cny(self.value * variance / self.on_hand)
        else:
            change = line_amount(variance, fallback_unit_cost)
        self._count_adjusted(
            stocktake_id=stocktake_id, variance=variance, value_change=change, reason=reason
        )
        return change

    @event("CountAdjusted")
    def _count_adjusted(
        self, stocktake_id: str, variance: int, value_change: Decimal, reason: str
    ) -> None:
        self.on_hand += variance
        self.value += value_change

    # -- 寄售: consignment ---------------------------------------------------------------------
    def sell_through(self, report_id: str, quantity: int) -> Decimal:
        """A dealer sold ``quantity`` of the consignment stock it holds: it leaves at its
        moving average cost; return that cost."""
        self.check_available(quantity)
        cost = self.cost_of(quantity)
        self._sold_through(report_id=report_id, quantity=quantity, cost=cost)
        return cost

    @event("SoldThrough")
    def _sold_through(self, report_id: str, quantity: int, cost: Decimal) -> None:
        self.on_hand -= quantity
        self.value -= cost

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

    # -- 期初: opening stock at the cut-over ------------------------------------------------
    @property
    def has_moved(self) -> bool:
        """Whether anything but opening stock happened to the item: each opening adds one
        event to the item's opening (version 1), every ordinary movement one more."""
        return self.version > 1 + getattr(self, "openings", 0)

    def open_balance(self, quantity: int, document_id: str, unit_cost: Decimal) -> None:
        """Opening stock at ``unit_cost``: it starts the moving average like a receipt."""
        self.check_receivable(quantity, unit_cost)
        self._opening_received(quantity=quantity, document_id=document_id, unit_cost=unit_cost)

    @event("OpeningReceived")
    def _opening_received(self, quantity: int, document_id: str, unit_cost: Decimal) -> None:
        self.on_hand += quantity
        self.value += line_amount(quantity, unit_cost)
        self.openings = getattr(self, "openings", 0) + 1

    def reserve(self, order_id: str, quantity: int) -> None:
        if quantity > self.available:  # damaged stock is never reserved
            raise InsufficientStock(
                f"{self.sku} at {self.warehouse_code}: {quantity} requested, "
                f"{self.available} available"
            )
        self._reserved(order_id=order_id, quantity=quantity)

    @event("Reserved")
    def _reserved(self, order_id: str, quantity: int) -> None:
        self.reserved += quantity

    def release(self, order_id: str, quantity: int) -> None:
        """Free what the order still holds here (its OrderReservation knows how much)."""
        if quantity > self.reserved:
            raise InvalidQuantity(
                f"{self.sku}: releasing {quantity} for order {order_id}, "
                f"but only {self.reserved} are reserved"
            )
        if quantity > 0:
            self._released(order_id=order_id, quantity=quantity)

    @event("Released")
    def _released(self, order_id: str, quantity: int) -> None:
        self.reserved -= quantity

    def ship(self, order_id: str, shipment_id: str, quantity: int) -> Decimal:
        """Take ``quantity`` out for an order (its OrderReservation checked that the order
        holds that much here); return its cost."""
        if quantity > self.reserved:
            raise OverShipment(f"{self.sku}: {quantity} exceeds what is reserved")
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
        self.shipment_ids: list[str] = []
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
        self.shipment_ids.append(shipment_id)
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


class UnknownTransfer(NotFound):
    code = "unknown_transfer"


class InvalidTransferRoute(RuleViolation):
    code = "invalid_transfer_route"


class NotOnTransfer(RuleViolation):
    code = "not_on_transfer"


class DiscrepancyReasonRequired(RuleViolation):
    code = "discrepancy_reason_required"


class DiscrepancyReasonMismatch(RuleViolation):
    code = "discrepancy_reason_mismatch"


class DiscrepancyReason(StrEnum):
    """Why what arrived differs from what was dispatched."""

    SHORT_SHIPPED = "short_shipped"  # the source sent fewer than it booked
    LOST_IN_TRANSIT = "lost_in_transit"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"  # arrived, but broken: into damaged stock
    OVER_SHIPPED = "over_shipped"  # the source sent more than it booked


class TransferStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"


def arrival_value(dispatched: int, cost: Decimal, arrived: int) -> Decimal:
    """What ``arrived`` units of a transfer line (``dispatched`` units that left at ``cost``)
    are worth: the line's cost when all arrived, that share of it when fewer did (the rest is
    a transit loss), and the line's unit cost for each unit over (a transit gain)."""
    if arrived == dispatched:
        return cost
    if arrived < dispatched:
        return cny(cost * arrived / dispatched)
    return cost + cny(cost * (arrived - dispatched) / dispatched)


class Transfer(Aggregate):
    """调拨: stock moved from one warehouse to another with an in-transit leg. Dispatched, it
    has left the source at its moving average cost and is in transit to the destination,
    value and all; received once, with any difference per line recorded with its reason. A
    shortfall's value is a transit loss, an overage's a transit gain (both published), so
    no value is ever lost or created unseen."""

    class Dispatched(Aggregate.Created):
        from_warehouse: str
        to_warehouse: str
        ship_date: date
        lines: dict[str, int]
        costs: dict[str, Decimal]
        note: str | None
        by: Provenance

    @event(Dispatched)
    def __init__(
        self,
        *,
        id: UUID,  # noqa: A002 - the library's name for an aggregate's given id
        from_warehouse: str,
        to_warehouse: str,
        ship_date: date,
        lines: dict[str, int],
        costs: dict[str, Decimal],
        note: str | None,
        by: Provenance,
    ) -> None:
        self.from_warehouse = from_warehouse
        self.to_warehouse = to_warehouse
        self.ship_date = ship_date
        self.lines = lines
        self.costs = costs
        self.note = note
        self.status = TransferStatus.IN_TRANSIT
        self.received_on: date | None = None
        self.arrivals: list[dict] = []

    @staticmethod
    def check_route(source: Warehouse, destination: Warehouse) -> None:
        if source.code == destination.code:
            raise InvalidTransferRoute("a transfer goes from one warehouse to another")
        if WarehouseKind.CONSIGNMENT in (source.kind, destination.kind) and (
            source.kind == destination.kind
        ):
            raise InvalidTransferRoute(
                "consignment stock moves between a dealer's location and a central or branch "
                "warehouse, not from one dealer to another"
            )

    def arrivals_of(
        self, received: dict[str, tuple[int, int, str | None, str | None]]
    ) -> list[dict]:
        """Per line of the transfer: what arrived (good, damaged), its value, the difference
        in value from what left, and the discrepancy's reason. ``received``: per SKU (good,
        damaged, reason, note); a SKU of the transfer not named arrived not at all."""
        if self.status != TransferStatus.IN_TRANSIT:
            raise InvalidTransition(f"transfer {self.id} was received already")
        unknown = sorted(set(received) - set(self.lines))
        if unknown:
            raise NotOnTransfer(f"not on transfer {self.id}: {', '.join(unknown)}", skus=unknown)
        arrivals = []
        for sku, dispatched in sorted(self.lines.items()):
            good, damaged, reason, note = received.get(sku, (0, 0, None, None))
            if good < 0 or damaged < 0:
                raise InvalidQuantity(f"quantities of {sku} cannot be negative")
            arrived = good + damaged
            discrepant = arrived != dispatched or damaged > 0
            if discrepant and not reason:
                raise DiscrepancyReasonRequired(
                    f"{sku}: {dispatched} dispatched, {good} received and {damaged} damaged: "
                    "say why (reason)",
                    sku=sku,
                )
            if discrepant and (arrived > dispatched) != (reason == DiscrepancyReason.OVER_SHIPPED):
                raise DiscrepancyReasonMismatch(
                    f"{sku}: {arrived} of {dispatched} arrived, which is not {reason}", sku=sku
                )
            value = arrival_value(dispatched, self.costs[sku], arrived)
            arrivals.append(
                {
                    "sku": sku,
                    "dispatched": dispatched,
                    "received": good,
                    "damaged": damaged,
                    "cost": self.costs[sku],
                    "value": value,
                    "difference": value - self.costs[sku],
                    "reason": str(reason) if discrepant else None,
                    "note": note if discrepant else None,
                }
            )
        return arrivals

    def receive(self, received_on: date, arrivals: list[dict], by: Provenance) -> None:
        if received_on < self.ship_date:
            raise InvalidTransition("a transfer cannot arrive before it was dispatched")
        self._received(
            from_warehouse=self.from_warehouse,
            to_warehouse=self.to_warehouse,
            received_on=received_on,
            arrivals=arrivals,
            by=by,
        )

    @event("Received")
    def _received(
        self,
        from_warehouse: str,
        to_warehouse: str,
        received_on: date,
        arrivals: list[dict],
        by: Provenance,
    ) -> None:
        self.status = TransferStatus.RECEIVED
        self.received_on = received_on
        self.arrivals = arrivals


class UnknownStocktake(NotFound):
    code = "unknown_stocktake"


class NotOnCountSheet(RuleViolation):
    code = "not_on_count_sheet"


class CountIncomplete(RuleViolation):
    code = "count_incomplete"


class VarianceReasonRequired(RuleViolation):
    code = "variance_reason_required"


class VarianceReason(StrEnum):
    """Why the count differs from the book."""

    COUNT_ERROR = "count_error"  # an earlier count or posting was wrong
    UNRECORDED_RECEIPT = "unrecorded_receipt"
    UNRECORDED_ISSUE = "unrecorded_issue"
    THEFT_OR_LOSS = "theft_or_loss"
    BREAKAGE = "breakage"  # broken beyond keeping: gone
    OTHER = "other"


class StocktakeStatus(StrEnum):
    OPEN = "open"
    POSTED = "posted"


class Stocktake(Aggregate):
    """盘点: a count sheet for a warehouse. Opening freezes the book quantity (and value) of
    each SKU on the sheet; counts come in, in one or several submissions (a later count of a
    SKU replaces the earlier one); posting, once, posts each variance (counted - book at
    opening) with its reason against the stock as it stands then. Movements between opening
    and posting (receipts, shipments) are their own documents and stay: the count is of the
    stock as at opening, so a variance is what the movements did not explain."""

    class Opened(Aggregate.Created):
        warehouse_code: str
        count_date: date
        book: dict[str, int]
        book_values: dict[str, Decimal]
        by: Provenance

    @event(Opened)
    def __init__(
        self,
        *,
        warehouse_code: str,
        count_date: date,
        book: dict[str, int],
        book_values: dict[str, Decimal],
        by: Provenance,
    ) -> None:
        self.warehouse_code = warehouse_code
        self.count_date = count_date
        self.book = book
        self.book_values = book_values
        self.counted: dict[str, int] = {}
        self.reasons: dict[str, str] = {}
        self.status = StocktakeStatus.OPEN
        self.posted_on: date | None = None
        self.variances: list[dict] = []

    def check_open(self) -> None:
        if self.status != StocktakeStatus.OPEN:
            raise InvalidTransition(f"stocktake {self.id} was posted already")

    def record_counts(
        self, counts: dict[str, int], reasons: dict[str, str], by: Provenance
    ) -> None:
        self.check_open()
        unknown = sorted(set(counts) - set(self.book))
        if unknown:
            raise NotOnCountSheet(
                f"not on the count sheet of {self.id}: {', '.join(unknown)}", skus=unknown
            )
        if any(q < 0 for q in counts.values()):
            raise InvalidQuantity("a counted quantity cannot be negative")
        self._counted(counts=counts, reasons=reasons, by=by)

    @event("Counted")
    def _counted(self, counts: dict[str, int], reasons: dict[str, str], by: Provenance) -> None:
        self.counted.update(counts)
        for sku in counts:
            if sku in reasons:
                self.reasons[sku] = reasons[sku]
            else:
                self.reasons.pop(sku, None)

    def variance(self, sku: str) -> int:
        return self.counted[sku] - self.book[sku]

    def check_postable(self) -> None:
        self.check_open()
        uncounted = sorted(set(self.book) - set(self.counted))
        if uncounted:
            raise CountIncomplete(f"not counted yet: {', '.join(uncounted)}", skus=uncounted)
        unexplained = sorted(s for s in self.book if self.variance(s) and s not in self.reasons)
        if unexplained:
            raise VarianceReasonRequired(
                f"a variance needs its reason: {', '.join(unexplained)}", skus=unexplained
            )

    def book_unit_cost(self, sku: str) -> Decimal:
        """The average cost per unit when the sheet was opened (zero with nothing then)."""
        return cny(self.book_values[sku] / self.book[sku]) if self.book[sku] else Decimal("0.00")

    def post(self, posted_on: date, values: dict[str, Decimal], by: Provenance) -> None:
        """Record the posting: ``values`` is each variance's change in value."""
        if posted_on < self.count_date:
            raise InvalidTransition("a stocktake cannot be posted before its count date")
        variances = [
            {
                "sku": sku,
                "book": self.book[sku],
                "counted": self.counted[sku],
                "variance": self.variance(sku),
                "value": values.get(sku, Decimal("0.00")),
                "reason": self.reasons.get(sku) if self.variance(sku) else None,
            }
            for sku in sorted(self.book)
        ]
        self._posted(
            warehouse_code=self.warehouse_code,
            count_date=self.count_date,
            posted_on=posted_on,
            variances=variances,
            by=by,
        )

    @event("Posted")
    def _posted(
        self,
        warehouse_code: str,
        count_date: date,
        posted_on: date,
        variances: list[dict],
        by: Provenance,
    ) -> None:
        self.status = StocktakeStatus.POSTED
        self.posted_on = posted_on
        self.variances = variances


class NotConsignment(RuleViolation):
    code = "not_a_consignment_warehouse"


class SellThroughAlreadyReported(RuleViolation):
    code = "sell_through_already_reported"


class InvalidPeriod(RuleViolation):
    code = "invalid_period"


class SellThroughReport(Aggregate):
    """寄售: what a dealer sold in a period of the consignment stock it holds for the brand.
    One report per consignment warehouse and period."""

    @staticmethod
    def create_id(warehouse_code: str, period_from: date, period_to: date) -> UUID:
        return uuid5(_IDS, f"sell-through:{warehouse_code}:{period_from}:{period_to}")

    class Reported(Aggregate.Created):
        warehouse_code: str
        dealer_code: str
        branch: str | None
        period_from: date
        period_to: date
        lines: dict[str, int]
        costs: dict[str, Decimal]
        by: Provenance

    @event(Reported)
    def __init__(
        self,
        *,
        warehouse_code: str,
        dealer_code: str,
        branch: str | None,
        period_from: date,
        period_to: date,
        lines: dict[str, int],
        costs: dict[str, Decimal],
        by: Provenance,
    ) -> None:
        if period_to < period_from:
            raise InvalidPeriod("a period ends on or after it starts")
        self.warehouse_code = warehouse_code
        self.dealer_code = dealer_code
        self.branch = branch
        self.period_from = period_from
        self.period_to = period_to
        self.lines = lines
        self.costs = costs


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

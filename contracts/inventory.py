"""Integration events published by the inventory service on ``<namespace>.inventory.events``,
keyed by the aggregate id."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent
from contracts.types import Line, Money


class WarehouseRegistered(IntegrationEvent):
    """A warehouse was opened: central, a branch's, or a dealer's consignment store.

    v2 (superseding v1) names the dealer whose location a consignment warehouse is."""

    service = "inventory"
    event_name = "WarehouseRegistered"
    version = 2

    warehouse_id: str
    code: str
    name: str
    kind: str = Field(description="central, branch or consignment")
    branch: str | None
    region: str | None
    dealer_code: str | None = Field(
        default=None, description="a consignment warehouse's dealer (寄售); null otherwise"
    )


class WarehouseRegisteredV1(IntegrationEvent):
    """A warehouse was opened, as published before consignment warehouses named their
    dealer. Superseded by v2."""

    service = "inventory"
    event_name = "WarehouseRegistered"
    version = 1

    warehouse_id: str
    code: str
    name: str
    kind: str
    branch: str | None
    region: str | None

    def upcast(self) -> WarehouseRegistered:
        """v2 with no dealer."""
        return WarehouseRegistered(**self.model_dump(), dealer_code=None)


class ReceivedLine(BaseModel):
    """A SKU received, at the cost it came in at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0, description="in the SKU's unit")
    unit_cost: Money | None = Field(
        description="CNY per unit; null only on an event upcast from v1 (not valued)"
    )
    value: Money | None = Field(description="quantity x unit cost, to the fen (half up)")


class GoodsReceived(IntegrationEvent):
    """入库: goods arrived at a warehouse and are on hand, valued at their cost.

    v2 (superseding v1) values each line: stock movements carry what they are worth, so a
    ledger can post them (inventory against goods received not invoiced)."""

    service = "inventory"
    event_name = "GoodsReceived"
    version = 2

    receipt_id: str
    warehouse_code: str
    business_date: date
    lines: list[ReceivedLine] = Field(min_length=1)
    value: Money | None = Field(description="the lines' values; null if any line is not valued")


class OpeningStockRecorded(IntegrationEvent):
    """期初库存: stock on hand at a warehouse at the cut-over, at the cost the brand's former
    system carried it at, one document (its own number) at a time. It starts the moving
    average of each SKU there like a receipt; a ledger posts it against opening balances,
    not against a supplier."""

    service = "inventory"
    event_name = "OpeningStockRecorded"
    version = 1

    opening_id: str
    document_number: str = Field(description="the opening document's own number")
    warehouse_code: str
    cut_over_date: date
    lines: list[ReceivedLine] = Field(min_length=1)
    value: Money = Field(description="the lines' values")


class GoodsReceivedV1(IntegrationEvent):
    """入库, as published before stock was valued (quantities only). Superseded by v2."""

    service = "inventory"
    event_name = "GoodsReceived"
    version = 1

    receipt_id: str
    warehouse_code: str
    business_date: date
    lines: list[Line] = Field(min_length=1)

    def upcast(self) -> GoodsReceived:
        """v2 with every line not valued (its cost was never recorded)."""
        return GoodsReceived(
            receipt_id=self.receipt_id,
            warehouse_code=self.warehouse_code,
            business_date=self.business_date,
            lines=[
                ReceivedLine(sku=line.sku, quantity=line.quantity, unit_cost=None, value=None)
                for line in self.lines
            ],
            value=None,
        )


class StockReserved(IntegrationEvent):
    """Every line of an order is reserved at one warehouse."""

    service = "inventory"
    event_name = "StockReserved"
    version = 1

    order_id: str
    warehouse_code: str
    lines: list[Line] = Field(min_length=1)


class Shortage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    requested: int
    available: int


class StockShortage(IntegrationEvent):
    """An order could not be reserved in full; nothing was reserved for it."""

    service = "inventory"
    event_name = "StockShortage"
    version = 1

    order_id: str
    warehouse_code: str | None = Field(description="none when no warehouse serves the order")
    shortages: list[Shortage]


class StockReleased(IntegrationEvent):
    """What was still reserved for an order (rejected or cancelled) is available again."""

    service = "inventory"
    event_name = "StockReleased"
    version = 1

    order_id: str
    warehouse_code: str
    lines: list[Line]
    reason: str


class ShippedLine(BaseModel):
    """A SKU shipped, at its cost to the warehouse (moving weighted average)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0, description="in the SKU's unit")
    cost: Money | None = Field(
        description="cost of goods shipped: the warehouse's moving weighted average cost x "
        "quantity, to the fen (half up); null only on an event upcast from v1 (not valued)"
    )


class ShipmentDispatched(IntegrationEvent):
    """出库/发货: goods left the warehouse against an approved order (possibly in part), at
    their cost.

    v2 (superseding v1) gives each line its cost of goods shipped."""

    service = "inventory"
    event_name = "ShipmentDispatched"
    version = 2

    shipment_id: str
    order_id: str
    dealer_code: str
    warehouse_code: str
    ship_date: date
    lines: list[ShippedLine] = Field(min_length=1)
    cost: Money | None = Field(description="the lines' costs; null if any line is not valued")
    order_complete: bool = Field(description="everything ordered has now shipped")


class ShipmentDispatchedV1(IntegrationEvent):
    """出库/发货, as published before stock was valued. Superseded by v2."""

    service = "inventory"
    event_name = "ShipmentDispatched"
    version = 1

    shipment_id: str
    order_id: str
    dealer_code: str
    warehouse_code: str
    ship_date: date
    lines: list[Line] = Field(min_length=1)
    order_complete: bool = Field(description="everything ordered has now shipped")

    def upcast(self) -> ShipmentDispatched:
        """v2 with every line not valued."""
        return ShipmentDispatched(
            shipment_id=self.shipment_id,
            order_id=self.order_id,
            dealer_code=self.dealer_code,
            warehouse_code=self.warehouse_code,
            ship_date=self.ship_date,
            lines=[
                ShippedLine(sku=line.sku, quantity=line.quantity, cost=None) for line in self.lines
            ],
            cost=None,
            order_complete=self.order_complete,
        )


class DeliveryConfirmed(IntegrationEvent):
    """The dealer confirmed it received a shipment."""

    service = "inventory"
    event_name = "DeliveryConfirmed"
    version = 1

    shipment_id: str
    order_id: str
    dealer_code: str
    delivered_on: date


class SafetyStockSet(IntegrationEvent):
    """安全库存: the level below which a SKU is flagged at a warehouse."""

    service = "inventory"
    event_name = "SafetyStockSet"
    version = 1

    warehouse_code: str
    sku: str
    quantity: int = Field(ge=0)


class ValuedLine(BaseModel):
    """A SKU that moved, at its cost (moving weighted average at the warehouse it left)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0, description="in the SKU's unit")
    cost: Money = Field(description="CNY at cost, to the fen (half up)")


class TransferDispatched(IntegrationEvent):
    """调拨 dispatched: stock left ``from_warehouse`` at its cost and is in transit to
    ``to_warehouse`` (on hand falls at the source; in transit rises at the destination)."""

    service = "inventory"
    event_name = "TransferDispatched"
    version = 1

    transfer_id: str
    from_warehouse: str
    to_warehouse: str
    ship_date: date
    lines: list[ValuedLine] = Field(min_length=1)
    cost: Money = Field(description="the lines' costs: the value now in transit")


class ArrivedLine(BaseModel):
    """What arrived of one line of a transfer, and what it is worth."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    dispatched: int = Field(gt=0)
    received: int = Field(ge=0, description="arrived in good condition: on hand, available")
    damaged: int = Field(ge=0, description="arrived damaged (残损): on hand, never available")
    cost: Money = Field(description="what the dispatched units left the source at")
    value: Money = Field(
        description="what arrived (received + damaged) is worth: the cost when all arrived, "
        "that share of it when fewer did, plus the line's unit cost per unit over"
    )
    difference: Money = Field(
        description="value - cost: negative a transit loss, positive a transit gain"
    )
    reason: str | None = Field(
        description="short_shipped, lost_in_transit, damaged_in_transit or over_shipped; "
        "null when everything arrived in good condition"
    )
    note: str | None


class TransferReceived(IntegrationEvent):
    """调拨 received, once: what was in transit arrived at ``to_warehouse`` (in transit falls
    by what was dispatched; on hand rises by what arrived, damaged units also as damaged),
    each discrepancy with its reason, and the value of any difference."""

    service = "inventory"
    event_name = "TransferReceived"
    version = 1

    transfer_id: str
    from_warehouse: str
    to_warehouse: str
    received_on: date
    lines: list[ArrivedLine] = Field(min_length=1)
    cost: Money = Field(description="what was in transit")
    value: Money = Field(description="what arrived is worth")
    difference: Money = Field(description="value - cost (transit loss when negative)")


class CountedLine(BaseModel):
    """One SKU of a posted stocktake: the book frozen at opening, the count, the variance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    book: int = Field(ge=0, description="on hand when the count sheet was opened")
    counted: int = Field(ge=0)
    variance: int = Field(description="counted - book; posted against the stock on hand")
    value: Money = Field(
        description="the variance's change in value at moving average cost (a loss negative)"
    )
    reason: str | None = Field(
        description="count_error, unrecorded_receipt, unrecorded_issue, theft_or_loss, "
        "breakage or other; null when there is no variance"
    )


class StocktakePosted(IntegrationEvent):
    """盘点 posted: every SKU of the count sheet with its variance and reason; on hand moves
    by each variance, the stock's value by its value."""

    service = "inventory"
    event_name = "StocktakePosted"
    version = 1

    stocktake_id: str
    warehouse_code: str
    count_date: date
    posted_on: date
    lines: list[CountedLine] = Field(min_length=1)
    value: Money = Field(description="the variances' values: net gain (+) or loss (-)")


class StockDamaged(IntegrationEvent):
    """残损: stock found damaged; still on hand and valued, no longer available."""

    service = "inventory"
    event_name = "StockDamaged"
    version = 1

    warehouse_code: str
    sku: str
    quantity: int = Field(gt=0)
    document_id: str
    reason: str
    business_date: date


class DamagedStockWrittenOff(IntegrationEvent):
    """残损 written off: damaged stock leaves the books (on hand and damaged fall) at its
    moving average cost."""

    service = "inventory"
    event_name = "DamagedStockWrittenOff"
    version = 1

    warehouse_code: str
    sku: str
    quantity: int = Field(gt=0)
    cost: Money
    document_id: str
    reason: str
    business_date: date


class ConsignmentSellThroughReported(IntegrationEvent):
    """寄售: a dealer sold consignment stock it held for the brand in a period. The stock
    left the dealer's consignment warehouse at cost; orders prices the sale
    (ConsignmentSaleRecorded) and finance invoices it."""

    service = "inventory"
    event_name = "ConsignmentSellThroughReported"
    version = 1

    report_id: str
    warehouse_code: str
    dealer_code: str
    branch: str | None
    period_from: date
    period_to: date
    lines: list[ValuedLine] = Field(min_length=1)
    cost: Money = Field(description="cost of the goods sold, at moving average")


class ReturnedLine(BaseModel):
    """A SKU of a dealer's return as it arrived, at what it cost when it shipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    good: int = Field(ge=0, description="back to available stock")
    damaged: int = Field(ge=0, description="to damaged stock (on hand, never available)")
    unit_cost: Money = Field(description="CNY per unit, its cost when it shipped on the order")
    value: Money = Field(description="(good + damaged) x unit cost, to the fen (half up)")


class ReturnReceived(IntegrationEvent):
    """退货入库: the warehouse received a dealer's approved return, each SKU good or damaged.
    Finance credits what arrived at the order's prices; what never arrived is not on it."""

    service = "inventory"
    event_name = "ReturnReceived"
    version = 1

    return_id: str
    order_id: str
    dealer_code: str
    warehouse_code: str
    received_on: date
    lines: list[ReturnedLine] = Field(min_length=1)
    value: Money = Field(description="the lines' values")

"""The inventory read model: stock per warehouse and SKU (on hand, reserved, damaged, in
transit to it, safety stock), the warehouses' branch, region and (consignment) dealer for
roll-ups, a ledger of every movement by business date, from which stock as of any past date
is summed, and dealers' reported sell-through of consignment stock per period.

Every movement is a delta, so events of one stock item may arrive in any order (they come
from different aggregates, on different partitions) and still add up to the same figures.
Business dates: a goods receipt's, a shipment's, a transfer's (dispatched: its ship date;
received: its receipt date), a stocktake's posting, a damage or write-off document's own
dates; a reservation or release counts from the day (China Standard Time) its event
happened; a sell-through from the last day of its period.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import inventory as published
from projections.gathered import gathered
from projections.tracking import Projection, batch_buffer
from services.kernel.dates import BUSINESS_TIMEZONE

ZERO = Decimal("0.00")
metadata = MetaData()

warehouses = Table(
    "inventory_warehouses",
    metadata,
    Column("code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("branch", String),
    Column("region", String),
    Column("dealer_code", String),  # a consignment warehouse's dealer
)

_QUANTITIES = ["on_hand", "reserved", "damaged", "in_transit", "safety_stock"]
stock = Table(
    "inventory_stock",
    metadata,
    Column("warehouse_code", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("on_hand", BigInteger, nullable=False, server_default="0"),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("damaged", BigInteger, nullable=False, server_default="0"),  # of on hand
    Column("in_transit", BigInteger, nullable=False, server_default="0"),  # to this warehouse
    Column("safety_stock", BigInteger, nullable=False, server_default="0"),
    # The warehouse's, copied so that national roll-ups stream in (region, SKU) order from an
    # index and stop at a page; empty until the warehouse's registration is seen (and for
    # the central warehouse, which has neither).
    Column("branch", String, nullable=False, server_default=""),
    Column("region", String, nullable=False, server_default=""),
    # Covering: a roll-up reads the quantities from the index alone (the below-safety list
    # by nation scans every row, 63k at 1M events: 30 ms from the table, 8 ms from here).
    *(
        Index(f"inventory_stock_by_{name}", *columns, postgresql_include=_QUANTITIES)
        for name, columns in (
            ("sku", ("sku",)),
            ("region", ("region", "sku")),
            ("branch", ("branch", "sku")),
        )
    ),
)

# One row per warehouse and SKU an event moved (an event merges its lines per SKU; a
# transfer moves two warehouses).
movements = Table(
    "inventory_movements",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("warehouse_code", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("kind", String, nullable=False),
    Column("on_hand_delta", BigInteger, nullable=False),
    Column("reserved_delta", BigInteger, nullable=False),
    Column("damaged_delta", BigInteger, nullable=False, server_default="0"),
    Column("in_transit_delta", BigInteger, nullable=False, server_default="0"),
    Index("inventory_movements_by_date", "warehouse_code", "sku", "business_date"),
)

# 进销存: what each event did to a stock item's quantity on hand and its value at cost (the
# write side's moving weighted average, as published), by business date and kind: the monthly
# report sums it, and the ERP posts the same values to inventory at cost (1405). A value is
# null only for a movement published before stock was valued (v1). ``damaged`` counts units
# newly marked damaged (found damaged, or arrived damaged on a transfer or a return) and
# damaged units written off (negative): a quantity only, still on hand at its value.
valued_movements = Table(
    "inventory_valued_movements",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("warehouse_code", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("kind", String, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("value", Numeric(18, 2)),
    Column("damaged", BigInteger, nullable=False, server_default="0"),
    Index("inventory_valued_movements_by_date", "business_date"),
)

# 寄售: what a dealer reported sold of its consignment stock, per report and SKU.
sell_through = Table(
    "inventory_sell_through",
    metadata,
    Column("report_id", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("warehouse_code", String, nullable=False),
    Column("dealer_code", String, nullable=False),
    Column("branch", String, nullable=False, server_default=""),
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("cost", Numeric(18, 2), nullable=False),
    Index("inventory_sell_through_by_warehouse", "warehouse_code", "sku", "period_to"),
)

inventory = Projection(name="inventory", metadata=metadata, origins=("inventory",))


# Written once per batch (projections/gathered.py): stock by adding deltas (safety stock: the
# latest setting wins; branch and region as first seen); movements inserted once.
_stock = gathered(
    inventory,
    stock,
    add={"on_hand", "reserved", "damaged", "in_transit"},
    first={"branch", "region"},
)
_movements = gathered(inventory, movements, first={c.name for c in movements.columns})
_sell_through = gathered(inventory, sell_through, first={c.name for c in sell_through.columns})
_valued = gathered(inventory, valued_movements, first={c.name for c in valued_movements.columns})
# Kinds that change neither stock on hand nor its value.
_UNVALUED_KINDS = {"reservation", "release"}


def _warehouse_dimensions(conn: Connection, code: str) -> tuple[str, str]:
    """A warehouse's (branch, region), empty until its registration is seen (and for the
    central warehouse). Registered ones are kept per connection: they never change. One not
    registered yet is looked up once per batch (a rebuild that reads the warehouses' topic
    partition late asked for every movement), and again in the next batch: another
    projector replica may have applied the registration meanwhile."""
    known = conn.info.setdefault("inventory_warehouse_dimensions", {})
    if code in known:
        return known[code]
    unregistered = batch_buffer(conn).setdefault(_UNREGISTERED, set())
    if code in unregistered:
        return ("", "")
    row = conn.execute(
        select(warehouses.c.branch, warehouses.c.region).where(warehouses.c.code == code)
    ).first()
    if row is None:
        unregistered.add(code)
        return ("", "")
    known[code] = (row.branch or "", row.region or "")
    return known[code]


# The batch buffer's key of the warehouses looked up and not registered yet, in this batch.
_UNREGISTERED = "inventory_unregistered_warehouses"


def _move(
    conn: Connection,
    envelope: Envelope,
    *,
    warehouse_code: str,
    business_date: date,
    kind: str,
    lines: list,
    on_hand: int,
    reserved: int,
    value_of=None,
) -> None:
    """Apply ``on_hand`` x quantity and ``reserved`` x quantity for every line, and
    ``on_hand`` x ``value_of(line)`` to the stock's value (None: not valued)."""
    quantities: dict[str, int] = {}
    values: dict[str, Decimal | None] = {}
    for line in lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
        value = value_of(line) if value_of else None
        before = values.get(line.sku, ZERO)
        values[line.sku] = None if value is None or before is None else before + value
    for sku, quantity in quantities.items():
        value = values[sku]
        _delta(
            conn,
            envelope,
            warehouse_code=warehouse_code,
            sku=sku,
            business_date=business_date,
            kind=kind,
            on_hand=on_hand * quantity,
            reserved=reserved * quantity,
            value=None if value is None else on_hand * value,
        )


def _delta(
    conn: Connection,
    envelope: Envelope,
    *,
    warehouse_code: str,
    sku: str,
    business_date: date,
    kind: str,
    on_hand: int = 0,
    reserved: int = 0,
    damaged: int = 0,
    in_transit: int = 0,
    value: Decimal | None = None,
) -> None:
    """One event's change to one SKU at one warehouse (once per event, warehouse and SKU);
    ``value`` its change to the stock's value at cost (None: not valued)."""
    branch, region = _warehouse_dimensions(conn, warehouse_code)
    _stock.gather(
        conn,
        warehouse_code=warehouse_code,
        sku=sku,
        on_hand=on_hand,
        reserved=reserved,
        damaged=damaged,
        in_transit=in_transit,
        branch=branch,
        region=region,
    )
    moved = {
        "position": envelope.position,
        "warehouse_code": warehouse_code,
        "sku": sku,
        "business_date": business_date,
        "kind": kind,
    }
    _movements.gather(
        conn,
        **moved,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        damaged_delta=damaged,
        in_transit_delta=in_transit,
    )
    if kind not in _UNVALUED_KINDS and (on_hand or damaged or value):
        # Units marked damaged keep their value: a zero change, not an unvalued one.
        value = ZERO if value is None and not on_hand else value
        _valued.gather(conn, **moved, quantity=on_hand, value=value, damaged=damaged)


def _event_day(envelope: Envelope) -> date:
    return envelope.time.astimezone(BUSINESS_TIMEZONE).date()


@inventory.on(published.WarehouseRegistered)
def warehouse_registered(
    conn: Connection, envelope: Envelope, event: published.WarehouseRegistered
) -> None:
    conn.execute(
        insert(warehouses)
        .values(
            code=event.code,
            name=event.name,
            kind=event.kind,
            branch=event.branch,
            region=event.region,
            dealer_code=event.dealer_code,
        )
        .on_conflict_do_nothing()
    )
    # Stock counted before the registration arrived (another aggregate, another partition):
    # in the table, and gathered in this batch.
    branch, region = event.branch or "", event.region or ""
    conn.execute(
        update(stock)
        .where(stock.c.warehouse_code == event.code, stock.c.branch == "", stock.c.region == "")
        .values(branch=branch, region=region)
    )
    for row in _stock.pending(conn):
        if row["warehouse_code"] == event.code:
            row.update(branch=branch, region=region)
    conn.info.setdefault("inventory_warehouse_dimensions", {})[event.code] = (branch, region)


@inventory.on(published.GoodsReceived)
def goods_received(conn: Connection, envelope: Envelope, event: published.GoodsReceived) -> None:
    _move(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        business_date=event.business_date,
        kind="receipt",
        lines=event.lines,
        on_hand=1,
        reserved=0,
        value_of=lambda line: line.value,
    )


@inventory.on(published.OpeningStockRecorded)
def opening_stock(
    conn: Connection, envelope: Envelope, event: published.OpeningStockRecorded
) -> None:
    """期初库存: on hand from the cut-over date, like a receipt."""
    _move(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        business_date=event.cut_over_date,
        kind="opening",
        lines=event.lines,
        on_hand=1,
        reserved=0,
        value_of=lambda line: line.value,
    )


@inventory.on(published.StockReserved)
def stock_reserved(conn: Connection, envelope: Envelope, event: published.StockReserved) -> None:
    _move(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        business_date=_event_day(envelope),
        kind="reservation",
        lines=event.lines,
        on_hand=0,
        reserved=1,
    )


@inventory.on(published.StockReleased)
def stock_released(conn: Connection, envelope: Envelope, event: published.StockReleased) -> None:
    _move(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        business_date=_event_day(envelope),
        kind="release",
        lines=event.lines,
        on_hand=0,
        reserved=-1,
    )


@inventory.on(published.ShipmentDispatched)
def shipment_dispatched(
    conn: Connection, envelope: Envelope, event: published.ShipmentDispatched
) -> None:
    _move(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        business_date=event.ship_date,
        kind="shipment",
        lines=event.lines,
        on_hand=-1,
        reserved=-1,
        value_of=lambda line: line.cost,
    )


@inventory.on(published.SafetyStockSet)
def safety_stock_set(conn: Connection, envelope: Envelope, event: published.SafetyStockSet) -> None:
    # The latest setting wins: a stock item's settings come from one aggregate, in order.
    branch, region = _warehouse_dimensions(conn, event.warehouse_code)
    _stock.gather(
        conn,
        warehouse_code=event.warehouse_code,
        sku=event.sku,
        safety_stock=event.quantity,
        branch=branch,
        region=region,
    )


@inventory.on(published.TransferDispatched)
def transfer_dispatched(
    conn: Connection, envelope: Envelope, event: published.TransferDispatched
) -> None:
    """Out of the source's on hand, in transit to the destination."""
    for line in event.lines:
        common = {"sku": line.sku, "business_date": event.ship_date, "kind": "transfer_out"}
        _delta(
            conn,
            envelope,
            warehouse_code=event.from_warehouse,
            on_hand=-line.quantity,
            value=-line.cost,
            **common,
        )
        _delta(
            conn, envelope, warehouse_code=event.to_warehouse, in_transit=line.quantity, **common
        )


@inventory.on(published.TransferReceived)
def transfer_received(
    conn: Connection, envelope: Envelope, event: published.TransferReceived
) -> None:
    """No longer in transit; what arrived is on hand, damaged units also as damaged."""
    for line in event.lines:
        _delta(
            conn,
            envelope,
            warehouse_code=event.to_warehouse,
            sku=line.sku,
            business_date=event.received_on,
            kind="transfer_in",
            on_hand=line.received + line.damaged,
            damaged=line.damaged,
            in_transit=-line.dispatched,
            value=line.value,
        )


@inventory.on(published.StocktakePosted)
def stocktake_posted(
    conn: Connection, envelope: Envelope, event: published.StocktakePosted
) -> None:
    for line in event.lines:
        if line.variance:
            _delta(
                conn,
                envelope,
                warehouse_code=event.warehouse_code,
                sku=line.sku,
                business_date=event.posted_on,
                kind="stocktake",
                on_hand=line.variance,
                value=line.value,
            )


@inventory.on(published.StockDamaged)
def stock_damaged(conn: Connection, envelope: Envelope, event: published.StockDamaged) -> None:
    _delta(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        sku=event.sku,
        business_date=event.business_date,
        kind="damaged",
        damaged=event.quantity,
    )


@inventory.on(published.DamagedStockWrittenOff)
def damaged_written_off(
    conn: Connection, envelope: Envelope, event: published.DamagedStockWrittenOff
) -> None:
    _delta(
        conn,
        envelope,
        warehouse_code=event.warehouse_code,
        sku=event.sku,
        business_date=event.business_date,
        kind="write_off",
        on_hand=-event.quantity,
        damaged=-event.quantity,
        value=-event.cost,
    )


@inventory.on(published.ConsignmentSellThroughReported)
def sell_through_reported(
    conn: Connection, envelope: Envelope, event: published.ConsignmentSellThroughReported
) -> None:
    for line in event.lines:
        _delta(
            conn,
            envelope,
            warehouse_code=event.warehouse_code,
            sku=line.sku,
            business_date=event.period_to,
            kind="sell_through",
            on_hand=-line.quantity,
            value=-line.cost,
        )
        _sell_through.gather(
            conn,
            report_id=event.report_id,
            sku=line.sku,
            warehouse_code=event.warehouse_code,
            dealer_code=event.dealer_code,
            branch=event.branch or "",
            period_from=event.period_from,
            period_to=event.period_to,
            quantity=line.quantity,
            cost=line.cost,
        )


@inventory.on(published.ReturnReceived)
def return_received(conn: Connection, envelope: Envelope, event: published.ReturnReceived) -> None:
    """退货入库: what came back is on hand again; the damaged part is not available."""
    for line in event.lines:
        _delta(
            conn,
            envelope,
            warehouse_code=event.warehouse_code,
            sku=line.sku,
            business_date=event.received_on,
            kind="return",
            on_hand=line.good + line.damaged,
            damaged=line.damaged,
            value=line.value,
        )

"""The lists read model: one table per list that people page through and search (orders,
shipments, invoices, receipts, credit notes, returns, transfers, stocktakes, rebate claims,
demand plans, dealers, products, warehouses), all kept by one projector (one consumer: every
idle consumer costs CPU) from the three topics.

Order-free, so that a rebuild reaches the same rows whatever order partitions deliver in:

- every column is written by one event type only (a shipment's ``invoice_id`` by
  InvoiceIssued, its ``delivered_on`` by DeliveryConfirmed), so a row may be started by any of
  its events and filled in by the others; the row's date column stays null until its own
  event arrives, and queries leave such rows out;
- what several events add to (an order's shipments, an invoice's settled amount) is an
  increment; statuses are derived from these columns when read (``queries.py``), never
  stored as "the latest event's";
- a demand plan holds its latest revision by the plan's event sequence.

Writes are gathered per batch (``projections.gathered``) and written in one multi-row upsert
per table; demand plans, guarded by sequence, are upserted per event.

Scope: orders, returns, warehouses, demand plans and dealers name their branch; documents
that name only a dealer (shipments, invoices, receipts, credit notes, rebate claims) take the
branch and region of the dealer as registered, and transfers and stocktakes those of their
warehouses, when queried.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)

from contracts import Envelope
from contracts import finance as finance_events
from contracts import inventory as inventory_events
from contracts import orders as orders_events
from projections.demand_plans.projection import hold_latest_plan, on_plan_events
from projections.gathered import gathered
from projections.tracking import Projection

metadata = MetaData()
ZERO = Decimal("0.00")


def _money(name: str, **kwargs) -> Column:
    return Column(name, Numeric(18, 2), **kwargs)


def _keyset(table: str, date: str, key: str) -> Index:
    """The list's stable order: newest first, then by id."""
    return Index(f"{table}_keyset", date, key)


list_dealers = Table(
    "list_dealers",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("dealer_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("branch", String, nullable=False, index=True),
    Column("region", String, nullable=False, index=True),
    Column("grade", String, nullable=False),
)

list_products = Table(
    "list_products",
    metadata,
    Column("sku", String, primary_key=True),
    Column("product_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("category", String, nullable=False, index=True),
    Column("unit", String, nullable=False),
    _money("list_price", nullable=False),
)

list_warehouses = Table(
    "list_warehouses",
    metadata,
    Column("code", String, primary_key=True),
    Column("warehouse_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("branch", String, index=True),
    Column("region", String),
    Column("dealer_code", String),
)

list_orders = Table(
    "list_orders",
    metadata,
    Column("order_id", String, primary_key=True),
    # From OrderPlaced (null until it arrives).
    Column("dealer_id", String),
    Column("dealer_code", String, index=True),
    Column("branch", String, index=True),
    Column("region", String),
    Column("business_date", Date),
    Column("lines", Integer),
    Column("quantity", BigInteger),
    _money("total"),
    # One column per event type that moves the order on.
    Column("approved", Boolean, nullable=False, server_default="false"),
    Column("awaiting_approval", Boolean, nullable=False, server_default="false"),
    Column("credit_refused", Boolean, nullable=False, server_default="false"),
    Column("rejected_reason", String),
    Column("cancelled_reason", String),
    Column("shipments", Integer, nullable=False, server_default="0"),
    Column("shipped_complete", Boolean, nullable=False, server_default="false"),
    Column("deliveries", Integer, nullable=False, server_default="0"),
    _keyset("list_orders", "business_date", "order_id"),
)

# Where inventory holds each order's stock (StockReserved): the warehouse that is to ship
# it. A table of its own rather than a column of list_orders, so that a read model created
# before it existed gains it at start-up (tables are created, never altered); orders reserved
# before then show their warehouse after `dist rebuild lists`.
list_order_warehouses = Table(
    "list_order_warehouses",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("warehouse_code", String, nullable=False, index=True),
)

list_shipments = Table(
    "list_shipments",
    metadata,
    Column("shipment_id", String, primary_key=True),
    Column("order_id", String, index=True),
    Column("dealer_code", String, index=True),
    Column("warehouse_code", String, index=True),
    Column("ship_date", Date),
    Column("quantity", BigInteger),
    _money("cost"),
    Column("order_complete", Boolean),
    Column("delivered_on", Date),  # DeliveryConfirmed
    Column("invoice_id", String),  # InvoiceIssued: the invoice of this shipment
    Column("invoice_number", String),
    _keyset("list_shipments", "ship_date", "shipment_id"),
)

list_invoices = Table(
    "list_invoices",
    metadata,
    Column("invoice_id", String, primary_key=True),
    Column("invoice_number", String),
    Column("dealer_code", String, index=True),
    Column("order_id", String, index=True),
    Column("shipment_id", String, index=True),
    Column("issue_date", Date),
    Column("due_date", Date),
    _money("total"),
    # Receipts, credit notes and credited rebates allocated to it.
    _money("settled", nullable=False, server_default="0"),
    _keyset("list_invoices", "issue_date", "invoice_id"),
)

list_receipts = Table(
    "list_receipts",
    metadata,
    Column("receipt_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    _money("amount", nullable=False),
    Column("received_on", Date, nullable=False),
    _money("allocated", nullable=False),
    _money("unapplied", nullable=False),
    _keyset("list_receipts", "received_on", "receipt_id"),
)

list_credit_notes = Table(
    "list_credit_notes",
    metadata,
    Column("credit_note_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("invoice_id", String, nullable=False, index=True),
    Column("return_id", String),
    _money("amount", nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("reason", String, nullable=False),
    _keyset("list_credit_notes", "issued_on", "credit_note_id"),
)

list_returns = Table(
    "list_returns",
    metadata,
    Column("return_id", String, primary_key=True),
    # ReturnApproved (orders)
    Column("order_id", String, index=True),
    Column("dealer_code", String, index=True),
    Column("branch", String, index=True),
    Column("warehouse_code", String),
    Column("business_date", Date),
    Column("quantity", BigInteger),
    Column("reason", String),
    # ReturnReceived (inventory)
    Column("received_on", Date),
    Column("good", BigInteger),
    Column("damaged", BigInteger),
    _money("value"),
    _keyset("list_returns", "business_date", "return_id"),
)

list_transfers = Table(
    "list_transfers",
    metadata,
    Column("transfer_id", String, primary_key=True),
    # TransferDispatched
    Column("from_warehouse", String, index=True),
    Column("to_warehouse", String, index=True),
    Column("ship_date", Date),
    Column("quantity", BigInteger),
    _money("cost"),
    # TransferReceived
    Column("received_on", Date),
    Column("received", BigInteger),
    Column("damaged", BigInteger),
    _money("value"),
    _money("difference"),
    _keyset("list_transfers", "ship_date", "transfer_id"),
)

list_stocktakes = Table(
    "list_stocktakes",
    metadata,
    Column("stocktake_id", String, primary_key=True),
    Column("warehouse_code", String, nullable=False, index=True),
    Column("count_date", Date, nullable=False),
    Column("posted_on", Date, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("variance", BigInteger, nullable=False),
    _money("value", nullable=False),
    _keyset("list_stocktakes", "posted_on", "stocktake_id"),
)

list_rebate_claims = Table(
    "list_rebate_claims",
    metadata,
    Column("claim_id", String, primary_key=True),
    # RebateClaimFiled
    Column("dealer_code", String, index=True),
    _money("amount"),
    Column("salesperson", String),
    Column("filed_on", Date),
    # RebateClaimRejected / RebateCredited
    Column("rejected_on", Date),
    Column("rejected_reason", String),
    Column("credited_on", Date),
    _keyset("list_rebate_claims", "filed_on", "claim_id"),
)

list_demand_plans = Table(
    "list_demand_plans",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("month", String, primary_key=True),
    Column("plan_id", String, nullable=False),
    Column("branch", String, nullable=False, index=True),
    Column("region", String, nullable=False),
    Column("status", String, nullable=False),  # submitted | returned | approved
    Column("revision", Integer, nullable=False),
    Column("quantity", BigInteger),  # the plan's lines (a returned plan keeps the last ones)
    Column("sequence", Integer, nullable=False),
    Index("list_demand_plans_keyset", "month", "dealer_code"),
)

lists = Projection(name="lists", metadata=metadata, origins=("orders", "inventory", "finance"))

dealers = gathered(lists, list_dealers)
products = gathered(lists, list_products)
warehouses = gathered(lists, list_warehouses)
orders = gathered(lists, list_orders, add=("shipments", "deliveries"))
order_warehouses = gathered(lists, list_order_warehouses)
shipments = gathered(lists, list_shipments)
invoices = gathered(lists, list_invoices, add=("settled",))
receipts = gathered(lists, list_receipts)
credit_notes = gathered(lists, list_credit_notes)
returns = gathered(lists, list_returns)
transfers = gathered(lists, list_transfers)
stocktakes = gathered(lists, list_stocktakes)
rebate_claims = gathered(lists, list_rebate_claims)


def _copied(event, *names: str) -> dict:
    """The event's fields of these names, for the columns of the same names."""
    return {name: getattr(event, name) for name in names}


def _settle(conn: Connection, allocations) -> None:
    for allocation in allocations:
        invoices.gather(conn, invoice_id=allocation.invoice_id, settled=allocation.amount)


# Master data


@lists.on(orders_events.DealerRegistered)
def dealer_registered(conn: Connection, envelope: Envelope, event) -> None:
    fields = _copied(event, "dealer_code", "dealer_id", "name", "branch", "region", "grade")
    dealers.gather(conn, **fields)


@lists.on(orders_events.ProductRegistered)
def product_registered(conn: Connection, envelope: Envelope, event) -> None:
    fields = _copied(event, "sku", "product_id", "name", "category", "unit", "list_price")
    products.gather(conn, **fields)


@lists.on(inventory_events.WarehouseRegistered)
def warehouse_registered(conn: Connection, envelope: Envelope, event) -> None:
    fields = _copied(
        event, "code", "warehouse_id", "name", "kind", "branch", "region", "dealer_code"
    )
    warehouses.gather(conn, **fields)


# Orders


@lists.on(orders_events.OrderPlaced)
def order_placed(conn: Connection, envelope: Envelope, event) -> None:
    orders.gather(
        conn,
        order_id=event.order_id,
        dealer_id=event.dealer_id,
        dealer_code=event.dealer_code,
        branch=event.branch,
        region=event.region,
        business_date=event.business_date,
        lines=len(event.lines),
        quantity=sum(line.quantity for line in event.lines),
        total=event.total,
    )


@lists.on(orders_events.OrderApproved)
def order_approved(conn: Connection, envelope: Envelope, event) -> None:
    orders.gather(conn, order_id=event.order_id, approved=True)


@lists.on(orders_events.OrderAwaitingApproval)
def order_awaiting_approval(conn: Connection, envelope: Envelope, event) -> None:
    orders.gather(conn, order_id=event.order_id, awaiting_approval=True)


@lists.on(finance_events.CreditRefused)
def credit_refused(conn: Connection, envelope: Envelope, event) -> None:
    orders.gather(conn, order_id=event.order_id, credit_refused=True)


@lists.on(orders_events.OrderRejected)
def order_rejected(conn: Connection, envelope: Envelope, event) -> None:
    orders.gather(conn, order_id=event.order_id, rejected_reason=event.reason)


@lists.on(orders_events.OrderCancelled)
def order_cancelled(conn: Connection, envelope: Envelope, event) -> None:
    orders.gather(conn, order_id=event.order_id, cancelled_reason=event.reason)


@lists.on(inventory_events.StockReserved)
def stock_reserved(conn: Connection, envelope: Envelope, event) -> None:
    order_warehouses.gather(conn, order_id=event.order_id, warehouse_code=event.warehouse_code)


# Shipments and their invoices


@lists.on(inventory_events.ShipmentDispatched)
def shipment_dispatched(conn: Connection, envelope: Envelope, event) -> None:
    shipments.gather(
        conn,
        shipment_id=event.shipment_id,
        order_id=event.order_id,
        dealer_code=event.dealer_code,
        warehouse_code=event.warehouse_code,
        ship_date=event.ship_date,
        quantity=sum(line.quantity for line in event.lines),
        cost=event.cost,
        order_complete=event.order_complete,
    )
    orders.gather(conn, order_id=event.order_id, shipments=1)
    if event.order_complete:
        orders.gather(conn, order_id=event.order_id, shipped_complete=True)


@lists.on(inventory_events.DeliveryConfirmed)
def delivery_confirmed(conn: Connection, envelope: Envelope, event) -> None:
    shipments.gather(conn, shipment_id=event.shipment_id, delivered_on=event.delivered_on)
    orders.gather(conn, order_id=event.order_id, deliveries=1)


@lists.on(finance_events.InvoiceIssued)
def invoice_issued(conn: Connection, envelope: Envelope, event) -> None:
    names = ("invoice_id", "invoice_number", "dealer_code", "order_id", "shipment_id")
    invoices.gather(conn, **_copied(event, *names, "issue_date", "due_date", "total"), settled=ZERO)
    shipments.gather(
        conn,
        shipment_id=event.shipment_id,
        invoice_id=event.invoice_id,
        invoice_number=event.invoice_number,
    )


# Money in and out


@lists.on(finance_events.ReceiptRecorded)
def receipt_recorded(conn: Connection, envelope: Envelope, event) -> None:
    names = ("receipt_id", "dealer_code", "amount", "received_on", "unapplied")
    receipts.gather(conn, **_copied(event, *names), allocated=event.amount - event.unapplied)
    _settle(conn, event.allocations)


@lists.on(finance_events.CreditNoteIssued)
def credit_note_issued(conn: Connection, envelope: Envelope, event) -> None:
    names = ("credit_note_id", "dealer_code", "invoice_id", "return_id", "amount", "issued_on")
    credit_notes.gather(conn, **_copied(event, *names, "reason"))
    _settle(conn, event.allocations)


@lists.on(finance_events.CashApplied)
def cash_applied(conn: Connection, envelope: Envelope, event) -> None:
    """核销: cash or credit held on account settled these invoices."""
    _settle(conn, event.allocations)


@lists.on(finance_events.RebateClaimFiled)
def rebate_claim_filed(conn: Connection, envelope: Envelope, event) -> None:
    names = ("claim_id", "dealer_code", "amount", "salesperson", "filed_on")
    rebate_claims.gather(conn, **_copied(event, *names))


@lists.on(finance_events.RebateClaimRejected)
def rebate_claim_rejected(conn: Connection, envelope: Envelope, event) -> None:
    rebate_claims.gather(
        conn, claim_id=event.claim_id, rejected_on=event.rejected_on, rejected_reason=event.reason
    )


@lists.on(finance_events.RebateCredited)
def rebate_credited(conn: Connection, envelope: Envelope, event) -> None:
    rebate_claims.gather(conn, claim_id=event.claim_id, credited_on=event.credited_on)
    _settle(conn, event.allocations)


# Goods movements


@lists.on(orders_events.ReturnApproved)
def return_approved(conn: Connection, envelope: Envelope, event) -> None:
    returns.gather(
        conn,
        return_id=event.return_id,
        order_id=event.order_id,
        dealer_code=event.dealer_code,
        branch=event.branch,
        warehouse_code=event.warehouse_code,
        business_date=event.business_date,
        quantity=sum(line.quantity for line in event.lines),
        reason=event.reason,
    )


@lists.on(inventory_events.ReturnReceived)
def return_received(conn: Connection, envelope: Envelope, event) -> None:
    returns.gather(
        conn,
        return_id=event.return_id,
        received_on=event.received_on,
        good=sum(line.good for line in event.lines),
        damaged=sum(line.damaged for line in event.lines),
        value=event.value,
    )


@lists.on(inventory_events.TransferDispatched)
def transfer_dispatched(conn: Connection, envelope: Envelope, event) -> None:
    transfers.gather(
        conn,
        transfer_id=event.transfer_id,
        from_warehouse=event.from_warehouse,
        to_warehouse=event.to_warehouse,
        ship_date=event.ship_date,
        quantity=sum(line.quantity for line in event.lines),
        cost=event.cost,
    )


@lists.on(inventory_events.TransferReceived)
def transfer_received(conn: Connection, envelope: Envelope, event) -> None:
    transfers.gather(
        conn,
        transfer_id=event.transfer_id,
        received_on=event.received_on,
        received=sum(line.received for line in event.lines),
        damaged=sum(line.damaged for line in event.lines),
        value=event.value,
        difference=event.difference,
    )


@lists.on(inventory_events.StocktakePosted)
def stocktake_posted(conn: Connection, envelope: Envelope, event) -> None:
    stocktakes.gather(
        conn,
        stocktake_id=event.stocktake_id,
        warehouse_code=event.warehouse_code,
        count_date=event.count_date,
        posted_on=event.posted_on,
        lines=len(event.lines),
        variance=sum(line.variance for line in event.lines),
        value=event.value,
    )


# Demand plans: the latest revision, by the plan's event sequence.


def _plan(conn: Connection, envelope: Envelope, event, status: str, lines) -> None:
    # A returned plan's event names no lines: the quantity held stays.
    extra = {} if lines is None else {"quantity": sum(line.quantity for line in lines)}
    hold_latest_plan(
        conn, list_demand_plans, envelope, event, status, plan_id=event.plan_id, **extra
    )


on_plan_events(lists, _plan)

"""The demand-plan read model: per dealer, month and SKU what the dealer planned (approved,
or submitted and awaiting review) and what it actually ordered.

- **planned**: the latest revision of each plan, with its status. An approved plan counts as
  planned; a submitted one awaiting review is shown apart (``pending``); a returned one counts
  as neither until it is resubmitted.
- **actually ordered**: the quantities on orders placed in the month (by the order's business
  date), every line including gift lines, less orders rejected or cancelled (the whole order:
  nothing of it ships). Orders still on credit hold or awaiting approval count: they are the
  dealer's demand until turned down.

Order-free: every plan event carries the whole plan, and only a later event of the plan
(higher ``sequence``) replaces what is held; an order's rejection or cancellation is kept by
order id whether or not its OrderPlaced was seen, and the query leaves voided orders out.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, delete
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import orders as orders_events
from contracts import planning as planning_events
from projections.gathered import gathered
from projections.tracking import Projection

metadata = MetaData()

demand_plans = Table(
    "demand_plans",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("month", String, primary_key=True),
    Column("branch", String, nullable=False, index=True),
    Column("region", String, nullable=False),
    Column("status", String, nullable=False),  # submitted | returned | approved
    Column("revision", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),  # of the plan's latest event applied
)

demand_plan_lines = Table(
    "demand_plan_lines",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("month", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("quantity", BigInteger, nullable=False),
)

demand_order_lines = Table(
    "demand_order_lines",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("dealer_code", String, nullable=False),
    Column("branch", String, nullable=False),
    Column("region", String, nullable=False),
    Column("month", String, nullable=False, index=True),
    Column("quantity", BigInteger, nullable=False),
)

demand_voided_orders = Table(
    "demand_voided_orders",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("reason", String, nullable=False),
)

demand = Projection(name="demand_plans", metadata=metadata, origins=("orders",))
# An order's lines and its voiding are facts kept once (a redelivery changes nothing): the
# batch gathers them and writes each table in one statement (projections/gathered.py). No
# applier of this read model reads them.
ORDER_LINES = gathered(
    demand,
    demand_order_lines,
    first=("dealer_code", "branch", "region", "month", "quantity"),
)
VOIDED_ORDERS = gathered(demand, demand_voided_orders, first=("reason",))


def hold_latest_plan(
    conn: Connection, table: Table, envelope: Envelope, event, status: str, **extra
) -> bool:
    """Hold a plan (keyed by dealer and month) in ``table`` as this event states it, unless a
    later event of the plan was applied; whether it was held."""
    # A returned plan's event names no region: the one held stays.
    region = getattr(event, "region", "")
    statement = insert(table).values(
        dealer_code=event.dealer_code,
        month=event.month,
        branch=event.branch,
        region=region,
        status=status,
        revision=event.revision,
        sequence=envelope.sequence,
        **extra,
    )
    updated = ("status", "revision", "sequence", *extra, *(("region",) if region else ()))
    applied = conn.execute(
        statement.on_conflict_do_update(
            index_elements=["dealer_code", "month"],
            set_={name: statement.excluded[name] for name in updated},
            where=table.c.sequence < statement.excluded.sequence,
        ).returning(table.c.dealer_code)
    ).first()
    return applied is not None


def _plan(conn: Connection, envelope: Envelope, event, status: str, lines) -> None:
    """Hold the plan as this event states it, unless a later event of it was applied."""
    applied = hold_latest_plan(conn, demand_plans, envelope, event, status)
    if not applied or lines is None:
        return
    key = (demand_plan_lines.c.dealer_code == event.dealer_code) & (
        demand_plan_lines.c.month == event.month
    )
    conn.execute(delete(demand_plan_lines).where(key))
    conn.execute(
        insert(demand_plan_lines),
        [
            {
                "dealer_code": event.dealer_code,
                "month": event.month,
                "sku": line.sku,
                "quantity": line.quantity,
            }
            for line in lines
        ],
    )


def on_plan_events(projection: Projection, plan: Callable[..., None]) -> None:
    """Register ``plan(conn, envelope, event, status, lines)`` for each demand-plan event:
    submitted and approved with the plan's lines, returned with none (the lines stay)."""
    for event_class, status in (
        (planning_events.DemandPlanSubmitted, "submitted"),
        (planning_events.DemandPlanApproved, "approved"),
        (planning_events.DemandPlanReturned, "returned"),
    ):

        def apply(conn: Connection, envelope: Envelope, event, status: str = status) -> None:
            plan(conn, envelope, event, status, getattr(event, "lines", None))

        projection.on(event_class)(apply)


on_plan_events(demand, _plan)


@demand.on(orders_events.OrderPlaced)
def order_placed(conn: Connection, envelope: Envelope, event: orders_events.OrderPlaced) -> None:
    quantities: dict[str, int] = {}
    for line in event.lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    month = event.business_date.strftime("%Y-%m")
    for sku, quantity in quantities.items():
        ORDER_LINES.gather(
            conn,
            order_id=event.order_id,
            sku=sku,
            dealer_code=event.dealer_code,
            branch=event.branch,
            region=event.region,
            month=month,
            quantity=quantity,
        )


@demand.on(orders_events.OrderRejected)
def order_rejected(conn: Connection, envelope: Envelope, event) -> None:
    VOIDED_ORDERS.gather(conn, order_id=event.order_id, reason="rejected")


@demand.on(orders_events.OrderCancelled)
def order_cancelled(conn: Connection, envelope: Envelope, event) -> None:
    VOIDED_ORDERS.gather(conn, order_id=event.order_id, reason="cancelled")

"""The sales read model: quantities and amounts per business day x SKU x dealer, with the
dealer's branch and region and the SKU's category, so every roll-up is one GROUP BY.

This first cut counts orders as placed (``ordered_*``); invoiced net sales join it when
invoices exist (order-to-cash), as further measures of the same rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
)
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import orders as published
from projections.tracking import Projection

metadata = MetaData()

sales_daily = Table(
    "sales_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("dealer_code", String, primary_key=True),
    Column("category", String, nullable=False),
    Column("branch", String, nullable=False, index=True),
    Column("region", String, nullable=False, index=True),
    Column("order_lines", Integer, nullable=False),
    Column("ordered_quantity", BigInteger, nullable=False),
    Column("ordered_amount", Numeric(20, 2), nullable=False),
)

sales = Projection(name="sales", metadata=metadata, origins=("orders",))


# Built once (a statement per line costs more to construct than to execute); the increments
# come from the proposed row, so one statement serves every line.
_add_ordered = (
    insert(sales_daily)
    .values({column.name: bindparam(column.name) for column in sales_daily.columns})
    .on_conflict_do_update(
        index_elements=[sales_daily.c.day, sales_daily.c.sku, sales_daily.c.dealer_code],
        set_={
            name: sales_daily.c[name] + insert(sales_daily).excluded[name]
            for name in ("order_lines", "ordered_quantity", "ordered_amount")
        },
    )
)


@sales.on(published.OrderPlaced)
def order_placed(conn: Connection, envelope: Envelope, event: published.OrderPlaced) -> None:
    rows: dict[str, dict] = {}
    for line in event.lines:
        # One row per SKU: a multi-row upsert may not touch the same row twice.
        row = rows.get(line.sku)
        if row is None:
            rows[line.sku] = {
                "day": event.business_date,
                "sku": line.sku,
                "dealer_code": event.dealer_code,
                "category": line.category,
                "branch": event.branch,
                "region": event.region,
                "order_lines": 1,
                "ordered_quantity": line.quantity,
                "ordered_amount": line.amount,
            }
        else:
            row["order_lines"] += 1
            row["ordered_quantity"] += line.quantity
            row["ordered_amount"] += line.amount
    conn.execute(_add_ordered, list(rows.values()))

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


@sales.on(published.OrderPlaced)
def order_placed(conn: Connection, envelope: Envelope, event: published.OrderPlaced) -> None:
    for line in event.lines:
        statement = insert(sales_daily).values(
            day=event.business_date,
            sku=line.sku,
            dealer_code=event.dealer_code,
            category=line.category,
            branch=event.branch,
            region=event.region,
            order_lines=1,
            ordered_quantity=line.quantity,
            ordered_amount=line.amount,
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[sales_daily.c.day, sales_daily.c.sku, sales_daily.c.dealer_code],
                set_={
                    "order_lines": sales_daily.c.order_lines + 1,
                    "ordered_quantity": sales_daily.c.ordered_quantity + line.quantity,
                    "ordered_amount": sales_daily.c.ordered_amount + line.amount,
                },
            )
        )

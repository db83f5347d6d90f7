"""Stock counted before its warehouse's registration arrives (another aggregate, another
partition) is rolled up under the warehouse's branch and region once it does."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from contracts import Envelope
from contracts import inventory as inventory_events
from contracts.envelope import event_id
from contracts.types import Line
from projections.inventory.projection import inventory
from projections.inventory.queries import StockFilter, StockLevel, stock_levels
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine

pytestmark = pytest.mark.integration


def envelope(position: int, event) -> Envelope:
    return Envelope(
        id=event_id("inventory", position),
        source="inventory",
        type=str(event.event_type()),
        subject=f"inventory-{position}",
        time="2026-11-20T02:00:00Z",
        sequence=1,
        position=position,
        previousposition=position - 1,
        data=event.model_dump(mode="json"),
    )


def test_stock_received_before_its_warehouse_is_registered(settings):
    received = inventory_events.GoodsReceived(
        receipt_id="gr-1",
        warehouse_code="WH-CD",
        business_date="2026-11-02",
        lines=[Line(sku="WULIANGYE-52-500ML", quantity=120)],
    )
    registered = inventory_events.WarehouseRegistered(
        warehouse_id="wh-cd",
        code="WH-CD",
        name="Chengdu DC",
        kind="branch",
        branch="CD",
        region="SOUTHWEST",
    )
    engine = projections_engine(settings, "inventory_late", pool_size=1)
    try:
        create_tables(engine, "inventory_late", inventory)
        handler = SqlProjectionHandler(engine, inventory)
        for position, event in ((1, received), (2, registered)):
            with handler.open_batch() as batch:
                batch.apply(envelope(position, event))
        with engine.connect() as conn:
            for by in (StockLevel.REGION, StockLevel.BRANCH):
                rows, _ = stock_levels(
                    conn, by=by, where=StockFilter(), as_of=None, limit=10, cursor=None
                )
                assert [(r[by.value], r["on_hand"]) for r in rows] == [
                    ("SOUTHWEST" if by == StockLevel.REGION else "CD", 120)
                ]
            southwest, _ = stock_levels(
                conn,
                by=StockLevel.NATION,
                where=StockFilter(region="SOUTHWEST"),
                as_of=None,
                limit=10,
                cursor=None,
            )
            assert southwest[0]["available"] == 120
    finally:
        with engine.begin() as conn:
            conn.execute(text('DROP SCHEMA "inventory_late" CASCADE'))
        engine.dispose()

"""Stock counted before its warehouse's registration arrives (another aggregate, another
partition) is rolled up under the warehouse's branch and region once it does; stock moved by
events of an older version (stored before stock was valued) counts the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from contracts import Envelope
from contracts import inventory as inventory_events
from contracts.envelope import event_id
from projections.inventory.projection import inventory, stock
from projections.inventory.queries import StockFilter, StockLevel, stock_levels
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine
from runtime.consumer import Outcome

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
        lines=[
            inventory_events.ReceivedLine(
                sku="WULIANGYE-52-500ML", quantity=120, unit_cost="865.00", value="103800.00"
            )
        ],
        value="103800.00",
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


def receipt(
    receipt_id: str, sku: str, quantity: int, warehouse: str = "WH-CD"
) -> inventory_events.GoodsReceived:
    value = f"{865 * quantity}.00"
    return inventory_events.GoodsReceived(
        receipt_id=receipt_id,
        warehouse_code=warehouse,
        business_date="2026-11-02",
        lines=[
            inventory_events.ReceivedLine(
                sku=sku, quantity=quantity, unit_cost="865.00", value=value
            )
        ],
        value=value,
    )


def registration(code: str, name: str, branch: str) -> inventory_events.WarehouseRegistered:
    return inventory_events.WarehouseRegistered(
        warehouse_id=code.lower(),
        code=code,
        name=name,
        kind="branch",
        branch=branch,
        region="SOUTHWEST",
    )


def test_a_registration_in_the_same_batch_or_by_another_replica_reaches_later_stock(settings):
    """A warehouse not registered yet is looked up once per batch: a registration later in the
    batch, or applied by another replica before the next batch, reaches the stock moved after
    it."""
    schema = "inventory_replicas"
    engine = projections_engine(settings, schema, pool_size=1)
    other_engine = projections_engine(settings, schema, pool_size=1)
    try:
        create_tables(engine, schema, inventory)
        handler = SqlProjectionHandler(engine, inventory)
        other_replica = SqlProjectionHandler(other_engine, inventory)
        with handler.open_batch() as batch:
            batch.apply(envelope(1, receipt("gr-1", "WULIANGYE-52-500ML", 120)))
            batch.apply(envelope(2, receipt("gr-2", "WULIANGYE-52-500ML", 24)))
        with other_replica.open_batch() as batch:
            batch.apply(envelope(3, registration("WH-CD", "Chengdu DC", "CD")))
        with handler.open_batch() as batch:
            batch.apply(envelope(4, receipt("gr-4", "JIANNANCHUN-52-500ML", 60)))
            # In one batch: looked up, registered, moved again.
            batch.apply(envelope(5, receipt("gr-5", "WULIANGYE-52-500ML", 12, "WH-CQ")))
            batch.apply(envelope(6, registration("WH-CQ", "Chongqing DC", "CQ")))
            batch.apply(envelope(7, receipt("gr-7", "JIANNANCHUN-52-500ML", 6, "WH-CQ")))
        with engine.connect() as conn:
            rows = conn.execute(
                select(stock.c.warehouse_code, stock.c.region, stock.c.sku, stock.c.on_hand)
            ).all()
        assert sorted(tuple(row) for row in rows) == [
            ("WH-CD", "SOUTHWEST", "JIANNANCHUN-52-500ML", 60),
            ("WH-CD", "SOUTHWEST", "WULIANGYE-52-500ML", 144),
            ("WH-CQ", "SOUTHWEST", "JIANNANCHUN-52-500ML", 6),
            ("WH-CQ", "SOUTHWEST", "WULIANGYE-52-500ML", 12),
        ]
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
        other_engine.dispose()


def test_movements_published_before_stock_was_valued_still_count(settings):
    """Envelopes as inventory published them in v1 (tests/fixtures): upcast, then applied."""
    fixture = Path(__file__).parents[1] / "fixtures" / "inventory-events-v1.jsonl"
    stored = [Envelope.model_validate_json(line) for line in fixture.read_text().splitlines()]
    engine = projections_engine(settings, "inventory_v1", pool_size=1)
    try:
        create_tables(engine, "inventory_v1", inventory)
        handler = SqlProjectionHandler(engine, inventory)
        with handler.open_batch() as batch:
            outcomes = [result.outcome for result in batch.apply_all(stored)]
        assert outcomes == [Outcome.APPLIED, Outcome.APPLIED]
        with engine.connect() as conn:
            rows, _ = stock_levels(
                conn,
                by=StockLevel.WAREHOUSE,
                where=StockFilter(),
                as_of=None,
                limit=10,
                cursor=None,
            )
        assert {r["sku"]: r["on_hand"] for r in rows} == {
            "JIANNANCHUN-52-500ML": 60,
            "WULIANGYE-52-500ML": 120 - 12,
        }
    finally:
        with engine.begin() as conn:
            conn.execute(text('DROP SCHEMA "inventory_v1" CASCADE'))
        engine.dispose()


def test_transfers_stocktakes_damage_and_sell_through_add_up_in_any_order(settings):
    """The same events in the order they happened and reversed (another partition, another
    topic) give the same stock, in transit, damaged and consignment figures."""
    from projections.inventory.queries import ConsignmentFilter, consignment_stock
    from tests.platform import envelopes_of

    sku = "WULIANGYE-52-500ML"
    line = {"sku": sku, "quantity": 24, "cost": "20760.00"}
    events = [
        inventory_events.WarehouseRegistered(
            warehouse_id="wh-csg",
            code="WH-CSG-CD-001",
            name="Jinjiang consignment store",
            kind="consignment",
            branch="CD",
            region="SOUTHWEST",
            dealer_code="CD-001",
        ),
        inventory_events.TransferDispatched(
            transfer_id="tr-1",
            from_warehouse="WH-CD",
            to_warehouse="WH-CSG-CD-001",
            ship_date="2026-11-10",
            lines=[line],
            cost="20760.00",
        ),
        inventory_events.TransferReceived(
            transfer_id="tr-1",
            from_warehouse="WH-CD",
            to_warehouse="WH-CSG-CD-001",
            received_on="2026-11-11",
            lines=[
                inventory_events.ArrivedLine(
                    sku=sku,
                    dispatched=24,
                    received=22,
                    damaged=1,
                    cost="20760.00",
                    value="19895.00",
                    difference="-865.00",
                    reason="damaged_in_transit",
                    note=None,
                )
            ],
            cost="20760.00",
            value="19895.00",
            difference="-865.00",
        ),
        inventory_events.ConsignmentSellThroughReported(
            report_id="st-1",
            warehouse_code="WH-CSG-CD-001",
            dealer_code="CD-001",
            branch="CD",
            period_from="2026-11-01",
            period_to="2026-11-15",
            lines=[{"sku": sku, "quantity": 10, "cost": "8650.00"}],
            cost="8650.00",
        ),
        inventory_events.StocktakePosted(
            stocktake_id="sk-1",
            warehouse_code="WH-CD",
            count_date="2026-11-20",
            posted_on="2026-11-21",
            lines=[
                inventory_events.CountedLine(
                    sku=sku, book=76, counted=75, variance=-1, value="-865.00", reason="breakage"
                )
            ],
            value="-865.00",
        ),
        inventory_events.StockDamaged(
            warehouse_code="WH-CD",
            sku=sku,
            quantity=3,
            document_id="dm-1",
            reason="labels torn",
            business_date="2026-11-22",
        ),
        inventory_events.DamagedStockWrittenOff(
            warehouse_code="WH-CD",
            sku=sku,
            quantity=2,
            cost="1730.00",
            document_id="wo-1",
            reason="labels torn",
            business_date="2026-11-23",
        ),
    ]
    envelopes = envelopes_of(events)
    results = []
    for number, order in enumerate((envelopes, list(reversed(envelopes)))):
        schema = f"inventory_moves_{number}"
        engine = projections_engine(settings, schema, pool_size=1)
        try:
            create_tables(engine, schema, inventory)
            handler = SqlProjectionHandler(engine, inventory)
            for envelope in order:  # one batch each: nothing gathered across them
                with handler.open_batch() as batch:
                    batch.apply(envelope)
            with engine.connect() as conn:
                rows, _ = stock_levels(
                    conn,
                    by=StockLevel.WAREHOUSE,
                    where=StockFilter(),
                    as_of=None,
                    limit=10,
                    cursor=None,
                )
                consigned, _ = consignment_stock(
                    conn, where=ConsignmentFilter(), limit=10, cursor=None
                )
            results.append((rows, consigned))
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    assert results[0] == results[1]
    rows, consigned = results[0]
    figures = {r["warehouse"]: (r["on_hand"], r["damaged"], r["in_transit"]) for r in rows}
    assert figures == {"WH-CD": (-24 - 1 - 2, 1, 0), "WH-CSG-CD-001": (13, 1, 0)}
    assert [(c["dealer"], c["on_hand"], c["sold"]) for c in consigned] == [("CD-001", 13, 10)]

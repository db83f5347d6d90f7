"""Busy aggregates (a SKU's stock, a dealer's account) are read from their latest snapshot
plus the events after it, and read the same as from their whole history. Real PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg2
import pytest

from runtime.eventstore import Provenance
from services.inventory.application import InventoryApplication, ReceiveGoods, RegisterWarehouse
from services.inventory.domain import StockItem
from tests.integration.master_data import known_to, organisation, product

pytestmark = pytest.mark.integration

CLERK = Provenance(actor="Liu Yang", role="warehouse_clerk")


def test_a_busy_stock_item_is_read_from_its_snapshot_and_reads_the_same(settings):
    app = InventoryApplication(settings)
    try:
        known_to(app, *organisation(), product("WULIANGYE-52-500ML"))
        app.register_warehouse(
            RegisterWarehouse("WH-CD", "Chengdu DC", "branch", "CD", "SOUTHWEST"),
            by=CLERK,
            idempotency=None,
        )
        for day in range(1, 121):
            app.receive_goods(
                ReceiveGoods(
                    "WH-CD",
                    date(2026, 11, 1),
                    {"WULIANGYE-52-500ML": day},
                    {"WULIANGYE-52-500ML": Decimal("865.00")},
                ),
                by=CLERK,
                warehouse_scope=None,
                idempotency=None,
            )
        item_id = StockItem.create_id("WH-CD", "WULIANGYE-52-500ML")
        conn = psycopg2.connect(settings.postgres().dsn())
        with conn, conn.cursor() as curs:
            curs.execute(
                "SELECT originator_version FROM inventory.inventory_snapshots "
                "WHERE originator_id = %s ORDER BY 1",
                (item_id,),
            )
            assert [row[0] for row in curs.fetchall()] == [50, 100]
        conn.close()
        expected = sum(range(1, 121))
        [from_snapshot] = app.get_many([item_id]).values()
        assert from_snapshot.on_hand == expected and from_snapshot.version == 121
        assert app.repository.get(item_id).on_hand == expected
        assert (
            app.stock_items("WH-CD", ["WULIANGYE-52-500ML"], create=False)[
                "WULIANGYE-52-500ML"
            ].available
            == expected
        )
    finally:
        app.close()

"""Stock valued at cost through the running services: goods receipts carry their unit cost,
shipments the moving average cost of what they take, and both publish it (GoodsReceived and
ShipmentDispatched v2). Stock recorded before valuation (v1 domain events and snapshots in
the event store) still reads. Real PostgreSQL, the real broker, HTTP."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import psycopg2
import pytest

from runtime.eventstore import Provenance
from services.inventory.application import InventoryApplication, ReceiveGoods, RegisterWarehouse
from services.inventory.domain import StockItem
from tests.integration.master_data import known_to, organisation, product
from tests.integration.saga import CHENGDU_WAREHOUSE, WULIANGYE, ok, running_company
from tests.platform import command, published

pytestmark = pytest.mark.integration


def test_a_shipment_takes_the_moving_average_cost_and_publishes_it(settings):
    with running_company(settings) as company:
        company.receive(WULIANGYE, 100, unit_cost="800.00")
        company.receive(WULIANGYE, 50, unit_cost="830.00")
        assert company.stock(WULIANGYE)["value"] == "121500.00"
        company.credit_terms("CD-001", "100000.00")
        order_id = company.place({WULIANGYE: 30})["order_id"]
        company.wait_status(order_id, "approved")
        company.wait_shippable(order_id)
        shipment = ok(company.ship(order_id, {WULIANGYE: 30}))
        assert shipment["lines"] == [{"sku": WULIANGYE, "quantity": 30, "cost": "24300.00"}]
        assert company.stock(WULIANGYE)["value"] == "97200.00"

        received = published(settings, "inventory", "GoodsReceived")
        assert [e["type"] for e in received] == ["dist.inventory.GoodsReceived.v2"] * 2
        assert [e["data"]["lines"] for e in received] == [
            [{"sku": WULIANGYE, "quantity": 100, "unit_cost": "800.00", "value": "80000.00"}],
            [{"sku": WULIANGYE, "quantity": 50, "unit_cost": "830.00", "value": "41500.00"}],
        ]
        [dispatched] = published(settings, "inventory", "ShipmentDispatched")
        assert dispatched["type"] == "dist.inventory.ShipmentDispatched.v2"
        assert dispatched["data"]["cost"] == "24300.00"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"sku": WULIANGYE, "quantity": 12}, ["body", "lines", 0, "unit_cost"]),
        (
            {"sku": WULIANGYE, "quantity": 12, "unit_cost": "-1.00"},
            ["body", "lines", 0, "unit_cost"],
        ),
        (
            {"sku": WULIANGYE, "quantity": 12, "unit_cost": "865.001"},
            ["body", "lines", 0, "unit_cost"],
        ),
        ({"sku": WULIANGYE, "quantity": 12, "unit_cost": 865.0}, ["body", "lines", 0, "unit_cost"]),
    ],
    ids=["missing", "negative", "three places", "a float"],
)
def test_a_goods_receipt_without_a_proper_unit_cost_is_refused(settings, line, field):
    with running_company(settings, with_finance=False) as company:
        body = {"warehouse_code": "WH-CD", "lines": [line]}
        response = command(company.inventory, "/goods-receipts", body, headers=CHENGDU_WAREHOUSE)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "invalid_request"
        assert any(error["path"] == ".".join(map(str, field)) for error in problem["errors"]), (
            problem
        )
        assert company.stock(WULIANGYE)["on_hand"] == 0


def test_one_sku_at_two_unit_costs_in_one_receipt_is_refused(settings):
    with running_company(settings, with_finance=False) as company:
        lines = [
            {"sku": WULIANGYE, "quantity": 12, "unit_cost": "865.00"},
            {"sku": WULIANGYE, "quantity": 6, "unit_cost": "870.00"},
        ]
        body = {"warehouse_code": "WH-CD", "lines": lines}
        response = command(company.inventory, "/goods-receipts", body, headers=CHENGDU_WAREHOUSE)
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "request_rule_violated"
        assert "two unit costs" in response.json()["detail"]
        assert company.stock(WULIANGYE)["on_hand"] == 0


CLERK = Provenance(actor="Liu Yang", role="warehouse_clerk")


def as_recorded_before_valuation(settings, item_id) -> None:
    """Rewrite a stock item's stored events and snapshots as the code before valuation
    wrote them: no unit cost on receipts, no cost on shipments, no value in snapshots, and
    no class versions."""
    dropped = {"unit_cost", "cost", "value", "class_version"}
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn, conn.cursor() as curs:
            for table in ("inventory_events", "inventory_snapshots"):
                curs.execute(
                    f"SELECT originator_version, state FROM inventory.{table} "
                    "WHERE originator_id = %s",
                    (item_id,),
                )
                for version, state in curs.fetchall():
                    old = {k: v for k, v in json.loads(bytes(state)).items() if k not in dropped}
                    if "state" in old:  # a snapshot: the aggregate's own state inside
                        old["state"] = {k: v for k, v in old["state"].items() if k not in dropped}
                    curs.execute(
                        f"UPDATE inventory.{table} SET state = %s "
                        "WHERE originator_id = %s AND originator_version = %s",
                        (json.dumps(old).encode(), item_id, version),
                    )
    finally:
        conn.close()


def test_stock_recorded_before_valuation_reads_and_counts_at_zero_cost(settings):
    app = InventoryApplication(settings)
    try:
        known_to(app, *organisation(), product(WULIANGYE))
        app.register_warehouse(
            RegisterWarehouse("WH-CD", "Chengdu DC", "branch", "CD", "SOUTHWEST"),
            by=CLERK,
            idempotency=None,
        )
        for _ in range(60):  # past the snapshot interval (50)
            app.receive_goods(
                ReceiveGoods("WH-CD", date(2026, 6, 2), {WULIANGYE: 2}, {WULIANGYE: Decimal("1")}),
                by=CLERK,
                warehouse_scope=None,
                idempotency=None,
            )
        item_id = StockItem.create_id("WH-CD", WULIANGYE)
        as_recorded_before_valuation(settings, item_id)

        for read in (app.repository.get(item_id), *app.get_many([item_id]).values()):
            assert (read.on_hand, read.value, read.version) == (120, Decimal("0.00"), 61)
        app.receive_goods(
            ReceiveGoods(
                "WH-CD", date(2026, 11, 2), {WULIANGYE: 30}, {WULIANGYE: Decimal("865.00")}
            ),
            by=CLERK,
            warehouse_scope=None,
            idempotency=None,
        )
        item = app.repository.get(item_id)
        assert (item.on_hand, item.value) == (150, Decimal("25950.00"))
    finally:
        app.close()

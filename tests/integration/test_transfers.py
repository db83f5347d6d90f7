"""Stock that moves without an order, over HTTP on the running inventory process (real
PostgreSQL): transfers with an in-transit leg (调拨), damaged stock and its write-off (残损),
stocktakes (盘点) and consignment stock at a dealer with its sell-through (寄售)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError

from runtime.eventstore import Provenance
from services.inventory import bootstrap as inventory_process
from services.inventory.application import (
    HEADQUARTERS,
    DispatchTransfer,
    InventoryApplication,
    ReceiveGoods,
    RegisterWarehouse,
)
from services.inventory.domain import StockItem
from tests.integration.master_data import dealer, known_to, organisation, product
from tests.integration.saga import ok
from tests.platform import CHENGDU_CLERK, HQ, SHANGHAI_CLERK, command, serving

pytestmark = pytest.mark.integration

WULIANGYE = "WULIANGYE-52-500ML"
JIANNANCHUN = "JIANNANCHUN-52-500ML"
CHENGDU_WAREHOUSE = {"Authorization": "Bearer demo-chengdu-warehouse"}  # WH-CD
CHENGDU_MANAGER = {"Authorization": "Bearer demo-chengdu-manager"}
DEALER_CD001 = {"Authorization": "Bearer demo-dealer-cd001"}

WAREHOUSES = [
    {"code": "WH-CENTRAL", "name": "Yibin Central Warehouse", "kind": "central"},
    {
        "code": "WH-CD",
        "name": "Chengdu Branch Warehouse",
        "kind": "branch",
        "branch": "CD",
        "region": "SOUTHWEST",
    },
    {
        "code": "WH-CSG-CD-001",
        "name": "Jinjiang Wine Trading consignment store",
        "kind": "consignment",
        "branch": "CD",
        "region": "SOUTHWEST",
        "dealer_code": "CD-001",
    },
]


# What inventory knows of orders' registry and catalogue (its replica).
MASTER_DATA = (
    *organisation(),
    dealer("CD-001"),
    product(WULIANGYE),
    product(JIANNANCHUN, list_price="458.50"),
)


@pytest.fixture
def inventory(settings):
    process = inventory_process.build(settings)
    known_to(process.api.state.application, *MASTER_DATA)
    with serving(process) as client:
        for warehouse in WAREHOUSES:
            ok(command(client, "/warehouses", warehouse, headers=HQ))
        yield client


def receive(inventory, warehouse: str, sku: str, quantity: int, unit_cost: str = "865.00"):
    body = {
        "warehouse_code": warehouse,
        "business_date": "2026-11-02",
        "lines": [{"sku": sku, "quantity": quantity, "unit_cost": unit_cost}],
    }
    return ok(command(inventory, "/goods-receipts", body, headers=HQ))


def stock(inventory, warehouse: str, sku: str = WULIANGYE) -> dict:
    return ok(inventory.get(f"/stock/{warehouse}/{sku}", headers=HQ))


def dispatch(inventory, lines: dict[str, int], *, headers=HQ, key=None, **route):
    body = {
        "from_warehouse": route.get("source", "WH-CENTRAL"),
        "to_warehouse": route.get("destination", "WH-CD"),
        "ship_date": "2026-11-20",
        "lines": [{"sku": s, "quantity": q} for s, q in lines.items()],
    }
    return command(inventory, "/transfers", body, headers=headers, key=key)


def receipt(inventory, transfer_id: str, lines: list[dict], *, headers=HQ, key=None):
    body = {"received_on": "2026-11-22", "lines": lines}
    return command(inventory, f"/transfers/{transfer_id}/receipt", body, headers=headers, key=key)


class TestTransfers:
    def test_a_transfer_travels_at_cost_and_arrives_short_with_a_transit_loss(self, inventory):
        receive(inventory, "WH-CENTRAL", WULIANGYE, 100)
        sent = ok(dispatch(inventory, {WULIANGYE: 30}))
        assert (sent["status"], sent["cost"]) == ("in_transit", "25950.00")
        assert stock(inventory, "WH-CENTRAL")["value"] == "60550.00"
        at_chengdu = stock(inventory, "WH-CD")
        assert (at_chengdu["on_hand"], at_chengdu["in_transit"]) == (0, 30)
        assert at_chengdu["in_transit_value"] == "25950.00"

        arrived = ok(
            receipt(
                inventory,
                sent["transfer_id"],
                [
                    {
                        "sku": WULIANGYE,
                        "received": 27,
                        "damaged": 2,
                        "reason": "damaged_in_transit",
                        "note": "two bottles broken, one missing",
                    }
                ],
            )
        )
        [line] = arrived["lines"]
        assert (line["received"], line["damaged"], line["value"], line["difference"]) == (
            27,
            2,
            "25085.00",
            "-865.00",
        )
        at_chengdu = stock(inventory, "WH-CD")
        assert {k: at_chengdu[k] for k in ("on_hand", "damaged", "available", "in_transit")} == {
            "on_hand": 29,
            "damaged": 2,
            "available": 27,
            "in_transit": 0,
        }
        assert (at_chengdu["value"], at_chengdu["in_transit_value"]) == ("25085.00", "0.00")

    def test_no_more_than_available_at_the_source_leaves_and_nothing_changes(self, inventory):
        receive(inventory, "WH-CENTRAL", WULIANGYE, 10)
        refused = dispatch(inventory, {WULIANGYE: 8, JIANNANCHUN: 1})
        assert refused.status_code == 409
        assert refused.json()["code"] == "insufficient_stock"
        refused = dispatch(inventory, {WULIANGYE: 11})
        assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
        assert stock(inventory, "WH-CENTRAL")["on_hand"] == 10
        assert stock(inventory, "WH-CD")["in_transit"] == 0

    def test_a_discrepancy_needs_its_reason(self, inventory):
        receive(inventory, "WH-CENTRAL", WULIANGYE, 10)
        sent = ok(dispatch(inventory, {WULIANGYE: 10}))
        short = receipt(inventory, sent["transfer_id"], [{"sku": WULIANGYE, "received": 9}])
        assert (short.status_code, short.json()["code"]) == (409, "discrepancy_reason_required")
        bad = receipt(
            inventory,
            sent["transfer_id"],
            [{"sku": WULIANGYE, "received": 9, "reason": "fell off the lorry"}],
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["path"] == "body.lines.0.reason"
        assert stock(inventory, "WH-CD")["in_transit"] == 10

    def test_a_transfer_is_received_once_and_a_replay_returns_the_first_answer(self, inventory):
        receive(inventory, "WH-CENTRAL", WULIANGYE, 10)
        sent = ok(dispatch(inventory, {WULIANGYE: 10}))
        lines = [{"sku": WULIANGYE, "received": 10}]
        first = receipt(inventory, sent["transfer_id"], lines, key="rcv-tr-0001")
        assert first.status_code == 200
        replay = receipt(inventory, sent["transfer_id"], lines, key="rcv-tr-0001")
        assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()
        again = receipt(inventory, sent["transfer_id"], lines)
        assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
        assert stock(inventory, "WH-CD")["on_hand"] == 10

    def test_scope_a_clerk_dispatches_from_its_own_warehouse(self, inventory):
        receive(inventory, "WH-CENTRAL", WULIANGYE, 10)
        receive(inventory, "WH-CD", WULIANGYE, 10)
        outside = dispatch(inventory, {WULIANGYE: 1}, headers=CHENGDU_WAREHOUSE)
        assert outside.status_code == 403
        own = dispatch(
            inventory,
            {WULIANGYE: 1},
            headers=CHENGDU_WAREHOUSE,
            source="WH-CD",
            destination="WH-CENTRAL",
        )
        assert own.status_code == 201, own.text
        unknown = inventory.get(f"/transfers/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=HQ)
        assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_transfer")

    def test_a_transfer_and_a_reservation_meet_on_the_stock_items_version(self, settings):
        clerk = Provenance(actor="Liu Yang", role="warehouse_clerk")
        app = InventoryApplication(settings)
        try:
            known_to(app, *MASTER_DATA)
            for code, kind, branch in (("WH-CENTRAL", "central", None), ("WH-CD", "branch", "CD")):
                app.register_warehouse(
                    RegisterWarehouse(code, code, kind, branch, None), by=clerk, idempotency=None
                )
            costs = {WULIANGYE: Decimal("865.00")}
            app.receive_goods(
                ReceiveGoods("WH-CENTRAL", date(2026, 11, 2), {WULIANGYE: 10}, costs),
                by=clerk,
                warehouse_scope=None,
                idempotency=None,
            )
            item_id = StockItem.create_id("WH-CENTRAL", WULIANGYE)
            read_by_the_saga = app.get_many([item_id])[item_id]
            app.dispatch_transfer(
                DispatchTransfer("WH-CENTRAL", "WH-CD", date(2026, 11, 20), {WULIANGYE: 8}),
                by=clerk,
                scope=HEADQUARTERS,
                idempotency=None,
            )
            read_by_the_saga.reserve("order-1", 5)  # on stale state: 10 available
            with pytest.raises(IntegrityError):
                app.save(read_by_the_saga)
            fresh = app.repository.get(item_id)
            assert (fresh.on_hand, fresh.reserved, fresh.available) == (2, 0, 2)
        finally:
            app.close()


class TestDamagedStock:
    def test_damaged_stock_is_found_then_written_off_at_cost(self, inventory):
        receive(inventory, "WH-CD", WULIANGYE, 100)
        body = {"quantity": 4, "reason": "labels torn in a leak", "business_date": "2026-11-20"}
        damaged = ok(
            command(inventory, f"/stock/WH-CD/{WULIANGYE}/damage", body, headers=CHENGDU_WAREHOUSE)
        )
        assert (damaged["damaged"], damaged["available"], damaged["value"]) == (4, 96, "86500.00")
        clerk = command(
            inventory, f"/stock/WH-CD/{WULIANGYE}/write-off", body, headers=CHENGDU_WAREHOUSE
        )
        assert clerk.status_code == 403  # a manager decides
        written = ok(
            command(inventory, f"/stock/WH-CD/{WULIANGYE}/write-off", body, headers=CHENGDU_MANAGER)
        )
        assert (written["cost"], written["on_hand"], written["damaged"]) == ("3460.00", 96, 0)
        assert written["value"] == "83040.00"
        too_many = command(
            inventory, f"/stock/WH-CD/{WULIANGYE}/write-off", body, headers=CHENGDU_MANAGER
        )
        assert (too_many.status_code, too_many.json()["code"]) == (
            409,
            "insufficient_damaged_stock",
        )

    def test_only_available_stock_is_marked_damaged(self, inventory):
        receive(inventory, "WH-CD", WULIANGYE, 3)
        body = {"quantity": 4, "reason": "broken"}
        refused = command(inventory, f"/stock/WH-CD/{WULIANGYE}/damage", body, headers=HQ)
        assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
        shanghai = command(
            inventory, f"/stock/WH-CD/{WULIANGYE}/damage", body, headers=SHANGHAI_CLERK
        )
        assert shanghai.status_code == 403


def open_sheet(inventory, skus: list[str], headers=HQ) -> dict:
    body = {"warehouse_code": "WH-CD", "count_date": "2026-11-25", "skus": skus}
    return ok(command(inventory, "/stocktakes", body, headers=headers))


def count(inventory, sheet: dict, lines: list[dict]):
    return command(
        inventory, f"/stocktakes/{sheet['stocktake_id']}/counts", {"lines": lines}, headers=HQ
    )


def post_sheet(inventory, sheet: dict, headers=HQ, key=None):
    return command(
        inventory,
        f"/stocktakes/{sheet['stocktake_id']}/posting",
        {"posted_on": "2026-11-26"},
        headers=headers,
        key=key,
    )


class TestStocktakes:
    def test_variances_against_the_book_at_opening_post_at_moving_average(self, inventory):
        receive(inventory, "WH-CD", WULIANGYE, 100)
        receive(inventory, "WH-CD", JIANNANCHUN, 40, unit_cost="296.40")
        sheet = open_sheet(inventory, [WULIANGYE, JIANNANCHUN], headers=CHENGDU_WAREHOUSE)
        assert [(line["sku"], line["book"]) for line in sheet["lines"]] == [
            (JIANNANCHUN, 40),
            (WULIANGYE, 100),
        ]
        ok(count(inventory, sheet, [{"sku": WULIANGYE, "counted": 97, "reason": "theft_or_loss"}]))
        incomplete = post_sheet(inventory, sheet)
        assert (incomplete.status_code, incomplete.json()["code"]) == (409, "count_incomplete")
        unexplained = count(inventory, sheet, [{"sku": JIANNANCHUN, "counted": 41}])
        assert unexplained.status_code == 200
        refused = post_sheet(inventory, sheet)
        assert (refused.status_code, refused.json()["code"]) == (409, "variance_reason_required")
        ok(count(inventory, sheet, [{"sku": JIANNANCHUN, "counted": 41, "reason": "count_error"}]))
        # Stock moved between opening and posting: its own document, kept.
        receive(inventory, "WH-CD", WULIANGYE, 20)
        clerk = post_sheet(inventory, sheet, headers=CHENGDU_WAREHOUSE)
        assert clerk.status_code == 403  # a manager posts
        posted = ok(post_sheet(inventory, sheet, headers=CHENGDU_MANAGER, key="post-st-1"))
        assert posted["status"] == "posted"
        assert {line["sku"]: (line["variance"], line["value"]) for line in posted["lines"]} == {
            WULIANGYE: (-3, "-2595.00"),
            JIANNANCHUN: (1, "296.40"),
        }
        assert stock(inventory, "WH-CD")["on_hand"] == 117  # 100 + 20 received - 3
        assert stock(inventory, "WH-CD", JIANNANCHUN)["value"] == "12152.40"
        again = post_sheet(inventory, sheet)
        assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
        replay = post_sheet(inventory, sheet, headers=CHENGDU_MANAGER, key="post-st-1")
        assert replay.json() == posted

    def test_a_sku_not_on_the_sheet_and_a_bad_count_are_refused(self, inventory):
        sheet = open_sheet(inventory, [WULIANGYE])
        other = count(inventory, sheet, [{"sku": JIANNANCHUN, "counted": 1}])
        assert (other.status_code, other.json()["code"]) == (409, "not_on_count_sheet")
        negative = count(inventory, sheet, [{"sku": WULIANGYE, "counted": -1}])
        assert negative.status_code == 422
        assert negative.json()["errors"][0]["path"] == "body.lines.0.counted"


class TestConsignment:
    def test_stock_reaches_the_dealer_by_transfer_and_its_sell_through_leaves_at_cost(
        self, inventory
    ):
        receive(inventory, "WH-CD", WULIANGYE, 100)
        sent = ok(dispatch(inventory, {WULIANGYE: 24}, source="WH-CD", destination="WH-CSG-CD-001"))
        ok(
            receipt(
                inventory,
                sent["transfer_id"],
                [{"sku": WULIANGYE, "received": 24}],
                headers=DEALER_CD001,
            )
        )
        held = stock(inventory, "WH-CSG-CD-001")
        assert (held["on_hand"], held["value"]) == (24, "20760.00")

        report = {
            "period_from": "2026-11-01",
            "period_to": "2026-11-30",
            "lines": [{"sku": WULIANGYE, "quantity": 10}],
        }
        path = "/warehouses/WH-CSG-CD-001/sell-through"
        sold = ok(command(inventory, path, report, headers=DEALER_CD001))
        assert (sold["dealer_code"], sold["cost"]) == ("CD-001", "8650.00")
        assert stock(inventory, "WH-CSG-CD-001")["on_hand"] == 14
        twice = command(inventory, path, report, headers=CHENGDU_CLERK)
        assert (twice.status_code, twice.json()["code"]) == (409, "sell_through_already_reported")
        too_many = {**report, "period_from": "2026-12-01", "period_to": "2026-12-31"}
        too_many["lines"] = [{"sku": WULIANGYE, "quantity": 15}]
        refused = command(inventory, path, too_many, headers=DEALER_CD001)
        assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
        backwards = {**report, "period_from": "2026-12-31"}
        answer = command(inventory, path, backwards, headers=DEALER_CD001)
        assert answer.status_code == 409  # each field is valid; together they break a rule
        assert answer.json()["code"] == "request_rule_violated"
        assert command(inventory, path, too_many, headers=SHANGHAI_CLERK).status_code == 403
        branch = command(inventory, "/warehouses/WH-CD/sell-through", too_many, headers=HQ)
        assert (branch.status_code, branch.json()["code"]) == (
            409,
            "not_a_consignment_warehouse",
        )

    def test_a_consignment_warehouse_names_its_dealer(self, inventory):
        body = {**WAREHOUSES[2], "code": "WH-CSG-CD-002", "dealer_code": None}
        refused = command(inventory, "/warehouses", body, headers=HQ)
        assert (refused.status_code, refused.json()["code"]) == (409, "dealer_required")
        read = ok(inventory.get("/warehouses/WH-CSG-CD-001", headers=HQ))
        assert (read["kind"], read["dealer_code"]) == ("consignment", "CD-001")

    def test_a_dealer_receives_only_into_its_own_consignment_warehouse(self, inventory):
        receive(inventory, "WH-CENTRAL", WULIANGYE, 10)
        sent = ok(dispatch(inventory, {WULIANGYE: 5}))  # to WH-CD
        refused = receipt(
            inventory,
            sent["transfer_id"],
            [{"sku": WULIANGYE, "received": 5}],
            headers=DEALER_CD001,
        )
        assert refused.status_code == 403

"""Headquarters' inventory read model over HTTP: stock per warehouse and SKU from the
inventory topic, roll-ups by branch, region and the nation, the below-safety list, stock as
of a past business date, branch scoping and read-your-writes. Real PostgreSQL and broker."""

from __future__ import annotations

import pytest

from projections import bootstrap as query_process
from tests.integration.saga import JIANNANCHUN, WULIANGYE, ok, running_company
from tests.platform import HQ, command, command_when_known, serving

pytestmark = pytest.mark.integration

CHENGDU_CLERK = {"Authorization": "Bearer demo-chengdu-clerk"}
SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}


def receive(company, warehouse: str, sku: str, quantity: int, day: str) -> dict:
    body = {
        "warehouse_code": warehouse,
        "business_date": day,
        "lines": [{"sku": sku, "quantity": quantity, "unit_cost": "865.00"}],
    }
    return ok(command_when_known(company.inventory, "/goods-receipts", body, headers=HQ))


def test_stock_levels_roll_ups_safety_and_as_of(settings):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        central = {"code": "WH-CENTRAL", "name": "Yibin Central", "kind": "central"}
        ok(command(company.inventory, "/warehouses", central, headers=HQ))
        receive(company, "WH-CD", WULIANGYE, 100, "2026-11-01")
        receive(company, "WH-CD", JIANNANCHUN, 40, "2026-11-01")
        receive(company, "WH-CENTRAL", WULIANGYE, 1000, "2026-11-02")
        safety = ok(
            command(
                company.inventory,
                f"/stock/WH-CD/{JIANNANCHUN}/safety-stock",
                {"quantity": 50},
                headers=HQ,
            )
        )
        company.credit_terms("CD-001", "1000000.00")
        order_id = company.place({WULIANGYE: 30})["order_id"]
        company.wait_status(order_id, "approved")
        company.wait_shippable(order_id)
        shipped = ok(company.ship(order_id, {WULIANGYE: 20}, ship_date="2026-11-05"))

        def inventory(path: str = "/hq/inventory", headers=HQ, **params) -> dict:
            return ok(query.get(path, params=params, headers=headers))

        # Read your writes: the shipment's position, then the figures it produced.
        now = inventory(by="warehouse", min_position=shipped["position"])
        cd = {row["sku"]: row for row in now["items"] if row["warehouse"] == "WH-CD"}
        assert cd[WULIANGYE] == {
            "warehouse": "WH-CD",
            "sku": WULIANGYE,
            "on_hand": 80,
            "reserved": 10,
            "damaged": 0,
            "available": 70,
            "in_transit": 0,
            "safety_stock": 0,
            "below_safety": False,
        }
        assert cd[JIANNANCHUN]["below_safety"] is True  # 40 available, 50 wanted
        below = inventory(below_safety="true", min_position=safety["position"])
        assert [(r["warehouse"], r["sku"]) for r in below["items"]] == [("WH-CD", JIANNANCHUN)]

        by_branch = inventory(by="branch", sku=WULIANGYE)["items"]
        assert [(r["branch"], r["on_hand"]) for r in by_branch] == [(None, 1000), ("CD", 80)]
        by_region = inventory(by="region", sku=WULIANGYE)["items"]
        assert [(r["region"], r["on_hand"]) for r in by_region] == [(None, 1000), ("SOUTHWEST", 80)]
        [nation] = inventory(by="nation", sku=WULIANGYE)["items"]
        assert (nation["nation"], nation["on_hand"], nation["available"]) == ("CN", 1080, 1070)

        # As of a past business date: before the shipment of the 5th, before the central
        # warehouse's receipt of the 2nd.
        before_shipping = inventory(as_of="2026-11-04", warehouse="WH-CD", sku=WULIANGYE)
        assert before_shipping["items"][0]["on_hand"] == 100
        first_day = inventory(as_of="2026-11-01", by="nation", sku=WULIANGYE)["items"]
        assert first_day[0]["on_hand"] == 100
        assert inventory(as_of="2026-10-31")["items"] == []

        # Pagination, and a branch sees only its own warehouses.
        page = inventory(limit=1)
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = inventory(limit=10, cursor=page["next_cursor"])["items"]
        assert len(rest) == 2
        branch = inventory("/branches/CD/inventory", headers=CHENGDU_CLERK)["items"]
        assert {r["warehouse"] for r in branch} == {"WH-CD"}
        outside = query.get("/branches/CD/inventory", headers=SHANGHAI_CLERK)
        assert outside.status_code == 403
        national = query.get("/hq/inventory", headers=CHENGDU_CLERK)
        assert national.status_code == 403


DEALER_CD001 = {"Authorization": "Bearer demo-dealer-cd001"}
CONSIGNMENT = {
    "code": "WH-CSG-CD-001",
    "name": "Jinjiang Wine Trading consignment store",
    "kind": "consignment",
    "branch": "CD",
    "region": "SOUTHWEST",
    "dealer_code": "CD-001",
}


def test_in_transit_damaged_and_consignment_stock_with_sell_through(settings):
    with (
        running_company(settings, with_finance=False) as company,
        serving(query_process.build(settings)) as query,
    ):
        inv = company.inventory
        ok(command_when_known(inv, "/warehouses", CONSIGNMENT, headers=HQ))
        receive(company, "WH-CD", WULIANGYE, 100, "2026-11-01")
        to_dealer = {
            "from_warehouse": "WH-CD",
            "to_warehouse": "WH-CSG-CD-001",
            "ship_date": "2026-11-10",
            "lines": [{"sku": WULIANGYE, "quantity": 24}],
        }
        sent = ok(command(inv, "/transfers", to_dealer, headers=HQ))

        def inventory(path: str = "/hq/inventory", headers=HQ, **params) -> dict:
            return ok(query.get(path, params=params, headers=headers))

        rows = inventory(sku=WULIANGYE, min_position=sent["position"])["items"]
        assert {r["warehouse"]: (r["on_hand"], r["in_transit"]) for r in rows} == {
            "WH-CD": (76, 0),
            "WH-CSG-CD-001": (0, 24),
        }
        arrived = {
            "received_on": "2026-11-11",
            "lines": [
                {"sku": WULIANGYE, "received": 22, "damaged": 1, "reason": "damaged_in_transit"}
            ],
        }
        ok(command(inv, f"/transfers/{sent['transfer_id']}/receipt", arrived, headers=HQ))
        damage = {"quantity": 6, "reason": "labels torn", "business_date": "2026-11-12"}
        ok(command(inv, f"/stock/WH-CD/{WULIANGYE}/damage", damage, headers=HQ))
        report = {
            "period_from": "2026-11-01",
            "period_to": "2026-11-15",
            "lines": [{"sku": WULIANGYE, "quantity": 10}],
        }
        sold = ok(command(inv, "/warehouses/WH-CSG-CD-001/sell-through", report, headers=HQ))

        rows = inventory(sku=WULIANGYE, min_position=sold["position"])["items"]
        by_warehouse = {r["warehouse"]: r for r in rows}
        assert by_warehouse["WH-CD"] == {
            "warehouse": "WH-CD",
            "sku": WULIANGYE,
            "on_hand": 76,
            "reserved": 0,
            "damaged": 6,
            "available": 70,
            "in_transit": 0,
            "safety_stock": 0,
            "below_safety": False,
        }
        dealer = by_warehouse["WH-CSG-CD-001"]
        assert (dealer["on_hand"], dealer["damaged"], dealer["in_transit"]) == (13, 1, 0)
        [nation] = inventory(by="nation", sku=WULIANGYE)["items"]
        assert (nation["on_hand"], nation["damaged"], nation["available"]) == (89, 7, 82)
        # As of the day of dispatch: in transit to the dealer, nothing there yet.
        then = inventory(as_of="2026-11-10", warehouse="WH-CSG-CD-001")["items"]
        assert (then[0]["on_hand"], then[0]["in_transit"]) == (0, 24)

        consignment = inventory("/hq/inventory/consignment")["items"]
        assert consignment == [
            {
                "warehouse": "WH-CSG-CD-001",
                "dealer": "CD-001",
                "branch": "CD",
                "region": "SOUTHWEST",
                "sku": WULIANGYE,
                "on_hand": 13,
                "damaged": 1,
                "in_transit": 0,
                "sell_through": [
                    {
                        "period_from": "2026-11-01",
                        "period_to": "2026-11-15",
                        "quantity": 10,
                        "cost": "8650.00",
                    }
                ],
                "sold": 10,
            }
        ]
        own = inventory("/dealers/CD-001/consignment", headers=DEALER_CD001)["items"]
        assert own == consignment
        branch = inventory("/branches/CD/inventory/consignment", headers=CHENGDU_CLERK)["items"]
        assert branch == consignment
        later = inventory("/hq/inventory/consignment", period_from="2026-11-16")["items"]
        assert later[0]["sell_through"] == [] and later[0]["sold"] == 0
        other = query.get("/dealers/CD-002/consignment", headers=DEALER_CD001)
        assert other.status_code == 403
        assert (
            query.get("/branches/CD/inventory/consignment", headers=SHANGHAI_CLERK).status_code
            == 403
        )
        assert query.get("/hq/inventory/consignment", headers=DEALER_CD001).status_code == 403

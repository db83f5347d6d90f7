"""Headquarters' inventory read model over HTTP: stock per warehouse and SKU from the
inventory topic, roll-ups by branch, region and the nation, the below-safety list, stock as
of a past business date, branch scoping and read-your-writes. Real PostgreSQL and broker."""

from __future__ import annotations

import pytest

from projections import bootstrap as query_process
from tests.integration.saga import JIANNANCHUN, WULIANGYE, ok, running_company
from tests.platform import HQ, command, serving

pytestmark = pytest.mark.integration

CHENGDU_CLERK = {"Authorization": "Bearer demo-chengdu-clerk"}
SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}


def receive(company, warehouse: str, sku: str, quantity: int, day: str) -> dict:
    body = {
        "warehouse_code": warehouse,
        "business_date": day,
        "lines": [{"sku": sku, "quantity": quantity, "unit_cost": "865.00"}],
    }
    return ok(command(company.inventory, "/goods-receipts", body, headers=HQ))


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
            "available": 70,
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

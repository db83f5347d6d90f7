"""销售目标 end to end: HQ sets November's national target and decomposes it to Chengdu, the
Chengdu manager registers salespeople, assigns them dealers and decomposes the branch's
target; an order runs through the saga to an invoice (finance, another topic), and the query
API shows attainment per branch and per salesperson; rebuilt from the topics, the same."""

from __future__ import annotations

import pytest

from projections import bootstrap as query_process
from projections.rebuild import rebuild
from tests.integration.saga import WULIANGYE, ok, running_company
from tests.platform import CHENGDU_CLERK, HQ, command, serving, wait_until

pytestmark = pytest.mark.integration

MANAGER = {"Authorization": "Bearer demo-chengdu-manager"}


def levels(floor: str, target: str, stretch: str) -> dict:
    return {"floor": floor, "target": target, "stretch": stretch}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text
    return response.json()


def test_targets_are_decomposed_and_attained_from_invoiced_sales(settings):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        orders = company.orders
        # -- decomposition rules --------------------------------------------------------------
        problem(
            command(
                orders, "/targets/2026-11/branches/CD", levels("1.00", "2.00", "3.00"), headers=HQ
            ),
            409,
            "national_target_not_set",
        )
        problem(
            command(orders, "/targets/2026-11", levels("100.00", "90.00", "120.00"), headers=HQ),
            409,
            "invalid_target_levels",
        )
        problem(
            # Month routes match months only: there is no month 13 to set a target of.
            command(orders, "/targets/2026-13", levels("1.00", "2.00", "3.00"), headers=HQ),
            404,
            "not_found",
        )
        problem(
            command(orders, "/targets/2026-11", levels("1.00", "2.00", "3.001"), headers=HQ),
            422,
            "invalid_request",
        )
        problem(
            command(orders, "/targets/2026-11", levels("1.00", "2.00", "3.00"), headers=MANAGER),
            403,
            "forbidden_role",
        )
        ok(
            command(
                orders, "/targets/2026-11", levels("8000.00", "10000.00", "12000.00"), headers=HQ
            )
        )
        ok(
            command(
                orders,
                "/targets/2026-11/branches/CD",
                levels("6000.00", "8000.00", "9000.00"),
                headers=HQ,
            )
        )
        over = command(
            orders,
            "/targets/2026-11/branches/SH",
            levels("2000.00", "2000.00", "3000.01"),
            headers=HQ,
        )
        assert problem(over, 409, "allocation_exceeds_target")["levels"] == ["stretch"]
        problem(
            command(
                orders, "/targets/2026-11", levels("5000.00", "10000.00", "12000.00"), headers=HQ
            ),
            409,
            "target_below_allocations",
        )
        for code, name in (("SP-CD-01", "Zhang Wei"), ("SP-CD-02", "Liu Fang")):
            ok(
                command(
                    orders,
                    "/targets/salespeople",
                    {"code": code, "name": name, "branch": "CD"},
                    headers=MANAGER,
                )
            )
        problem(
            command(
                orders,
                "/targets/salespeople",
                {"code": "SP-SH-01", "name": "Xu", "branch": "SH"},
                headers=MANAGER,
            ),
            403,
            "outside_scope",
        )
        problem(
            command(
                orders,
                "/targets/salespeople",
                {"code": "SP-CD-01", "name": "Again", "branch": "CD"},
                headers=HQ,
            ),
            409,
            "salesperson_already_registered",
        )
        ok(
            command(
                orders,
                "/targets/2026-11/salespeople/SP-CD-01",
                levels("4000.00", "5000.00", "6000.00"),
                headers=MANAGER,
            )
        )
        problem(
            command(
                orders,
                "/targets/2026-11/salespeople/SP-CD-02",
                levels("2000.00", "3000.01", "3000.01"),
                headers=MANAGER,
            ),
            409,
            "allocation_exceeds_target",
        )
        problem(
            command(
                orders,
                "/targets/2026-11/salespeople/SP-XX-99",
                levels("1.00", "1.00", "1.00"),
                headers=MANAGER,
            ),
            404,
            "unknown_salesperson",
        )
        plan = ok(orders.get("/targets/2026-11", headers=HQ))
        assert plan["unallocated"] == levels("2000.00", "2000.00", "3000.00")
        assert plan["branches"][0]["unallocated"] == levels("2000.00", "3000.00", "3000.00")
        assert ok(orders.get("/targets/2026-11", headers=MANAGER))["branches"][0]["branch"] == "CD"

        # -- dealers' assignment -------------------------------------------------------------
        assign = {"salesperson_code": "SP-CD-01", "effective_from": "2026-11-01"}
        ok(command(orders, "/dealers/CD-001/salesperson", assign, headers=MANAGER))
        problem(
            command(orders, "/dealers/CD-001/salesperson", assign, headers=CHENGDU_CLERK),
            403,
            "outside_scope",
        )
        problem(
            command(orders, "/dealers/CD-404/salesperson", assign, headers=HQ),
            404,
            "unknown_dealer",
        )

        # -- an invoice, and attainment ------------------------------------------------------
        company.receive(WULIANGYE, 20)
        company.credit_terms("CD-001", "100000.00")
        placed = company.place({WULIANGYE: 4})  # 4 x 1299.00
        order_id = placed["order_id"]
        company.wait_status(order_id, "approved")
        company.wait_shippable(order_id)
        ok(company.ship(order_id, {WULIANGYE: 4}, ship_date="2026-11-21"))

        def attainment(path: str, by: str, headers=HQ) -> dict:
            params = {"month": "2026-11", "by": by, "min_position": placed["position"]}
            response = query.get(path, params=params, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        national = wait_until(
            lambda: (
                # The branch's row too: an invoice heard before its dealer's registration
                # counts for no branch until the registration arrives.
                (a := attainment("/hq/targets", "branch"))
                and [i["net_sales"] for i in a["items"] if i["key"] == "CD"] == ["5196.00"]
                and a
            ),
            timeout=45,
            what="the invoice to reach the sales read model",
        )
        [cd] = [item for item in national["items"] if item["key"] == "CD"]
        assert (cd["key"], cd["net_sales"], cd["target"], cd["target_ratio"], cd["reached"]) == (
            "CD",
            "5196.00",
            "8000.00",
            "0.6495",
            "below_floor",
        )
        assert national["nation"]["net_sales"] == "5196.00"
        people = attainment("/branches/CD/targets", "salesperson", headers=MANAGER)["items"]
        assert [(p["key"], p["net_sales"], p["reached"]) for p in people] == [
            ("SP-CD-01", "5196.00", "target")
        ]
        problem(
            query.get("/branches/SH/targets", params={"month": "2026-11"}, headers=MANAGER),
            403,
            "outside_scope",
        )

        # -- rebuilt from the topics ---------------------------------------------------------
        for name in ("sales", "targets"):
            rebuild(settings, name, schema="rebuilt", progress=False, idle_s=0.5)
        rebuilt_settings = settings.model_copy(update={"projections_schema": "rebuilt"})
        with serving(query_process.build(rebuilt_settings, with_projectors=False)) as again:
            for by in ("branch", "salesperson"):
                got = again.get(
                    "/hq/targets", params={"month": "2026-11", "by": by}, headers=HQ
                ).json()
                assert got == attainment("/hq/targets", by)

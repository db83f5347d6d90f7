"""要货计划 over HTTP: a Chengdu dealer's monthly plan submitted, revised, returned and
approved on the orders API, and HQ and the branch comparing it with what was actually ordered
in the query API, read from the orders topic."""

from __future__ import annotations

import pytest

from projections import bootstrap as query_process
from services.orders import bootstrap as orders_process
from tests.integration.test_order_slice import register_chengdu_company
from tests.platform import CHENGDU_CLERK, HQ, SHANGHAI_CLERK, command, serving

pytestmark = pytest.mark.integration

MANAGER = {"Authorization": "Bearer demo-chengdu-manager"}
DEALER = {"Authorization": "Bearer demo-dealer-cd001"}
WULIANGYE, JIANNANCHUN = "WULIANGYE-52-500ML", "JIANNANCHUN-52-500ML"
PLAN = {
    "dealer_code": "CD-001",
    "month": "2026-11",
    "lines": [{"sku": WULIANGYE, "quantity": 120}, {"sku": JIANNANCHUN, "quantity": 300}],
}
PLAN_PATH = "/demand-plans/CD-001/2026-11"


@pytest.fixture
def platform(settings):
    with (
        serving(orders_process.build(settings)) as orders,
        serving(query_process.build(settings)) as query,
    ):
        register_chengdu_company(orders)
        yield orders, query


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text
    return response.json()


class TestSubmitAndReview:
    def test_the_dealer_submits_and_a_retry_changes_nothing(self, platform):
        orders, _ = platform
        first = command(orders, "/demand-plans", PLAN, headers=DEALER, key="plan-cd001-2026-11")
        assert first.status_code == 201, first.text
        assert (first.json()["status"], first.json()["revision"]) == ("submitted", 1)
        again = command(orders, "/demand-plans", PLAN, headers=DEALER, key="plan-cd001-2026-11")
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        problem(
            command(orders, "/demand-plans", PLAN, headers=CHENGDU_CLERK), 409, "demand_plan_exists"
        )

    def test_revised_returned_resubmitted_and_approved(self, platform):
        orders, _ = platform
        command(orders, "/demand-plans", PLAN, headers=CHENGDU_CLERK)
        revised = {"lines": [{"sku": WULIANGYE, "quantity": 150}]}
        body = command(orders, f"{PLAN_PATH}/revision", revised, headers=DEALER).json()
        assert (body["revision"], body["lines"]) == (2, [{"sku": WULIANGYE, "quantity": 150}])
        returned = command(
            orders, f"{PLAN_PATH}/return", {"comment": "add JIANNANCHUN"}, headers=MANAGER
        )
        assert returned.json()["status"] == "returned", returned.text
        problem(
            command(orders, f"{PLAN_PATH}/approval", {}, headers=MANAGER), 409, "invalid_transition"
        )
        resubmitted = command(
            orders, f"{PLAN_PATH}/revision", {"lines": PLAN["lines"]}, headers=DEALER
        )
        assert resubmitted.json()["status"] == "submitted"
        approved = command(orders, f"{PLAN_PATH}/approval", {"comment": "ok"}, headers=MANAGER)
        assert approved.status_code == 200, approved.text
        assert (approved.json()["status"], approved.json()["reviewed_by"]) == (
            "approved",
            "Li Qiang (Chengdu manager)",
        )
        # Approved is final.
        problem(
            command(orders, f"{PLAN_PATH}/revision", revised, headers=DEALER),
            409,
            "invalid_transition",
        )
        problem(
            command(orders, f"{PLAN_PATH}/approval", {}, headers=MANAGER), 409, "invalid_transition"
        )
        assert orders.get(PLAN_PATH, headers=DEALER).json()["status"] == "approved"

    def test_errors_say_what_is_wrong(self, platform):
        orders, _ = platform
        bad_month = command(orders, "/demand-plans", {**PLAN, "month": "2026-13"}, headers=HQ)
        assert problem(bad_month, 422, "invalid_request")["errors"][0]["path"] == "body.month"
        zero = {**PLAN, "lines": [{"sku": WULIANGYE, "quantity": 0}]}
        assert (
            problem(command(orders, "/demand-plans", zero, headers=HQ), 422, "invalid_request")[
                "errors"
            ][0]["path"]
            == "body.lines.0.quantity"
        )
        unknown_sku = {**PLAN, "lines": [{"sku": "MAOTAI-53-500ML", "quantity": 6}]}
        problem(command(orders, "/demand-plans", unknown_sku, headers=HQ), 404, "unknown_sku")
        twice = {**PLAN, "lines": [PLAN["lines"][0], PLAN["lines"][0]]}
        problem(command(orders, "/demand-plans", twice, headers=HQ), 409, "duplicate_sku")
        unknown_dealer = {**PLAN, "dealer_code": "CD-404"}
        problem(command(orders, "/demand-plans", unknown_dealer, headers=HQ), 404, "unknown_dealer")
        problem(
            command(orders, "/demand-plans", PLAN, headers=SHANGHAI_CLERK), 403, "outside_scope"
        )
        problem(
            command(orders, f"{PLAN_PATH}/approval", {}, headers=MANAGER),
            404,
            "unknown_demand_plan",
        )
        command(orders, "/demand-plans", PLAN, headers=DEALER)
        problem(
            command(orders, f"{PLAN_PATH}/approval", {}, headers=CHENGDU_CLERK),
            403,
            "forbidden_role",
        )
        problem(command(orders, f"{PLAN_PATH}/return", {}, headers=MANAGER), 422, "invalid_request")
        missing_key = orders.post("/demand-plans", json=PLAN, headers=DEALER)
        problem(missing_key, 422, "idempotency_key_required")


class TestPlanVersusActual:
    def test_hq_and_the_branch_compare_the_approved_plan_with_orders(self, platform):
        orders, query = platform
        command(orders, "/demand-plans", PLAN, headers=DEALER)
        command(orders, f"{PLAN_PATH}/approval", {}, headers=MANAGER)
        shanghai = {
            "dealer_code": "SH-001",
            "month": "2026-11",
            "lines": [{"sku": WULIANGYE, "quantity": 40}],
        }
        command(orders, "/demand-plans", shanghai, headers=HQ)  # submitted, not reviewed
        kept = {
            "dealer_code": "CD-001",
            "business_date": "2026-11-20",
            "lines": [{"sku": WULIANGYE, "quantity": 48}],
        }
        command(orders, "/orders", kept, headers=CHENGDU_CLERK)
        dropped = {**kept, "lines": [{"sku": JIANNANCHUN, "quantity": 60}]}
        order_id = command(orders, "/orders", dropped, headers=CHENGDU_CLERK).json()["order_id"]
        cancelled = command(
            orders, f"/orders/{order_id}/cancellation", {"reason": "duplicate"}, headers=DEALER
        )
        assert cancelled.status_code == 200, cancelled.text
        december = {**kept, "business_date": "2026-12-01"}
        last = command(orders, "/orders", december, headers=CHENGDU_CLERK).json()

        params = {"month": "2026-11", "by": "sku", "min_position": last["position"]}
        by_sku = query.get("/hq/demand-plans", params=params, headers=HQ)
        assert by_sku.status_code == 200, by_sku.text
        rows = {row["key"]: row for row in by_sku.json()["items"]}
        assert rows[WULIANGYE] == {
            "key": WULIANGYE,
            "approved_quantity": 120,
            "pending_quantity": 40,
            "ordered_quantity": 48,
            "variance": -72,
            "ordered_to_plan": "0.4000",
        }
        assert (rows[JIANNANCHUN]["approved_quantity"], rows[JIANNANCHUN]["ordered_quantity"]) == (
            300,
            0,
        )

        branches = query.get(
            "/hq/demand-plans", params={**params, "by": "branch"}, headers=HQ
        ).json()
        assert [
            (r["key"], r["approved_quantity"], r["pending_quantity"]) for r in branches["items"]
        ] == [
            ("CD", 420, 0),
            ("SH", 0, 40),
        ]
        own = query.get(
            "/branches/CD/demand-plans", params={**params, "by": "dealer"}, headers=MANAGER
        )
        assert [r["key"] for r in own.json()["items"]] == ["CD-001"]
        problem(
            query.get("/branches/SH/demand-plans", params=params, headers=CHENGDU_CLERK),
            403,
            "outside_scope",
        )
        problem(
            query.get("/hq/demand-plans", params=params, headers=CHENGDU_CLERK),
            403,
            "outside_scope",
        )
        mine = query.get("/dealers/CD-001/demand-plans", params=params, headers=DEALER)
        assert {r["key"] for r in mine.json()["items"]} == {WULIANGYE, JIANNANCHUN}
        problem(
            query.get("/dealers/SH-001/demand-plans", params=params, headers=DEALER),
            403,
            "outside_scope",
        )
        bad = query.get("/hq/demand-plans", params={"month": "November"}, headers=HQ)
        problem(bad, 422, "invalid_request")

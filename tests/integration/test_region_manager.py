"""The region manager (大区经理) over HTTP: the Southwest manager (Chengdu and Chongqing)
works the warnings of its branches and reads their figures, and sees nothing of the East
region (Shanghai) nor headquarters' national figures; identity makes one only of a region
and branches the organisation has.

The warnings part runs as tests/integration/test_warnings.py does: the saga on the
Chengdu dealer CD-001, the warnings process on a clock the test moves."""

from __future__ import annotations

import json

import pytest

from projections import bootstrap as query_process
from runtime.settings import DEMO_PASSWORD
from services.identity import bootstrap as identity_process
from services.orders import bootstrap as orders_process
from tests.integration.saga import ok
from tests.integration.test_warnings import (
    at_level,
    held_order,
    set_rule,
    the_warning,
    warnings_of,
)
from tests.integration.test_warnings import platform as platform  # noqa: F401 - the fixture
from tests.platform import HQ, command, register_organisation, serving, wait_until

pytestmark = pytest.mark.integration

SOUTHWEST = {"Authorization": "Bearer demo-southwest-manager"}
EAST = {"Authorization": "Bearer test-east-manager"}
EAST_KEY = {
    "test-east-manager": {
        "name": "Chen Jie (East region manager)",
        "role": "region_manager",
        "region": "EAST",
        "region_branches": ["SH"],
    }
}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"api_keys": json.dumps(EAST_KEY)})


class TestWarnings:
    def test_a_region_manager_works_its_branches_warnings_and_no_other_regions(self, platform):
        company, warnings, clock, _ = platform
        set_rule(warnings, "credit_hold", "0")
        order_id = held_order(company)
        raised = the_warning(warnings, order_id)
        warning_id = raised["warning_id"]
        assert (raised["branch"], raised["level"]) == ("CD", "branch_manager")

        # Its branches' warnings, every level, in its list and counts; the East sees none.
        assert [w["warning_id"] for w in warnings_of(warnings, SOUTHWEST)] == [warning_id]
        assert warnings_of(warnings, SOUTHWEST, branch="CD")[0]["warning_id"] == warning_id
        assert warnings_of(warnings, EAST) == []
        assert ok(warnings.get("/warnings/counts", headers=SOUTHWEST))["total"] == 1
        assert ok(warnings.get("/warnings/counts", headers=EAST))["total"] == 0
        # Its inbox is the region level: not yet.
        assert ok(warnings.get("/warnings/inbox", headers=SOUTHWEST))["warnings"] == []

        clock.advance(minutes=60)  # the branch manager's allowance: the region has it
        at_level(warnings, warning_id, "region")
        inbox = ok(warnings.get("/warnings/inbox", headers=SOUTHWEST))["warnings"]
        assert [(w["warning_id"], w["responsible_role"]) for w in inbox] == [
            (warning_id, "region_manager")
        ]
        assert ok(warnings.get("/warnings/inbox", headers=EAST))["warnings"] == []

        # Out of its region: 403 on the warning, on another branch's list, on acting.
        refused = warnings.get(f"/warnings/{warning_id}", headers=EAST)
        assert (refused.status_code, refused.json()["code"]) == (403, "outside_scope")
        other = warnings.get("/warnings", params={"branch": "SH"}, headers=SOUTHWEST)
        assert (other.status_code, other.json()["code"]) == (403, "outside_scope")
        path = f"/warnings/{warning_id}/acknowledgement"
        assert command(warnings, path, {}, headers=EAST).status_code == 403

        done = command(warnings, path, {}, headers=SOUTHWEST)
        assert done.status_code == 200, done.text
        commented = command(
            warnings,
            f"/warnings/{warning_id}/comments",
            {"text": "Called Jinjiang Wine Trading: payment of 5,980.00 on Friday"},
            headers=SOUTHWEST,
        )
        assert commented.status_code == 200, commented.text
        shown = ok(warnings.get(f"/warnings/{warning_id}", headers=HQ))
        acted = [s for s in shown["history"] if s["step"] in ("acknowledged", "commented")]
        assert [s["by"] for s in acted] == ["Li Na (Southwest region manager)"] * 2


@pytest.fixture
def query_and_orders(settings):
    with (
        serving(orders_process.build(settings)) as orders,
        serving(query_process.build(settings)) as query,
    ):
        yield orders, query


class TestReads:
    def test_its_branches_figures_never_another_regions_nor_headquarters(self, query_and_orders):
        orders, query = query_and_orders
        for path in ("/branches/CD/inventory", "/branches/CQ/receivables"):
            answer = query.get(path, headers=SOUTHWEST)
            assert answer.status_code == 200, f"{path}: {answer.text}"
        for path in (
            "/branches/SH/inventory",
            "/branches/SH/receivables",
            "/hq/inventory",
            "/hq/receivables",
            "/dealers/SH-001/statement",
        ):
            refused = query.get(path, headers=SOUTHWEST)
            assert refused.status_code == 403, f"{path}: {refused.text}"
        # The write side has nothing for it, its lists included.
        refused = orders.get("/dealers/CD-001", headers=SOUTHWEST)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden_role")


@pytest.fixture
def identity_and_orders(settings):
    with (
        serving(identity_process.build(settings)) as identity,
        serving(orders_process.build(settings)) as orders,
    ):
        register_organisation(orders)
        yield identity


class TestIdentity:
    def test_a_region_manager_is_made_only_of_the_organisations_region_and_branches(
        self, identity_and_orders
    ):
        identity = identity_and_orders

        def create(region: str, branches: list[str], username: str = "sw.manager.li"):
            body = {
                "username": username,
                "name": "Li Na",
                "role": "region_manager",
                "region": region,
                "branches": branches,
                "password": "Southwest-2026-region",
            }
            return command(identity, "/users", body, headers=HQ)

        # Identity learns the organisation from the orders topic: a moment's lag.
        wait_until(
            lambda: create("SOUTHWEST", ["SH"]).status_code == 409,
            what="identity knows the organisation",
        )
        refused = create("SOUTHWEST", ["SH"])
        assert refused.json()["code"] == "branch_not_in_region"
        refused = create("TIBET", ["LS"])
        assert (refused.status_code, refused.json()["code"]) == (404, "unknown_region")
        refused = create("SOUTHWEST", ["CD", "LS"])
        assert (refused.status_code, refused.json()["code"]) == (404, "unknown_branch")

        made = create("SOUTHWEST", ["CD", "CQ"])
        assert made.status_code == 201, made.text
        assert (made.json()["region"], made.json()["region_branches"]) == (
            "SOUTHWEST",
            ["CD", "CQ"],
        )
        session = identity.post(
            "/sessions", json={"username": "sw.manager.li", "password": "Southwest-2026-region"}
        )
        assert session.status_code == 201, session.text
        assert session.json()["region_branches"] == ["CD", "CQ"]

        signing_in = {"username": "sw.manager", "password": DEMO_PASSWORD}
        demo = identity.post("/sessions", json=signing_in)
        assert demo.status_code == 201, demo.text
        assert (demo.json()["role"], demo.json()["region"]) == ("region_manager", "SOUTHWEST")

"""The organisation as master data: headquarters registers regions (大区) and branch offices
(分公司) in orders; what names a branch or a region (a dealer, a warehouse, a salesperson, a
branch's target) is refused with 404 when it was never registered, and nothing is written.
Inventory knows the organisation from the orders topic (its replica). Real PostgreSQL, the
real broker, HTTP."""

from __future__ import annotations

import jsonschema
import pytest

from contracts.export import schema_documents
from tests.integration.saga import CHENGDU_MANAGER, ok, running_company
from tests.platform import CHENGDU_CLERK, HQ, command, command_when_known, published, wait_until

pytestmark = pytest.mark.integration

LEVELS = {"floor": "100000.00", "target": "120000.00", "stretch": "150000.00"}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text
    return response.json()


def test_hq_registers_regions_and_branches_and_everyone_lists_them(settings):
    with running_company(settings, with_finance=False) as company:
        orders = company.orders
        northwest = {"code": "NORTHWEST-GS", "name": "Gansu", "parent": "NORTHWEST"}
        created = command(
            orders, "/organisation/regions", {**northwest, "manager": "Ma Jun"}, headers=HQ
        )
        assert ok(created) | {"position": None} == {
            "code": "NORTHWEST-GS",
            "name": "Gansu",
            "parent": "NORTHWEST",
            "manager": "Ma Jun",
            "position": None,
        }
        lanzhou = {"code": "LZ", "name": "Lanzhou Branch", "region": "NORTHWEST-GS"}
        ok(command(orders, "/organisation/branches", {**lanzhou, "manager": "Bai Yu"}, headers=HQ))

        listed = ok(
            orders.get(
                "/organisation/branches", params={"region": "SOUTHWEST"}, headers=CHENGDU_CLERK
            )
        )
        assert [(b["code"], b["region"]) for b in listed] == [
            ("CD", "SOUTHWEST"),
            ("CQ", "SOUTHWEST"),
        ]
        regions = {
            r["code"]: r for r in ok(orders.get("/organisation/regions", headers=CHENGDU_CLERK))
        }
        assert regions["NORTHWEST-GS"]["parent"] == "NORTHWEST"

        problem(
            command(orders, "/organisation/branches", lanzhou, headers=HQ),
            409,
            "branch_already_registered",
        )
        problem(
            command(orders, "/organisation/regions", northwest, headers=HQ),
            409,
            "region_already_registered",
        )
        orphan = {"code": "KS", "name": "Kashgar Branch", "region": "XINJIANG"}
        assert (
            problem(
                command(orders, "/organisation/branches", orphan, headers=HQ), 404, "unknown_region"
            )["region"]
            == "XINJIANG"
        )
        problem(
            command(
                orders,
                "/organisation/regions",
                {"code": "X", "name": "X", "parent": "NOWHERE"},
                headers=HQ,
            ),
            404,
            "unknown_region",
        )
        problem(
            command(
                orders,
                "/organisation/branches",
                {**orphan, "region": "SOUTHWEST"},
                headers=CHENGDU_CLERK,
            ),
            403,
            "forbidden_role",
        )

        # Published on the orders topic, each valid against its exported JSON Schema.
        schemas = schema_documents()
        for name, code_field, code in (
            ("RegionRegistered", "region_code", "NORTHWEST-GS"),
            ("BranchRegistered", "branch_code", "LZ"),
        ):
            envelopes = wait_until(
                lambda name=name, code_field=code_field, code=code: [
                    e for e in published(settings, "orders", name) if e["data"][code_field] == code
                ],
                what=f"{name} {code} on the orders topic",
            )
            assert len(envelopes) == 1
            jsonschema.validate(envelopes[0]["data"], schemas[f"orders/{name}.v1.json"])


def test_what_names_an_unknown_branch_or_region_is_refused_and_writes_nothing(settings):
    with running_company(settings, with_finance=False) as company:
        orders, inventory = company.orders, company.inventory
        before = len(published(settings, "orders", "DealerRegistered"))
        dealer = {"code": "LS-001", "name": "Lhasa Highland Spirits", "grade": "group_buy"}
        refused = problem(
            command(
                orders, "/dealers", {**dealer, "branch": "LS", "region": "SOUTHWEST"}, headers=HQ
            ),
            404,
            "unknown_branch",
        )
        assert refused["branch"] == "LS"
        problem(
            command(orders, "/dealers", {**dealer, "branch": "CD", "region": "TIBET"}, headers=HQ),
            404,
            "unknown_region",
        )
        problem(
            command(
                orders, "/dealers", {**dealer, "branch": "SH", "region": "SOUTHWEST"}, headers=HQ
            ),
            409,
            "branch_not_in_region",
        )
        problem(orders.get("/dealers/LS-001", headers=HQ), 404, "unknown_dealer")

        problem(
            command(orders, "/targets/2026-11/branches/LS", LEVELS, headers=HQ),
            404,
            "unknown_branch",
        )
        salesperson = {"code": "SP-LS-01", "name": "Tashi", "branch": "LS"}
        problem(
            command(orders, "/targets/salespeople", salesperson, headers=HQ), 404, "unknown_branch"
        )
        problem(orders.get("/targets/salespeople/SP-LS-01", headers=HQ), 404, "unknown_salesperson")
        # A branch that is registered is accepted as before.
        ok(
            command(
                orders,
                "/targets/salespeople",
                {**salesperson, "code": "SP-CD-09", "branch": "CD"},
                headers=CHENGDU_MANAGER,
            )
        )

        warehouse = {"code": "WH-LS", "name": "Lhasa DC", "kind": "branch", "region": "SOUTHWEST"}
        problem(
            command(inventory, "/warehouses", {**warehouse, "branch": "LS"}, headers=HQ),
            404,
            "unknown_branch",
        )
        problem(
            command(
                inventory,
                "/warehouses",
                {**warehouse, "branch": "CD", "region": "TIBET"},
                headers=HQ,
            ),
            404,
            "unknown_region",
        )
        problem(
            command(inventory, "/warehouses", {**warehouse, "branch": "SH"}, headers=HQ),
            409,
            "branch_not_in_region",
        )
        problem(inventory.get("/warehouses/WH-LS", headers=HQ), 404, "unknown_warehouse")

        # Once headquarters registers the branch, the same commands go through (inventory
        # once the registration has reached it).
        ok(
            command(
                orders,
                "/organisation/branches",
                {"code": "LS", "name": "Lhasa Branch", "region": "SOUTHWEST"},
                headers=HQ,
            )
        )
        ok(
            command(
                orders, "/dealers", {**dealer, "branch": "LS", "region": "SOUTHWEST"}, headers=HQ
            )
        )
        created = ok(
            command_when_known(inventory, "/warehouses", {**warehouse, "branch": "LS"}, headers=HQ)
        )
        assert (created["branch"], created["region"]) == ("LS", "SOUTHWEST")
        registered = wait_until(
            lambda: (
                len(found := published(settings, "orders", "DealerRegistered")) > before and found
            ),
            what="the Lhasa dealer on the orders topic",
        )
        assert [e["data"]["dealer_code"] for e in registered[before:]] == ["LS-001"]

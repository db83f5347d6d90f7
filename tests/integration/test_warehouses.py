"""Warehouses in inventory over HTTP: registration, duplicates, scope of the command."""

from __future__ import annotations

import pytest

from services.inventory import bootstrap as inventory_process
from tests.integration.master_data import known_to, organisation
from tests.platform import CHENGDU_CLERK, HQ, command, serving

pytestmark = pytest.mark.integration

CHENGDU_WAREHOUSE = {
    "code": "WH-CD",
    "name": "Chengdu Branch Warehouse",
    "kind": "branch",
    "branch": "CD",
    "region": "SOUTHWEST",
}


@pytest.fixture
def inventory(settings):
    process = inventory_process.build(settings)
    known_to(process.api.state.application, *organisation())
    with serving(process) as client:
        yield client


def test_hq_registers_a_branch_warehouse(inventory):
    created = command(inventory, "/warehouses", CHENGDU_WAREHOUSE, headers=HQ)
    assert created.status_code == 201, created.text
    assert created.json()["position"].startswith("inventory:")
    read = inventory.get("/warehouses/WH-CD", headers=HQ).json()
    assert (read["kind"], read["branch"]) == ("branch", "CD")


def test_a_warehouse_code_registered_twice_is_a_conflict(inventory):
    command(inventory, "/warehouses", CHENGDU_WAREHOUSE, headers=HQ)
    again = command(inventory, "/warehouses", {**CHENGDU_WAREHOUSE, "name": "Other"}, headers=HQ)
    assert again.status_code == 409
    assert again.json()["code"] == "warehouse_already_registered"


def test_a_branch_warehouse_needs_its_branch(inventory):
    body = {**CHENGDU_WAREHOUSE, "branch": None}
    response = command(inventory, "/warehouses", body, headers=HQ)
    assert response.status_code == 409
    assert response.json()["code"] == "branch_required"


def test_only_headquarters_opens_warehouses(inventory):
    response = command(inventory, "/warehouses", CHENGDU_WAREHOUSE, headers=CHENGDU_CLERK)
    assert response.status_code == 403


def test_an_unknown_warehouse_is_a_404(inventory):
    response = inventory.get("/warehouses/WH-NOWHERE", headers=HQ)
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_warehouse"

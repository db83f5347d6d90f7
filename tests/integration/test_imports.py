"""Bulk import (issue 17): a small company brought in from the example files in docs/examples
with the CLI, in the order the README gives; a file with bad rows reports every one and
writes nothing; a dry run writes nothing; importing the same file again writes nothing new;
the HTTP upload is headquarters' only. Real PostgreSQL, the real broker, the services
running (inventory and finance know dealers and SKUs from the orders topic)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime.cli import main
from services.finance import bootstrap as finance_process
from services.imports.application import application_for, dry_run, kind_of
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from tests.platform import CHENGDU_CLERK, HQ, serving, wait_until

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
ORDER = (
    "regions",
    "branches",
    "dealers",
    "products",
    "price-lists",
    "warehouses",
    "opening-stock",
    "opening-invoices",
    "opening-cash",
    "opening-rebate-pools",
)


def dist_import(settings, monkeypatch, *args: str):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("KAFKA_NAMESPACE", settings.kafka_namespace)
    return CliRunner().invoke(main, ["import", *args, "--no-progress"])


def events_in(settings, service: str) -> int:
    owned = {"orders": "dealers", "inventory": "warehouses", "finance": "opening-cash"}
    app = application_for(kind_of(owned[service]), settings)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def wait_until_known(settings, kind: str) -> None:
    """Until the service owning ``kind`` knows what its example file names (its replica
    of the orders topic has caught up)."""
    chosen = kind_of(kind)
    app = application_for(chosen, settings)
    data = (EXAMPLES / f"{kind}.csv").read_bytes()
    try:
        wait_until(
            lambda: not dry_run(chosen, f"{kind}.csv", data, app)[0].errors,
            timeout=30,
            what=f"{kind}: every reference known",
        )
    finally:
        app.close()


def test_a_small_company_comes_in_from_the_example_files(settings, monkeypatch):
    with (
        serving(orders_process.build(settings)) as orders,
        serving(inventory_process.build(settings)),
        serving(finance_process.build(settings)) as finance,
    ):
        for kind in ORDER:
            if kind == "opening-rebate-pools":
                policy = (EXAMPLES / "rebate-policy-TIER1-2026.json").read_text()
                response = finance.post(
                    "/rebate-policies",
                    content=policy,
                    headers={
                        **HQ,
                        "Idempotency-Key": "tier1-2026",
                        "Content-Type": "application/json",
                    },
                )
                assert response.status_code == 201, response.text
            if kind in ("warehouses", "opening-stock", "opening-invoices"):
                wait_until_known(settings, kind)
            result = dist_import(settings, monkeypatch, kind, str(EXAMPLES / f"{kind}.csv"))
            assert result.exit_code == 0, result.output
            assert "0 imported before, 0 refused" in result.output, result.output

        assert orders.get("/dealers/CQ-004", headers=HQ).json()["grade"] == "group_buy"
        prices = orders.get("/price-lists/tier1_distributor", headers=HQ).json()["prices"]
        assert {p["sku"]: p["unit_price"] for p in prices}["WULIANGYE-52-500ML"] == "1080.00"
        account = finance.get("/accounts/CD-001", headers=HQ).json()
        assert account["receivables"] == "129600.00"  # 86400.00 + 43200.00

        # The same files again: nothing new in any event store.
        before = {s: events_in(settings, s) for s in ("orders", "inventory", "finance")}
        for kind in ORDER:
            result = dist_import(settings, monkeypatch, kind, str(EXAMPLES / f"{kind}.csv"))
            assert result.exit_code == 0, result.output
            assert f" 0 {kind} written" in result.output, result.output
        assert {s: events_in(settings, s) for s in before} == before


BAD_DEALERS = (
    "code,name,branch,region,grade\n"
    "CD-001,Jinjiang Wine Trading,CD,SOUTHWEST,tier1_distributor\n"
    "CD-002,Wuhou Liquor Wholesale,XA-NORTH,SOUTHWEST,tier1_distributor\n"
    "CD-001,Jinjiang again,CD,SOUTHWEST,tier1_distributor\n"
)


def test_bad_rows_are_all_reported_and_nothing_is_written(settings, monkeypatch, tmp_path):
    with serving(orders_process.build(settings)):
        for kind in ("regions", "branches"):
            assert (
                dist_import(settings, monkeypatch, kind, str(EXAMPLES / f"{kind}.csv")).exit_code
                == 0
            )
        before = events_in(settings, "orders")
        bad = tmp_path / "dealers.csv"
        bad.write_text(BAD_DEALERS)
        result = dist_import(settings, monkeypatch, "dealers", str(bad))
        assert result.exit_code == 1
        assert "line 3: no branch XA-NORTH" in result.output or "XA-NORTH" in result.output
        assert "line 4: duplicate CD-001: line 2 has it" in result.output
        assert "2 bad row(s) of 3; nothing written" in result.output
        # A dry run of a good file writes nothing either.
        dry = dist_import(
            settings, monkeypatch, "dealers", str(EXAMPLES / "dealers.csv"), "--dry-run"
        )
        assert dry.exit_code == 0 and "dry run, nothing written" in dry.output
        assert events_in(settings, "orders") == before


def test_the_upload_is_headquarters_only_and_answers_every_bad_row(settings, monkeypatch):
    with serving(orders_process.build(settings)) as orders:
        for kind in ("regions", "branches"):
            assert (
                dist_import(settings, monkeypatch, kind, str(EXAMPLES / f"{kind}.csv")).exit_code
                == 0
            )
        files = {"file": ("dealers.csv", BAD_DEALERS.encode(), "text/csv")}
        refused = orders.post("/dealers/import", files=files, headers=CHENGDU_CLERK)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden_role"

        bad = orders.post("/dealers/import", files=files, headers=HQ)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["code"] == "import_rows_invalid"
        assert [e["line"] for e in bad.json()["errors"]] == [3, 4]

        good = {"file": ("dealers.csv", (EXAMPLES / "dealers.csv").read_bytes(), "text/csv")}
        checked = orders.post("/dealers/import", files=good, params={"dry_run": "true"}, headers=HQ)
        assert checked.status_code == 200 and checked.json()["written"] == 0
        assert orders.get("/dealers/CD-001", headers=HQ).status_code == 404

        done = orders.post("/dealers/import", files=good, headers=HQ).json()
        assert (done["written"], done["unchanged"]) == (10, 0)
        again = orders.post("/dealers/import", files=good, headers=HQ).json()
        assert (again["written"], again["unchanged"]) == (0, 10)
        assert orders.get("/dealers/CD-001", headers=HQ).json()["name"] == "Jinjiang Wine Trading"


def test_a_row_refused_while_writing_leaves_every_other_row_written(settings, monkeypatch):
    """Resumable per row: CD-003 was registered over HTTP (not by an import), so the dry run
    finds the file clean, its batch is refused as a whole, and its rows are written one by
    one: CD-003 is reported, the other nine are in."""
    with serving(orders_process.build(settings)) as orders:
        for kind in ("regions", "branches"):
            assert (
                dist_import(settings, monkeypatch, kind, str(EXAMPLES / f"{kind}.csv")).exit_code
                == 0
            )
        body = {
            "code": "CD-003",
            "name": "Qingyang Banquet Supplies",
            "branch": "CD",
            "region": "SOUTHWEST",
            "grade": "tier2_distributor",
        }
        response = orders.post("/dealers", json=body, headers={**HQ, "Idempotency-Key": "cd-003"})
        assert response.status_code == 201, response.text

        result = dist_import(settings, monkeypatch, "dealers", str(EXAMPLES / "dealers.csv"))
        assert result.exit_code == 1
        assert "line 4: refused: dealer CD-003 is already registered" in result.output
        assert "10 rows, 9 dealers written, 0 imported before, 1 refused" in result.output
        assert orders.get("/dealers/CQ-004", headers=HQ).status_code == 200

        # Again: the nine replay; CD-003 is still the HTTP registration's, refused again.
        again = dist_import(settings, monkeypatch, "dealers", str(EXAMPLES / "dealers.csv"))
        assert "0 dealers written, 9 imported before, 1 refused" in again.output

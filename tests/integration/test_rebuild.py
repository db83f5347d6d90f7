"""Rebuilding a read model from the topics gives exactly the incrementally built one, row for
row, for every read model; `dist rebuild` does it in place while the query process runs."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from projections import bootstrap as query_process
from projections.bootstrap import PROJECTIONS
from projections.rebuild import rebuild
from projections.tracking import processed, projections_engine, watermarks
from runtime.cli import main as dist
from tests.integration.saga import CHENGDU_CLERK, JIANNANCHUN, WULIANGYE, ok, running_company
from tests.platform import HQ, command, serving

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def snapshot(settings, schema: str) -> dict[str, list[tuple]]:
    """Every row of every read model in ``schema``, and its tracking, in a stable order."""
    engine = projections_engine(settings, schema, pool_size=1)
    try:
        with engine.connect() as conn:
            tables = [t for p in PROJECTIONS for t in p.metadata.sorted_tables]
            rows = {
                table.name: [
                    tuple(row)
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in tables
            }
            for table in (processed, watermarks):
                rows[table.name] = [
                    tuple(row)
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
            return rows
    finally:
        engine.dispose()


def test_a_rebuilt_read_model_equals_the_incremental_one(settings, monkeypatch):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        company.receive(WULIANGYE, 60)
        company.receive(JIANNANCHUN, 40)
        company.credit_terms("CD-001", "100000.00", days=30)
        company.credit_terms("CD-002", "30000.00", days=45)
        for dealer, lines, ship_date in (
            ("CD-001", {WULIANGYE: 10, JIANNANCHUN: 4}, "2026-08-03"),
            ("CD-002", {WULIANGYE: 6}, "2026-10-12"),
            ("CD-001", {JIANNANCHUN: 9}, None),
        ):
            order_id = company.place(lines, dealer=dealer)["order_id"]
            company.wait_status(order_id, "approved")
            company.wait_shippable(order_id)
            if ship_date:
                shipment = ok(company.ship(order_id, lines, ship_date=ship_date))
        ok(
            command(
                company.inventory,
                f"/shipments/{shipment['shipment_id']}/delivery",
                {"delivered_on": "2026-10-15"},
                headers=CHENGDU_CLERK,
            )
        )
        account = company.wait_account(lambda a: a["invoices_posted"] == 1, dealer="CD-002")
        invoice_id = account["open_invoices"][0]["invoice_id"]
        receipt = {"dealer_code": "CD-001", "amount": "9000.00", "received_on": "2026-09-30"}
        ok(command(company.finance, "/receipts", receipt, headers=HQ))
        note = {"invoice_id": invoice_id, "amount": "120.50", "reason": "damaged cartons"}
        ok(command(company.finance, "/credit-notes", note, headers=HQ))
        # 核销: Wuhou pays beyond what it owes; its next invoice takes the cash on account.
        overpaid = {"dealer_code": "CD-002", "amount": "10000.00", "received_on": "2026-10-20"}
        ok(command(company.finance, "/receipts", overpaid, headers=HQ))
        order_id = company.place({WULIANGYE: 2}, dealer="CD-002")["order_id"]
        company.wait_status(order_id, "approved")
        company.wait_shippable(order_id)
        ok(company.ship(order_id, {WULIANGYE: 2}, ship_date="2026-10-25"))
        company.wait_account(
            lambda a: a["invoices_posted"] == 2 and a["unapplied_cash"] == "0.00", dealer="CD-002"
        )
        rules = {"undelivered_red": 2}
        last = ok(command(company.finance, "/accounts/health-rules", rules, headers=HQ))
        ok(query.get("/hq/receivables", params={"min_position": last["position"]}, headers=HQ))

        live = settings.projections_schema
        wait_until_idle(settings, live)
        incremental = snapshot(settings, live)
        for projection in PROJECTIONS:
            summary = rebuild(settings, projection.name, schema="rebuilt", progress=False)
            assert summary.outcomes["dead_lettered"] == 0
        rebuilt = snapshot(settings, "rebuilt")
        assert rebuilt.keys() == incremental.keys()
        for table, rows in incremental.items():
            assert rebuilt[table] == rows, table
        # Three records a poll: the topics arrive a few records at a time, one partition
        # after another (a dealer's invoices can come long before its registration), and
        # the rebuild still applies them in the order they happened.
        for projection in PROJECTIONS:
            rebuild(settings, projection.name, schema="rebuilt_small", progress=False, batch_size=3)
        small = snapshot(settings, "rebuilt_small")
        for table, rows in incremental.items():
            assert small[table] == rows, table
        assert len(incremental["sales_daily"]) >= 4 and incremental["health_shipments"]
        assert len(incremental["receivables_cash_applications"]) == 1

        # In place, from the command line, while the query process runs.
        for name, value in (
            ("DATABASE_URL", settings.database_url),
            ("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers),
            ("KAFKA_NAMESPACE", settings.kafka_namespace),
        ):
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(dist, ["rebuild", "all", "--no-progress"])
        assert result.exit_code == 0, result.output
        assert "receivables rebuilt in projections" in result.output
        assert snapshot(settings, live) == incremental
        bad = CliRunner().invoke(dist, ["rebuild", "stock"])
        assert bad.exit_code == 2 and "no read model named 'stock'" in bad.output


def wait_until_idle(settings, schema: str, timeout: float = 45) -> None:
    """Until every read model holds everything each service's relay has published, and the
    relays have nothing more to publish (twice in a row, half a second apart)."""
    engine = projections_engine(settings, schema, pool_size=1)
    deadline = time.monotonic() + timeout
    settled_once = False
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                published = {
                    service: conn.exec_driver_sql(
                        f'SELECT coalesce(max(last_published), 0) FROM "{service}".relay_state'
                    ).scalar_one()
                    for service in ("orders", "inventory", "finance")
                }
                marks = {
                    (row.projection, row.origin): row.position
                    for row in conn.execute(select(watermarks))
                }
            caught_up = all(
                marks.get((p.name, origin), 0) == published[origin]
                for p in PROJECTIONS
                for origin in p.origins
            )
            if caught_up and settled_once:
                return
            settled_once = caught_up
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise AssertionError(f"the read models did not catch up: {marks} vs {published}")

"""Reads that every command and every process-manager batch makes stay index probes however
much is stored: the plan PostgreSQL settles on for a prepared statement after five runs (its
generic plan, made without the parameters' values) never scans a whole table. A plain join
of the ids with the events table once did, and a read cost more with every order stored.
Real PostgreSQL."""

from __future__ import annotations

import itertools
import json
import re

import psycopg
import pytest

from services.inventory.application import InventoryApplication

pytestmark = pytest.mark.integration


@pytest.fixture(
    params=[(30_000, 10, False), (2_000, 2, True)],
    ids=["30k events before autovacuum analysed them", "2k events, analysed"],
)
def inventory(request, settings):
    """Events of stock items (``per`` each) and as many tracking records, with or without
    the table statistics that autovacuum gathers some time after the rows arrive: the old
    join scanned the whole table in both cases."""
    stored, per, analysed = request.param
    app = InventoryApplication(settings)
    with psycopg.connect(settings.postgres().dsn(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO inventory.inventory_events "
            "(originator_id, originator_version, topic, state) "
            "SELECT md5('stock' || (n / %s))::uuid, n %% %s + 1, "
            "'services.inventory.domain:StockItem.Received', '{}'::bytea "
            "FROM generate_series(0, %s - 1) AS n",
            (per, per, stored),
        )
        conn.execute(
            "INSERT INTO inventory.inventory_tracking (application_name, notification_id) "
            "SELECT 'orders', n FROM generate_series(1, %s) AS n",
            (stored,),
        )
        if analysed:
            conn.execute("ANALYZE inventory.inventory_events")
            conn.execute("ANALYZE inventory.inventory_tracking")
    yield app
    app.close()


def generic_plan(settings, statement) -> dict:
    with psycopg.connect(settings.postgres().dsn()) as conn:
        numbered = itertools.count(1)
        text = re.sub("%s", lambda _: f"${next(numbered)}", statement.as_string(conn))
        [[plan]] = conn.execute("EXPLAIN (GENERIC_PLAN, FORMAT JSON) " + text).fetchall()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def scans(plan: dict) -> list[tuple[str, str]]:
    found = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def whole_table_scans(plan: dict) -> list[str]:
    return [table for node, table in scans(plan) if node == "Seq Scan" and table]


def test_reading_aggregates_probes_the_primary_key_in_every_plan(settings, inventory):
    recorder = inventory.service_recorder
    for snapshots_table in (None, "inventory_snapshots"):
        plan = generic_plan(settings, recorder.aggregates_events_statement(snapshots_table))
        assert whole_table_scans(plan) == []
        assert ("Index Scan", "inventory_events") in scans(plan) or (
            "Bitmap Heap Scan",
            "inventory_events",
        ) in scans(plan)


def test_asking_which_events_were_processed_probes_the_primary_key(settings, inventory):
    plan = generic_plan(settings, inventory.service_recorder.processed_among_statement())
    assert whole_table_scans(plan) == []

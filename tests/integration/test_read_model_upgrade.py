"""An upgrade whose code reads other read-model tables than the database holds: `dist migrate`
finds each read model that differs (a column retyped, an index or a whole table missing, a
version raised by hand) and rebuilds it from the topics, row for row what it was; the read
models that agree are left alone, and a second migrate finds nothing to do."""

from __future__ import annotations

import logging

import pytest

from projections import bootstrap as query_process
from projections.bootstrap import PROJECTIONS
from projections.channel_health.projection import channel_health
from projections.tracking import projections_engine
from projections.upgrade import outdated, upgrade
from runtime.migrate import migrate
from tests.integration.saga import JIANNANCHUN, WULIANGYE, ok, running_company
from tests.integration.test_rebuild import snapshot, wait_until_idle
from tests.platform import serving

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def test_migrate_rebuilds_each_read_model_the_code_no_longer_matches(settings, monkeypatch, caplog):
    with running_company(settings) as company, serving(query_process.build(settings)):
        company.receive(WULIANGYE, 40)
        company.receive(JIANNANCHUN, 20)
        company.credit_terms("CD-001", "80000.00", days=30)
        lines = {WULIANGYE: 6, JIANNANCHUN: 2}
        order_id = company.place(lines, dealer="CD-001")["order_id"]
        company.wait_status(order_id, "approved")
        company.wait_shippable(order_id)
        ok(company.ship(order_id, lines, ship_date="2026-11-16"))
        company.wait_account(lambda a: a["invoices_posted"] == 1, dealer="CD-001")
        live = settings.projections_schema
        wait_until_idle(settings, live)
    before = snapshot(settings, live)
    assert before["sales_daily"] and before["receivables_invoices"]

    engine = projections_engine(settings, live, pool_size=1)
    try:
        # As an older release left them.
        with engine.begin() as conn:
            conn.exec_driver_sql(f'ALTER TABLE "{live}".sales_dealers ALTER region TYPE text')
            conn.exec_driver_sql(f'ALTER TABLE "{live}".sales_dealers ALTER region DROP NOT NULL')
            conn.exec_driver_sql(f'DROP TABLE "{live}".receivables_aging_snapshots')
            conn.exec_driver_sql(f'DROP INDEX "{live}".ix_sales_daily_branch')
        monkeypatch.setattr(channel_health, "version", 2)  # its appliers changed

        with caplog.at_level(logging.WARNING, logger="projections.upgrade"):
            verdicts = {v.projection: v for v in upgrade(settings, engine, PROJECTIONS)}

        rebuilt = {name for name, v in verdicts.items() if v.action == "rebuilt"}
        assert rebuilt == {"sales", "receivables", "channel_health"}
        assert {v.action for n, v in verdicts.items() if n not in rebuilt} == {"current"}
        assert set(verdicts["sales"].reasons) == {
            "sales_dealers: column region is 'text', declared 'character varying NOT NULL'",
            "sales_daily: index ix_sales_daily_branch is missing",
        }
        assert verdicts["receivables"].reasons == (
            "receivables_aging_snapshots: the table is missing",
        )
        assert verdicts["channel_health"].reasons == ("version 1 is built, this code reads 2",)
        assert "read model sales is not the one this code reads" in caplog.text
        assert "sales rebuilt in" in caplog.text

        assert snapshot(settings, live) == before
        for projection in PROJECTIONS:
            assert outdated(engine, live, projection) == []
        # `dist migrate` again (every process start does it): nothing to rebuild.
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="projections.upgrade"):
            migrate(settings)
        assert "rebuilding" not in caplog.text
    finally:
        engine.dispose()


def test_a_new_read_model_is_created_empty_and_recorded(settings):
    engine = projections_engine(settings, "fresh_read_models", pool_size=1)
    try:
        fresh = settings.model_copy(update={"projections_schema": "fresh_read_models"})
        verdicts = upgrade(fresh, engine, PROJECTIONS)
        assert {v.action for v in verdicts} == {"created"}
        assert {v.action for v in upgrade(fresh, engine, PROJECTIONS)} == {"current"}
    finally:
        engine.dispose()

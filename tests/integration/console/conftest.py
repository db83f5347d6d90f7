"""Fixtures of the console's browser tests: one platform (six processes and the console,
the demo company with its live warnings seeded) per test module, one Chromium per module,
a fresh page per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from console import app as console_process
from console import assets
from console.web import Urls
from projections import bootstrap as query_process
from runtime.clock import ManualClock
from runtime.demo import seed_demo_company
from services.finance import bootstrap as finance_process
from services.identity import bootstrap as identity_process
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from services.warnings import bootstrap as warnings_process
from tests.conftest import fresh_database, migrated_settings
from tests.integration.console.support import (
    AXE_DIR,
    AXE_LOCK,
    CHROMIUM,
    CHROMIUM_ARGS,
    THRESHOLD,
    playwright_api,
)
from tests.platform import one_business_month, query_caught_up, serving


@pytest.fixture(scope="module")
def platform(postgres_server_url, bootstrap_servers, broker, tmp_path_factory) -> Iterator[dict]:
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_database(postgres_server_url))
        settings = migrated_settings(
            database_url,
            bootstrap_servers,
            broker,
            tmp_path_factory.mktemp("console"),
            order_approval_threshold=THRESHOLD,
        )
        clients = {
            name: stack.enter_context(serving(build(settings)))
            for name, build in (
                ("orders", orders_process.build),
                ("inventory", inventory_process.build),
                ("finance", finance_process.build),
                ("identity", identity_process.build),
                ("query", query_process.build),
            )
        }
        # Early warning on a clock the tests move (the demo's allowances are minutes): a
        # warning escalates when a test says so, not when a slow machine happens to pass one.
        warnings_clock = ManualClock(datetime.now(UTC))
        clients["warnings"] = stack.enter_context(
            serving(warnings_process.build(settings, clock=warnings_clock, tick_s=0.1))
        )
        base = {name: str(client.base_url).rstrip("/") for name, client in clients.items()}
        seeded: dict[str, int] = {}
        with one_business_month() as month:
            seed_demo_company(
                orders_url=base["orders"],
                inventory_url=base["inventory"],
                finance_url=base["finance"],
                warnings_url=base["warnings"],
                api_key="demo-hq-admin",
                positions=seeded,
            )
            query_caught_up(clients["query"], seeded, f"{month:%Y-%m}")
        urls = Urls(**{name: base[name] for name in Urls.__dataclass_fields__})
        console = stack.enter_context(serving(console_process.build(settings, urls=urls)))
        yield {
            **clients,
            "console": str(console.base_url).rstrip("/"),
            "warnings_clock": warnings_clock,
            "month": f"{month:%Y-%m}",  # the seed's business month
        }


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, platform):
    context = browser.new_context(base_url=platform["console"], locale="zh-CN")
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def axe_source() -> str:
    try:
        assets.install(vendor=AXE_DIR, lock=AXE_LOCK)
    except OSError as error:
        pytest.skip(f"axe-core could not be fetched from the npm registry: {error}")
    return (AXE_DIR / "axe.min.js").read_text()

"""The finance HTTP app (port 8103): operations endpoints until its resources arrive."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.http.app import broker_reachable, create_app, database_reachable, relay_running
from runtime.relay import Relay
from runtime.settings import Settings
from services.finance.application import FinanceApplication


def build_api(settings: Settings, app: FinanceApplication, relay: Relay | None) -> FastAPI:
    checks = [database_reachable(app), broker_reachable(settings)]
    if relay is not None:
        checks.append(relay_running(relay))
    api = create_app(
        title="finance",
        process="finance",
        settings=settings,
        checks=checks,
        description="Dealer accounts, invoices, receipts, credit notes and rebates.",
    )
    api.state.finance = app
    return api

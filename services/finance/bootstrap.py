"""Wires the finance process: application, relay, HTTP app."""

from __future__ import annotations

from runtime.process import Process
from runtime.relay import Relay
from runtime.settings import Settings
from services.finance.api.app import build_api
from services.finance.application import FinanceApplication
from services.finance.contract import to_integration_event


def build(settings: Settings, *, with_relay: bool = True) -> Process:
    app = FinanceApplication(settings)
    relay = Relay(settings, app, to_integration_event) if with_relay else None
    return Process(
        name="finance",
        api=build_api(settings, app, relay),
        workers=[relay] if relay else [],
        on_close=[app.close],
    )

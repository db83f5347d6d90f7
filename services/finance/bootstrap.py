"""Wires the finance process. Its resources arrive with order to cash; until then it serves
the operations endpoints and runs its relay."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.finance.application import FinanceApplication
from services.finance.contract import to_integration_event


def build(settings: Settings, *, with_relay: bool = True) -> Process:
    return service_process(
        settings,
        application_class=FinanceApplication,
        translate=to_integration_event,
        routers=[],
        description="Dealer accounts, invoices, receipts, credit notes and rebates.",
        with_relay=with_relay,
    )

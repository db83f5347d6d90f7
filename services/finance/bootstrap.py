"""Wires the finance process: its application, relay, process manager and HTTP app."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.finance.api.opening import opening_balances
from services.finance.api.routes import (
    accounts,
    credit_notes,
    invoices,
    rebate_claims,
    rebate_policies,
    receipts,
)
from services.finance.application import POLICIES, FinanceApplication
from services.finance.contract import to_integration_event
from services.imports.api import import_routes


def build(
    settings: Settings, *, with_relay: bool = True, with_process_manager: bool = True
) -> Process:
    return service_process(
        settings,
        application_class=FinanceApplication,
        translate=to_integration_event,
        routers=[
            import_routes("finance"),
            accounts,
            opening_balances,
            invoices,
            receipts,
            credit_notes,
            rebate_policies,
            rebate_claims,
        ],
        description="Dealer accounts and credit, invoices, receipts, credit notes, rebates "
        "(policies, settlement, claims).",
        policies=POLICIES,
        listens_to=("orders", "inventory"),
        with_relay=with_relay,
        with_process_manager=with_process_manager,
    )

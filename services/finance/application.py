"""The finance application. Its aggregates (dealer accounts, invoices, receipts, rebates)
arrive with order to cash; the process, its event store, relay and HTTP surface run now."""

from __future__ import annotations

from runtime.eventstore import ServiceApplication


class FinanceApplication(ServiceApplication):
    service = "finance"
    name = "finance"

"""A Chengdu company on the running orders, inventory and finance processes, for the order
to cash tests: each process serves HTTP and runs its relay and process manager against real
PostgreSQL and the real broker."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal

import httpx

from services.finance import bootstrap as finance_process
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from tests.platform import (
    HQ,
    command,
    command_when_known,
    register_organisation,
    serving,
    wait_until,
)

CHENGDU_CLERK = {"Authorization": "Bearer demo-chengdu-clerk"}
CHENGDU_MANAGER = {"Authorization": "Bearer demo-chengdu-manager"}
CHENGDU_WAREHOUSE = {"Authorization": "Bearer demo-chengdu-warehouse"}
CREDIT_CONTROLLER = {"Authorization": "Bearer demo-credit-controller"}
DEALER_CD001 = {"Authorization": "Bearer demo-dealer-cd001"}

WULIANGYE = "WULIANGYE-52-500ML"
JIANNANCHUN = "JIANNANCHUN-52-500ML"
PRICES = {WULIANGYE: Decimal("1299.00"), JIANNANCHUN: Decimal("458.50")}


@dataclass
class Company:
    orders: httpx.Client
    inventory: httpx.Client
    finance: httpx.Client | None

    # -- set-up ------------------------------------------------------------------------------
    def register(self) -> None:
        register_organisation(self.orders)
        for code, name, grade in (
            ("CD-001", "Jinjiang Wine Trading", "tier1_distributor"),
            ("CD-002", "Wuhou Liquor Store", "tier2_distributor"),
        ):
            body = {"code": code, "name": name, "branch": "CD", "region": "SOUTHWEST"}
            ok(command(self.orders, "/dealers", {**body, "grade": grade}, headers=HQ))
        for sku, price in PRICES.items():
            body = {"sku": sku, "name": sku.title(), "category": "BAIJIU", "list_price": str(price)}
            ok(command(self.orders, "/products", body, headers=HQ))
        warehouse = {
            "code": "WH-CD",
            "name": "Chengdu DC",
            "kind": "branch",
            "branch": "CD",
            "region": "SOUTHWEST",
        }
        ok(command_when_known(self.inventory, "/warehouses", warehouse, headers=HQ))

    def receive(self, sku: str, quantity: int, unit_cost: str = "812.00") -> dict:
        """Goods into the Chengdu DC (once inventory knows the SKU from orders)."""
        line = {"sku": sku, "quantity": quantity, "unit_cost": unit_cost}
        body = {"warehouse_code": "WH-CD", "lines": [line]}
        return ok(
            command_when_known(self.inventory, "/goods-receipts", body, headers=CHENGDU_WAREHOUSE)
        )

    def credit_terms(self, dealer: str, limit: str, days: int = 30) -> dict:
        body = {"credit_limit": limit, "payment_terms_days": days}
        path = f"/accounts/{dealer}/credit-terms"
        return ok(command_when_known(self.finance, path, body, headers=HQ))

    # -- the flow ----------------------------------------------------------------------------
    def place(
        self, lines: dict[str, int], dealer: str = "CD-001", business_date: str = "2026-11-20"
    ) -> dict:
        body = {
            "dealer_code": dealer,
            "business_date": business_date,
            "lines": [{"sku": s, "quantity": q} for s, q in lines.items()],
        }
        return ok(command(self.orders, "/orders", body, headers=CHENGDU_CLERK))

    def order(self, order_id: str) -> dict:
        return ok(self.orders.get(f"/orders/{order_id}", headers=HQ))

    def wait_status(self, order_id: str, *statuses: str, timeout: float = 45) -> dict:
        return wait_until(
            lambda: (o := self.order(order_id))["status"] in statuses and o,
            timeout=timeout,
            what=f"order {order_id} to become {' or '.join(statuses)}",
        )

    def wait_shippable(self, order_id: str) -> dict:
        """Inventory learns of the approval from the orders topic, a moment after orders."""
        return wait_until(
            lambda: (
                (r := self.inventory.get(f"/stock/reservations/{order_id}", headers=HQ)).status_code
                == 200
                and r.json()["status"] == "approved"
                and r.json()
            ),
            timeout=45,
            what=f"order {order_id} to be shippable",
        )

    def ship(self, order_id: str, lines: dict[str, int], ship_date: str = "2026-11-21"):
        body = {
            "order_id": order_id,
            "ship_date": ship_date,
            "lines": [{"sku": s, "quantity": q} for s, q in lines.items()],
        }
        return command(self.inventory, "/shipments", body, headers=CHENGDU_WAREHOUSE)

    def stock(self, sku: str) -> dict:
        return ok(self.inventory.get(f"/stock/WH-CD/{sku}", headers=HQ))

    def account(self, dealer: str = "CD-001") -> dict:
        return ok(self.finance.get(f"/accounts/{dealer}", headers=HQ))

    def wait_account(self, condition, dealer: str = "CD-001", what: str = "the account"):
        return wait_until(
            lambda: (a := self.account(dealer)) and condition(a) and a, timeout=45, what=what
        )


def ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), (response.status_code, response.text)
    return response.json()


@contextmanager
def running_company(
    settings, *, inventory_members: int = 1, finance_members: int = 1, with_finance: bool = True
):
    """The three write-side processes; extra members of inventory or finance share their
    consumer group (so their process managers work on different partitions at once).
    Without finance, the test runs finance itself (as a process it can kill)."""
    with ExitStack() as stack:
        orders = stack.enter_context(serving(orders_process.build(settings)))
        inventories = [
            stack.enter_context(serving(inventory_process.build(settings)))
            for _ in range(inventory_members)
        ]
        finances = [
            stack.enter_context(serving(finance_process.build(settings)))
            for _ in range(finance_members if with_finance else 0)
        ]
        company = Company(orders, inventories[0], finances[0] if finances else None)
        company.register()
        yield company

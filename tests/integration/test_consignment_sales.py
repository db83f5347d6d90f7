"""寄售结算 end to end: consignment stock a dealer reported sold is priced by orders at its
grade's price list in effect on the period's last day and invoiced by finance once, through
the running orders, inventory and finance processes on real PostgreSQL and the broker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.finance.domain import Invoice
from tests.integration.saga import DEALER_CD001, WULIANGYE, ok, running_company
from tests.platform import HQ, command, command_when_known
from tests.platform import business_day as day

pytestmark = pytest.mark.integration

STORE = {
    "code": "WH-CSG-CD-001",
    "name": "Jinjiang Wine Trading consignment store",
    "kind": "consignment",
    "branch": "CD",
    "region": "SOUTHWEST",
    "dealer_code": "CD-001",
}


def test_consignment_sold_is_invoiced_once_at_the_grade_price_of_the_periods_last_day(settings):
    with running_company(settings) as company:
        inventory, finance = company.inventory, company.finance
        ok(command_when_known(inventory, "/warehouses", STORE, headers=HQ))
        company.receive(WULIANGYE, 50)
        company.credit_terms("CD-001", "100000.00", days=30)
        # The tier-1 price: 1199.00 from today, 1249.00 from day 20.
        for price, start in (("1199.00", day(0)), ("1249.00", day(20))):
            body = {"sku": WULIANGYE, "unit_price": price, "effective_from": start}
            ok(command(company.orders, "/price-lists/tier1_distributor/prices", body, headers=HQ))

        moved = {
            "from_warehouse": "WH-CD",
            "to_warehouse": STORE["code"],
            "ship_date": day(0),
            "lines": [{"sku": WULIANGYE, "quantity": 24}],
        }
        sent = ok(command(inventory, "/transfers", moved, headers=HQ))
        arrived = {"received_on": day(1), "lines": [{"sku": WULIANGYE, "received": 24}]}
        path = f"/transfers/{sent['transfer_id']}/receipt"
        ok(command(inventory, path, arrived, headers=DEALER_CD001))
        # Moving stock to the dealer's store is not a sale: nothing is invoiced.
        assert company.account()["invoiced"] == "0.00"

        report = {
            "period_from": day(1),
            "period_to": day(10),
            "lines": [{"sku": WULIANGYE, "quantity": 10}],
        }
        sold = ok(
            command(
                inventory, f"/warehouses/{STORE['code']}/sell-through", report, headers=DEALER_CD001
            )
        )
        account = company.wait_account(lambda a: a["invoices_posted"] == 1, what="the invoice")
        assert account["invoiced"] == "11990.00"  # 10 at the price in effect on day 10
        invoice = ok(finance.get(f"/invoices/{Invoice.create_id(sold['report_id'])}", headers=HQ))
        assert (invoice["issue_date"], invoice["due_date"]) == (day(10), day(40))
        assert [
            (line["sku"], line["quantity"], line["unit_price"]) for line in invoice["lines"]
        ] == [(WULIANGYE, 10, "1199.00")]
        # A later period sells at the later price.
        later = {**report, "period_from": day(21), "period_to": day(30)}
        later["lines"] = [{"sku": WULIANGYE, "quantity": 4}]
        ok(
            command(
                inventory, f"/warehouses/{STORE['code']}/sell-through", later, headers=DEALER_CD001
            )
        )
        account = company.wait_account(lambda a: a["invoices_posted"] == 2, what="the second")
        assert Decimal(account["invoiced"]) == Decimal("11990.00") + 4 * Decimal("1249.00")
        assert account["exposure"] == account["receivables"] == account["invoiced"]
        held = ok(inventory.get(f"/stock/{STORE['code']}/{WULIANGYE}", headers=HQ))
        assert held["on_hand"] == 10

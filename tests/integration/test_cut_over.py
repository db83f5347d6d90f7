"""Go-live (issue 17): a brand brings its stock on hand at cost at the cut-over, then runs its
ordinary business on top. Over HTTP with the saga running: opening stock starts the moving
average that receipts and shipments continue, the inventory app, the query API and the ERP's
ledger agree to the fen, and opening stock after business is refused unless headquarters
reopens the cut-over. Real PostgreSQL, the real broker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projections import bootstrap as query_process
from tests.integration.saga import JIANNANCHUN, WULIANGYE, ok, running_company
from tests.integration.test_erp import ErpRunning, caught_up
from tests.platform import CHENGDU_CLERK, HQ, command, command_when_known, serving

pytestmark = pytest.mark.integration

CUT_OVER = "2026-10-31"
OPENING = {
    "document_number": "OB-WH-CD-2026-10",
    "cut_over_date": CUT_OVER,
    "lines": [
        {"sku": WULIANGYE, "quantity": 100, "unit_cost": "812.35"},
        {"sku": JIANNANCHUN, "quantity": 60, "unit_cost": "296.40"},
    ],
}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text
    return response.json()


def test_opening_stock_then_a_month_of_business_agree_in_every_view(settings):
    with (
        running_company(settings) as company,
        serving(query_process.build(settings)) as query,
        ErpRunning(settings) as erp,
    ):
        inventory = company.inventory
        path = "/warehouses/WH-CD/opening-stock"
        opened = ok(command_when_known(inventory, path, OPENING, headers=HQ, key="ob-wh-cd"))
        stock = {line["sku"]: line for line in opened["stock"]}
        assert (stock[WULIANGYE]["on_hand"], stock[WULIANGYE]["value"]) == (100, "81235.00")
        assert (stock[JIANNANCHUN]["on_hand"], stock[JIANNANCHUN]["value"]) == (60, "17784.00")
        # Idempotent per document: the same key replays, the same number again is refused.
        replayed = command(inventory, path, OPENING, headers=HQ, key="ob-wh-cd")
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.json() == ok(replayed)
        again = problem(
            command(inventory, path, OPENING, headers=HQ), 409, "opening_already_recorded"
        )
        assert again["document_number"] == "OB-WH-CD-2026-10"
        problem(command(inventory, path, OPENING, headers=CHENGDU_CLERK), 403, "forbidden_role")

        # Ordinary business: 30 more bottles at 865.00, an order of 24 shipped.
        company.receive(WULIANGYE, 30, unit_cost="865.00")  # 130 bottles, 107185.00
        company.credit_terms("CD-001", "500000.00")
        order = company.place({WULIANGYE: 24})
        company.wait_status(order["order_id"], "approved")
        company.wait_shippable(order["order_id"])
        shipment = ok(company.ship(order["order_id"], {WULIANGYE: 24}))
        # 24 of 130 at the moving average: 107185.00 x 24 / 130 = 19788.00
        assert [line["cost"] for line in shipment["lines"]] == ["19788.00"]

        # Opening stock after business: refused, until headquarters reopens the cut-over.
        late = {
            "document_number": "OB-WH-CD-2026-10-B",
            "cut_over_date": CUT_OVER,
            "lines": [{"sku": WULIANGYE, "quantity": 10, "unit_cost": "830.00"}],
        }
        closed = problem(command(inventory, path, late, headers=HQ), 409, "cut_over_closed")
        assert closed["skus"] == [WULIANGYE]
        reopening = "/warehouses/WH-CD/cut-over/reopening"
        problem(command(inventory, reopening, {}, headers=CHENGDU_CLERK), 403, "forbidden_role")
        ok(command(inventory, reopening, {}, headers=HQ))
        last = ok(command(inventory, path, late, headers=HQ))
        # 106 bottles at 87397.00, and 10 at 830.00
        assert [(s["on_hand"], s["value"]) for s in last["stock"]] == [(116, "95697.00")]

        # The query API, read at the last command's position.
        rows = ok(
            query.get(
                "/hq/inventory",
                params={"by": "warehouse", "min_position": last["position"]},
                headers=HQ,
            )
        )["items"]
        at_cd = {r["sku"]: r["on_hand"] for r in rows if r["warehouse"] == "WH-CD"}
        assert at_cd == {WULIANGYE: 116, JIANNANCHUN: 60}

        # The ERP's ledger: inventory at cost per SKU = the stock's value in inventory; the
        # opening balances clearing account holds what came in at the cut-over.
        caught_up(settings, erp)
        with erp.ledger.conn.cursor() as curs:
            curs.execute(
                "SELECT sku, sum(debit - credit) FROM erp.journal_lines "
                "WHERE account = '1405' AND warehouse_code = 'WH-CD' GROUP BY 1"
            )
            at_cost = dict(curs.fetchall())
        erp.ledger.conn.rollback()
        values = {
            sku: Decimal(ok(inventory.get(f"/stock/WH-CD/{sku}", headers=HQ))["value"])
            for sku in (WULIANGYE, JIANNANCHUN)
        }
        assert (
            at_cost
            == values
            == {
                WULIANGYE: Decimal("95697.00"),
                JIANNANCHUN: Decimal("17784.00"),
            }
        )
        balance = {row["account"]: row for row in erp.ledger.trial_balance()}
        assert balance["4199"]["balance"] == Decimal("81235.00") + Decimal("17784.00") + Decimal(
            "8300.00"
        )
        assert erp.ledger.summary()["unreadable"] == 0

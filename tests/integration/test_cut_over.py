"""Go-live (issue 17): a brand brings its stock on hand at cost at the cut-over, then runs its
ordinary business on top. Over HTTP with the saga running: opening stock starts the moving
average that receipts and shipments continue, the inventory app, the query API and the ERP's
ledger agree to the fen, and opening stock after business is refused unless headquarters
reopens the cut-over. Real PostgreSQL, the real broker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projections import bootstrap as query_process
from tests.integration.saga import (
    CHENGDU_MANAGER,
    JIANNANCHUN,
    WULIANGYE,
    ok,
    running_company,
)
from tests.integration.test_erp import ErpRunning, caught_up
from tests.platform import CHENGDU_CLERK, HQ, command, command_when_known, serving

pytestmark = [pytest.mark.integration, pytest.mark.broker]

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


OPENING_INVOICES = [
    {
        "invoice_number": "INV-2026-08-0117",
        "issue_date": "2026-08-10",
        "due_date": "2026-09-09",
        "open_amount": "30000.00",
        "cut_over_date": CUT_OVER,
    },
    {
        "invoice_number": "INV-2026-09-0233",
        "issue_date": "2026-09-05",
        "due_date": "2026-10-05",
        "open_amount": "12500.50",
        "cut_over_date": CUT_OVER,
    },
]


def test_opening_invoices_age_are_paid_and_credited_like_any_and_the_ledger_agrees(settings):
    with (
        running_company(settings) as company,
        serving(query_process.build(settings)) as query,
        ErpRunning(settings) as erp,
    ):
        finance = company.finance
        company.credit_terms("CD-001", "100000.00", days=30)  # terms are not business
        path = "/accounts/CD-001/opening-invoices"
        august, september = (
            ok(command_when_known(finance, path, body, headers=HQ, key=body["invoice_number"]))
            for body in OPENING_INVOICES
        )
        assert (september["receivables"], september["exposure"]) == ("42500.50", "42500.50")
        # Last year's rebate, settled in the former system and not yet credited.
        policy = {
            "policy_code": "TIER1-2025",
            "grade": "tier1_distributor",
            "rate": "0.0200",
            "valid_from": "2025-01-01",
            "valid_to": "2025-12-31",
        }
        ok(command(finance, "/rebate-policies", policy, headers=HQ))
        pool = {
            "document_number": "OB-REBATE-CD-001",
            "policy_code": "TIER1-2025",
            "amount": "1500.00",
            "cut_over_date": CUT_OVER,
        }
        pools = "/accounts/CD-001/opening-rebate-pools"
        opened_pool = ok(command(finance, pools, pool, headers=HQ))["rebate_pool"]
        assert (opened_pool["settled"], opened_pool["available"]) == ("1500.00", "1500.00")
        unknown = {**pool, "document_number": "OB-REBATE-X", "policy_code": "NO-SUCH-POLICY"}
        problem(command(finance, pools, unknown, headers=HQ), 404, "unknown_rebate_policy")
        # Wuhou had cash on its account at the cut-over.
        cash = {"document_number": "OB-CASH-CD-002", "amount": "2000.00", "cut_over_date": CUT_OVER}
        on_account = ok(
            command_when_known(finance, "/accounts/CD-002/opening-cash", cash, headers=HQ)
        )
        assert (on_account["receivables"], on_account["exposure"]) == ("-2000.00", "-2000.00")
        again = command(finance, path, OPENING_INVOICES[0], headers=HQ)
        assert problem(again, 409, "opening_already_recorded")["document_number"] == (
            "INV-2026-08-0117"
        )
        problem(
            command(finance, path, OPENING_INVOICES[0], headers=CHENGDU_CLERK),
            403,
            "forbidden_role",
        )

        # A month of business: 24 bottles at 1299.00 (31176.00), within the limit with the
        # opening invoices in exposure (42500.50 + 31176.00 <= 100000.00).
        company.receive(WULIANGYE, 50)
        order = company.place({WULIANGYE: 24})
        company.wait_status(order["order_id"], "approved")
        company.wait_shippable(order["order_id"])
        ok(company.ship(order["order_id"], {WULIANGYE: 24}, ship_date="2026-11-21"))
        company.wait_account(lambda a: a["invoices_posted"] == 3, what="the shipment invoiced")
        late = dict(OPENING_INVOICES[0], invoice_number="INV-2026-10-0999")
        problem(command(finance, path, late, headers=HQ), 409, "cut_over_closed")

        # Cash, oldest first: all of August, 5000.00 of September; a price correction on it.
        receipt = {"dealer_code": "CD-001", "amount": "35000.00", "received_on": "2026-11-25"}
        paid = ok(command(finance, "/receipts", receipt, headers=HQ))
        assert paid["allocations"] == [
            {"invoice_id": august["invoice_id"], "amount": "30000.00"},
            {"invoice_id": september["invoice_id"], "amount": "5000.00"},
        ]
        note = {
            "invoice_id": september["invoice_id"],
            "amount": "500.50",
            "reason": "price correction",
            "issued_on": "2026-11-26",
        }
        credited = ok(command(finance, "/credit-notes", note, headers=HQ))
        assert credited["receivables"] == "38176.00"  # 42500.50 + 31176.00 - 35000 - 500.50
        # The opening pool is claimed and credited like any settled rebate (oldest first).
        claim = {"dealer_code": "CD-001", "amount": "1000.00"}
        filed = ok(command(finance, "/rebate-claims", claim, headers=CHENGDU_CLERK))
        approval = f"/rebate-claims/{filed['claim_id']}/approval"
        rebated = ok(command(finance, approval, {}, headers=CHENGDU_MANAGER))  # credited today

        [aged] = ok(
            query.get(
                "/hq/receivables/aging",
                params={
                    "as_of": "2026-11-30",
                    "dealer": "CD-001",
                    "min_position": rebated["position"],
                },
                headers=HQ,
            )
        )["items"]
        assert aged == {
            "dealer": "CD-001",
            "not_yet_due": "31176.00",  # the shipment's invoice, due 21 December
            "days_1_30": "0.00",
            "days_31_60": "7000.00",  # September's, due 5 October: 56 days past due
            "days_61_90": "0.00",
            "over_90": "0.00",
            "open_invoices": "38176.00",
            "unapplied_cash": "0.00",
            "receivables": "38176.00",  # the rebate credited today counts from today
        }
        [pool_row] = ok(query.get("/hq/rebates/pools", params={"dealer": "CD-001"}, headers=HQ))[
            "items"
        ]
        assert pool_row == {
            "dealer": "CD-001",
            "accrued": "0.00",
            "settled": "1500.00",
            "claimed": "0.00",
            "credited": "1000.00",
            "available": "500.00",
        }
        before_cut_over = ok(
            query.get(
                "/hq/receivables/aging",
                params={"as_of": CUT_OVER, "dealer": "CD-001"},
                headers=HQ,
            )
        )["items"][0]
        # At the cut-over: August 52 days past due, September 26.
        assert (before_cut_over["days_31_60"], before_cut_over["days_1_30"]) == (
            "30000.00",
            "12500.50",
        )

        # The ERP's ledger agrees with the query API per dealer, and holds the opening
        # balances in their clearing account.
        caught_up(settings, erp)
        platform = ok(query.get("/hq/receivables", params={"by": "dealer"}, headers=HQ))["items"]
        theirs = {row["dealer"]: Decimal(row["receivables"]) for row in platform}
        assert theirs == {"CD-001": Decimal("37176.00"), "CD-002": Decimal("-2000.00")}
        assert erp.ledger.receivables() == theirs
        [wuhou] = ok(
            query.get(
                "/hq/receivables/aging",
                params={"as_of": CUT_OVER, "dealer": "CD-002"},
                headers=HQ,
            )
        )["items"]
        assert (wuhou["unapplied_cash"], wuhou["receivables"]) == ("2000.00", "-2000.00")
        balance = {row["account"]: row for row in erp.ledger.trial_balance()}
        # Opening receivables, less opening cash and the opening rebate pool.
        assert balance["4199"]["balance"] == Decimal("42500.50") - Decimal("2000.00") - Decimal(
            "1500.00"
        )
        assert balance["2241.01"]["balance"] == Decimal("500.00")  # 1500.00 - 1000.00 credited
        assert erp.ledger.summary()["unreadable"] == 0

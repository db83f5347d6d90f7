"""核销 (issue 17): cash and credit held on a dealer's account (a receipt beyond what was
owed, a return's credit on a paid invoice, opening cash) is applied to its invoices,
automatically to the oldest open ones when an invoice is issued (the dealer's setting, on by
default) or to the invoices a clerk names. Over HTTP with the saga running: the account, the
query API's aging and the ERP's ledger (Dr 2203 / Cr 1122) agree; two invoices issued at
once never take the same cash. Real PostgreSQL, the real broker."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest

from projections import bootstrap as query_process
from tests.integration.saga import (
    CHENGDU_CLERK,
    CHENGDU_MANAGER,
    CHENGDU_WAREHOUSE,
    DEALER_CD001,
    WULIANGYE,
    ok,
    running_company,
)
from tests.integration.test_cut_over import CUT_OVER, OPENING_INVOICES
from tests.integration.test_erp import ErpRunning, caught_up
from tests.platform import (
    HQ,
    SHANGHAI_CLERK,
    command,
    command_when_known,
    published,
    serving,
    wait_until,
)

pytestmark = pytest.mark.integration

BOTTLE = Decimal("1299.00")
LONG_AFTER = "2027-06-30"  # every invoice here is far past due by then


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text
    return response.json()


def shipped(company, bottles: int, ship_date: str, dealer: str = "CD-001") -> None:
    placed = company.place({WULIANGYE: bottles}, dealer=dealer, business_date="2026-11-20")
    company.wait_status(placed["order_id"], "approved")
    company.wait_shippable(placed["order_id"])
    ok(company.ship(placed["order_id"], {WULIANGYE: bottles}, ship_date=ship_date))


def invoiced(company, count: int, dealer: str = "CD-001") -> dict:
    return company.wait_account(
        lambda a: a["invoices_posted"] == count, dealer=dealer, what=f"{count} invoices"
    )


def receipt(company, amount: str, received_on: str, dealer: str = "CD-001") -> dict:
    body = {"dealer_code": dealer, "amount": amount, "received_on": received_on}
    return ok(command(company.finance, "/receipts", body, headers=CHENGDU_CLERK))


def aging(query, as_of: str, dealer: str = "CD-001") -> dict | None:
    """The dealer's aging row (None until the read model knows the dealer)."""
    params = {"as_of": as_of, "dealer": dealer}
    rows = ok(query.get("/hq/receivables/aging", params=params, headers=HQ))["items"]
    return rows[0] if rows else None


def wait_aging(query, as_of: str, condition, what: str, dealer: str = "CD-001") -> dict:
    return wait_until(
        lambda: (row := aging(query, as_of, dealer)) and condition(row) and row,
        timeout=45,
        what=what,
    )


OVERDUE = ("days_1_30", "days_31_60", "days_61_90", "over_90")


@pytest.fixture
def company(settings):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        company.query = query
        company.receive(WULIANGYE, 100)
        company.credit_terms("CD-001", "500000.00", days=30)
        yield company


def test_an_overpayment_pays_the_next_invoice_as_it_is_issued(settings, company):
    with ErpRunning(settings) as erp:
        shipped(company, 20, "2026-11-21")  # 25980.00
        invoiced(company, 1)
        # Jinjiang pays 40000.00 against 25980.00 owed: 14020.00 stays on account.
        paid = receipt(company, "40000.00", "2026-11-25")
        assert (paid["unapplied"], paid["receivables"]) == ("14020.00", "-14020.00")

        shipped(company, 10, "2026-11-28")  # 12990.00, issued with cash on account
        account = invoiced(company, 2)
        assert account["open_invoices"] == []
        assert (account["unapplied_cash"], account["receivables"]) == ("1030.00", "-1030.00")
        assert account["auto_apply_cash"] is True
        [applied] = published(settings, "finance", "CashApplied")
        assert applied["data"]["automatic"] is True
        assert applied["data"]["applied_on"] == "2026-11-28"
        assert (applied["data"]["amount"], applied["data"]["on_account"]) == ("12990.00", "1030.00")

        # Long after the second invoice fell due, nothing is overdue: it was paid from the
        # cash on account the day it was issued.
        later = wait_aging(
            company.query,
            LONG_AFTER,
            lambda r: r["unapplied_cash"] == "1030.00",
            "the application in the read model",
        )
        assert {name: later[name] for name in OVERDUE} == dict.fromkeys(OVERDUE, "0.00")
        assert (later["open_invoices"], later["receivables"]) == ("0.00", "-1030.00")
        # As of a day before it, the cash was still on account and the invoice not issued.
        before = aging(company.query, "2026-11-27")
        assert (before["unapplied_cash"], before["open_invoices"]) == ("14020.00", "0.00")
        # The same figures as of today's running totals and as of a past date's documents.
        on_the_day = aging(company.query, "2026-11-28")
        assert (on_the_day["unapplied_cash"], on_the_day["not_yet_due"]) == ("1030.00", "0.00")
        statement = ok(
            company.query.get("/dealers/CD-001/statement", params={"as_of": LONG_AFTER}, headers=HQ)
        )
        assert statement["open_invoices"] == [] and statement["receivables"] == "-1030.00"

        # The ERP cleared the advance against the receivable, and still agrees.
        caught_up(settings, erp)
        balance = {row["account"]: row for row in erp.ledger.trial_balance()}
        assert balance["2203"]["balance"] == Decimal("1030.00")
        assert balance["2203"]["debit"] == Decimal("12990.00")
        assert balance["1122"]["balance"] == Decimal("0.00")
        debits = sum((row["debit"] for row in balance.values()), Decimal(0))
        credits = sum((row["credit"] for row in balance.values()), Decimal(0))
        assert debits == credits
        assert erp.ledger.receivables() == {"CD-001": Decimal("-1030.00")}
        assert erp.ledger.summary()["unreadable"] == 0


def test_with_the_setting_off_nothing_applies_until_a_clerk_names_invoices(company):
    finance, setting = company.finance, "/accounts/CD-001/cash-application-setting"
    problem(
        command(finance, setting, {"auto_apply": False}, headers=CHENGDU_CLERK),
        403,
        "forbidden_role",
    )
    off = ok(command(finance, setting, {"auto_apply": False}, headers=CHENGDU_MANAGER))
    assert off["auto_apply_cash"] is False

    shipped(company, 20, "2026-11-21")  # 25980.00
    [paid] = invoiced(company, 1)["open_invoices"]
    receipt(company, "30000.00", "2026-11-25")  # 4020.00 on account
    shipped(company, 10, "2026-11-28")  # 12990.00
    account = invoiced(company, 2)
    [second] = account["open_invoices"]
    assert (second["open"], account["unapplied_cash"]) == ("12990.00", "4020.00")
    path = "/accounts/CD-001/cash-applications"

    def apply(*allocations, headers=CHENGDU_CLERK, key=None, applied_on="2026-11-30"):
        body = {
            "applied_on": applied_on,
            "allocations": [{"invoice_id": i, "amount": a} for i, a in allocations],
        }
        return command(finance, path, body, headers=headers, key=key)

    problem(apply((str(uuid.uuid4()), "100.00")), 404, "unknown_invoice")
    refused = problem(
        apply((second["invoice_id"], "12990.01")), 409, "cash_application_exceeds_open"
    )
    assert refused["open"] == "12990.00"
    held = problem(
        apply((second["invoice_id"], "4020.01")), 409, "cash_application_exceeds_on_account"
    )
    assert held["on_account"] == "4020.00"
    # The first invoice is paid: it has nothing open.
    problem(apply((paid["invoice_id"], "1.00")), 409, "cash_application_exceeds_open")
    problem(
        apply((second["invoice_id"], "1.00"), applied_on="2026-11-24"), 409, "invalid_business_date"
    )
    twice = apply((second["invoice_id"], "1.00"), (second["invoice_id"], "1.00"))
    problem(twice, 409, "request_rule_violated")
    assert apply((second["invoice_id"], "0.001")).status_code == 422
    assert apply((second["invoice_id"], "1.00"), headers=SHANGHAI_CLERK).status_code in (403, 404)
    assert apply((second["invoice_id"], "1.00"), headers=DEALER_CD001).status_code == 403
    assert company.account()["unapplied_cash"] == "4020.00"  # nothing refused changed a thing

    applied = ok(apply((second["invoice_id"], "4020.00"), key="apply-cd001-1130"))
    assert applied["allocations"] == [{"invoice_id": second["invoice_id"], "amount": "4020.00"}]
    assert (applied["unapplied_cash"], applied["receivables"]) == ("0.00", "8970.00")
    assert [i["open"] for i in applied["open_invoices"]] == ["8970.00"]
    replayed = apply((second["invoice_id"], "4020.00"), key="apply-cd001-1130")
    assert replayed.headers["idempotent-replayed"] == "true" and replayed.json() == applied
    problem(
        apply((second["invoice_id"], "20.00"), key="apply-cd001-1130"),
        409,
        "idempotency_key_reused",
    )

    row = wait_aging(
        company.query,
        "2026-11-30",
        lambda r: r["unapplied_cash"] == "0.00",
        "the clerk's application in the read model",
    )
    assert (row["not_yet_due"], row["receivables"]) == ("8970.00", "8970.00")
    # Before the clerk applied it, the cash was on account and the invoice open in full.
    before = aging(company.query, "2026-11-29")
    assert (before["unapplied_cash"], before["not_yet_due"]) == ("4020.00", "12990.00")


def test_a_returns_credit_on_a_paid_invoice_pays_the_next_invoice(company):
    placed = company.place({WULIANGYE: 20}, business_date="2026-11-20")
    order_id = placed["order_id"]
    company.wait_status(order_id, "approved")
    company.wait_shippable(order_id)
    ok(company.ship(order_id, {WULIANGYE: 20}, ship_date="2026-11-21"))
    invoiced(company, 1)
    receipt(company, "25980.00", "2026-11-22")  # paid in full

    # Five bottles come back: the invoice is paid, so their credit is held on account.
    ask = {"order_id": order_id, "lines": [{"sku": WULIANGYE, "quantity": 5}], "reason": "seals"}
    return_id = ok(command(company.orders, "/returns", ask, headers=DEALER_CD001))["return_id"]
    approval = f"/returns/{return_id}/approval"
    ok(command(company.orders, approval, {}, headers=CHENGDU_MANAGER))
    path = f"/goods-receipts/returns/{return_id}"
    wait_until(
        lambda: (
            (r := company.inventory.get(path, headers=HQ)).status_code == 200
            and r.json()["status"] == "expected"
        ),
        timeout=45,
        what="the return to be expected",
    )
    count = {"received_on": "2026-11-26", "lines": [{"sku": WULIANGYE, "good": 5, "damaged": 0}]}
    ok(command(company.inventory, path, count, headers=CHENGDU_WAREHOUSE))
    held = company.wait_account(lambda a: a["credited"] == "6495.00", what="the return's credit")
    assert (held["unapplied_cash"], held["open_invoices"]) == ("6495.00", [])

    shipped(company, 10, "2026-11-28")  # 12990.00: the credit pays half of it
    account = invoiced(company, 2)
    assert account["unapplied_cash"] == "0.00"
    assert [i["open"] for i in account["open_invoices"]] == ["6495.00"]
    row = wait_aging(
        company.query, LONG_AFTER, lambda r: r["unapplied_cash"] == "0.00", "the application"
    )
    assert (row["over_90"], row["open_invoices"], row["receivables"]) == (
        "6495.00",
        "6495.00",
        "6495.00",
    )
    assert aging(company.query, "2026-11-27")["unapplied_cash"] == "6495.00"


def test_opening_cash_is_applied_by_a_clerk_and_then_automatically(company):
    finance = company.finance
    company.credit_terms("CD-002", "200000.00", days=30)
    opening = "/accounts/CD-002/opening-invoices"
    # The opening invoices test_cut_over brings in for Jinjiang, here Wuhou's.
    august, september = (
        ok(command_when_known(finance, opening, body, headers=HQ)) for body in OPENING_INVOICES
    )
    cash = {"document_number": "OB-CASH-CD-002", "amount": "2000.00", "cut_over_date": CUT_OVER}
    ok(command(finance, "/accounts/CD-002/opening-cash", cash, headers=HQ))

    # The clerk applies 1500.00 of it to the September invoice, the dealer's choice.
    body = {
        "applied_on": CUT_OVER,
        "allocations": [{"invoice_id": september["invoice_id"], "amount": "1500.00"}],
    }
    applied = ok(
        command(finance, "/accounts/CD-002/cash-applications", body, headers=CHENGDU_CLERK)
    )
    assert (applied["unapplied_cash"], applied["receivables"]) == ("500.00", "40500.50")
    row = wait_aging(
        company.query, CUT_OVER, lambda r: r["unapplied_cash"] == "500.00", "it", dealer="CD-002"
    )
    assert (row["days_31_60"], row["days_1_30"]) == ("30000.00", "11000.50")

    # The dealer's first shipment after the cut-over: the rest goes to the oldest invoice.
    shipped(company, 2, "2026-11-21", dealer="CD-002")
    account = invoiced(company, 3, dealer="CD-002")
    assert account["unapplied_cash"] == "0.00"
    opened = {i["invoice_id"]: i["open"] for i in account["open_invoices"]}
    assert (opened[august["invoice_id"]], opened[september["invoice_id"]]) == (
        "29500.00",
        "11000.50",
    )
    row = wait_aging(
        company.query, "2026-11-21", lambda r: r["unapplied_cash"] == "0.00", "it", dealer="CD-002"
    )
    assert (row["days_61_90"], row["days_31_60"]) == ("29500.00", "11000.50")


def test_invoices_issued_at_once_never_apply_the_same_cash_twice(settings):
    with (
        running_company(settings, finance_members=2, inventory_members=2) as company,
        serving(query_process.build(settings)) as query,
    ):
        company.receive(WULIANGYE, 100)
        company.credit_terms("CD-001", "500000.00", days=30)
        receipt(company, "20000.00", "2026-11-19")  # nothing owed yet: all on account
        orders = [company.place({WULIANGYE: 10})["order_id"] for _ in range(3)]
        for order_id in orders:
            company.wait_status(order_id, "approved")
            company.wait_shippable(order_id)
        # Three shipments at once: three invoices that each want the 20000.00.
        answers: list = []
        threads = [
            threading.Thread(
                target=lambda o=order_id: answers.append(
                    company.ship(o, {WULIANGYE: 10}, ship_date="2026-11-21")
                )
            )
            for order_id in orders
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(a.status_code for a in answers) == [201, 201, 201]

        account = invoiced(company, 3)
        assert account["unapplied_cash"] == "0.00"
        assert sum(Decimal(i["open"]) for i in account["open_invoices"]) == Decimal("18970.00")
        applications = wait_until(
            lambda: (
                (found := published(settings, "finance", "CashApplied"))
                and sum(Decimal(a["data"]["amount"]) for a in found) >= Decimal("20000.00")
                and found
            ),
            timeout=30,
            what="the applications on the topic",
        )
        assert sum(Decimal(a["data"]["amount"]) for a in applications) == Decimal("20000.00")
        per_invoice: dict[str, Decimal] = {}
        for application in applications:
            for allocation in application["data"]["allocations"]:
                invoice_id = allocation["invoice_id"]
                per_invoice[invoice_id] = per_invoice.get(invoice_id, 0) + Decimal(
                    allocation["amount"]
                )
        assert all(amount <= 10 * BOTTLE for amount in per_invoice.values())
        row = wait_aging(
            query, "2026-11-21", lambda r: r["unapplied_cash"] == "0.00", "the applications"
        )
        assert (row["not_yet_due"], row["receivables"]) == ("18970.00", "18970.00")

"""Returns (退货) end to end over HTTP, through orders, inventory, finance and the query
process on real PostgreSQL and the broker: a dealer asks, a manager approves, the warehouse
counts the goods in (good back to available, damaged to damaged stock, at their shipped
cost), finance credits them at the order's prices and discount on the invoices that billed
them (the rest on account when they were paid), and HQ's receivables and sales agree."""

from __future__ import annotations

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
from tests.platform import HQ, SHANGHAI_CLERK, command, serving, wait_until
from tests.platform import business_day as day

pytestmark = pytest.mark.integration

NET = Decimal("1234.05")  # 1299.00 list price, 5 % off baijiu


@pytest.fixture
def company(settings):
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        company.query = query
        company.receive(WULIANGYE, 100)  # at 812.00
        company.credit_terms("CD-001", "500000.00", days=30)
        for promotion in (
            {
                "kind": "buy_get",
                "code": "WLY-10-1",
                "name": "buy 10 get 1",
                "buy_sku": WULIANGYE,
                "buy_quantity": 10,
                "gift_sku": WULIANGYE,
                "gift_quantity": 1,
            },
            {
                "kind": "category_discount",
                "code": "BAIJIU-5",
                "name": "5 % off baijiu",
                "category": "BAIJIU",
                "discount_rate": "0.05",
            },
        ):
            body = {**promotion, "valid_from": day(0), "valid_to": day(30)}
            ok(command(company.orders, "/promotions", body, headers=HQ))
        yield company


def wait_for(client, path: str, condition, what: str, headers=HQ) -> dict:
    try:
        return wait_until(
            lambda: (
                (r := client.get(path, headers=headers)).status_code == 200
                and condition(r.json())
                and r.json()
            ),
            timeout=45,
            what=what,
        )
    except AssertionError:
        raise AssertionError(f"{what}: {client.get(path, headers=headers).text}") from None


def shipped_order(company) -> tuple[str, list[dict]]:
    """20 paid and 2 gift bottles, shipped 15 then 7; the first invoice partly paid."""
    placed = company.place({WULIANGYE: 20}, business_date=day(0))
    assert [line["unit_price"] for line in placed["lines"]] == [f"{NET}", "0.00"]
    order_id = placed["order_id"]
    company.wait_status(order_id, "approved")
    company.wait_shippable(order_id)
    ok(company.ship(order_id, {WULIANGYE: 15}, ship_date=day(1)))
    ok(company.ship(order_id, {WULIANGYE: 7}, ship_date=day(2)))
    company.wait_status(order_id, "shipped")
    account = company.wait_account(
        lambda a: a["invoices_posted"] == 2 and a["invoiced"] == f"{NET * 20}", what="invoices"
    )
    first = account["open_invoices"][0]["invoice_id"]
    receipt = {
        "dealer_code": "CD-001",
        "amount": "10000.00",
        "received_on": day(3),
        "allocations": [{"invoice_id": first, "amount": "10000.00"}],
    }
    ok(command(company.finance, "/receipts", receipt, headers=CHENGDU_CLERK))
    return order_id, account["open_invoices"]


def test_a_return_from_request_to_credit(company):
    order_id, invoices = shipped_order(company)
    ask = {"order_id": order_id, "lines": [{"sku": WULIANGYE, "quantity": 18}], "reason": "seals"}

    # What may not be returned, and by whom.
    too_many = command(
        company.orders,
        "/returns",
        {**ask, "lines": [{"sku": WULIANGYE, "quantity": 23}]},
        headers=DEALER_CD001,
    )
    assert too_many.status_code == 409 and too_many.json()["code"] == "return_exceeds_shipped"
    other = command(
        company.orders,
        "/returns",
        {**ask, "lines": [{"sku": "JIANNANCHUN-52-500ML", "quantity": 1}]},
        headers=DEALER_CD001,
    )
    assert other.status_code == 409 and other.json()["code"] == "return_exceeds_shipped"
    twice = command(
        company.orders,
        "/returns",
        {**ask, "lines": [{"sku": WULIANGYE, "quantity": 1}, {"sku": WULIANGYE, "quantity": 1}]},
        headers=DEALER_CD001,
    )
    assert twice.status_code == 409 and twice.json()["code"] == "request_rule_violated"
    assert command(company.orders, "/returns", ask, headers=SHANGHAI_CLERK).status_code == 403

    requested = ok(command(company.orders, "/returns", ask, headers=DEALER_CD001))
    return_id = requested["return_id"]
    assert requested["status"] == "requested" and requested["warehouse_code"] == "WH-CD"
    # Only 4 of the 22 shipped are left to return.
    more = command(
        company.orders,
        "/returns",
        {**ask, "lines": [{"sku": WULIANGYE, "quantity": 5}]},
        headers=CHENGDU_CLERK,
    )
    assert more.status_code == 409 and more.json()["code"] == "return_exceeds_shipped"

    # The warehouse cannot count in what nobody approved.
    count = {"received_on": day(5), "lines": [{"sku": WULIANGYE, "good": 14, "damaged": 3}]}
    receipt_path = f"/goods-receipts/returns/{return_id}"
    early = command(company.inventory, receipt_path, count, headers=CHENGDU_WAREHOUSE)
    assert early.status_code == 404 and early.json()["code"] == "unknown_return"
    assert (
        command(
            company.orders, f"/returns/{return_id}/approval", {}, headers=CHENGDU_CLERK
        ).status_code
        == 403
    )
    approved = ok(
        command(company.orders, f"/returns/{return_id}/approval", {}, headers=CHENGDU_MANAGER)
    )
    assert approved["status"] == "approved"
    again = command(company.orders, f"/returns/{return_id}/approval", {}, headers=HQ)
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"

    wait_for(company.inventory, receipt_path, lambda r: r["status"] == "expected", "expected")
    over = {**count, "lines": [{"sku": WULIANGYE, "good": 16, "damaged": 3}]}
    refused = command(company.inventory, receipt_path, over, headers=CHENGDU_WAREHOUSE)
    assert refused.status_code == 409 and refused.json()["code"] == "return_over_receipt"
    received = ok(command(company.inventory, receipt_path, count, headers=CHENGDU_WAREHOUSE))
    assert received["received"] == [
        {"sku": WULIANGYE, "good": 14, "damaged": 3, "unit_cost": "812.00", "value": "13804.00"}
    ]
    second = command(company.inventory, receipt_path, count, headers=HQ)
    assert second.status_code == 409 and second.json()["code"] == "invalid_transition"
    stock = company.stock(WULIANGYE)
    assert (stock["on_hand"], stock["damaged"], stock["available"]) == (95, 3, 92)
    assert stock["value"] == f"{95 * Decimal('812.00'):.2f}"  # back at the cost it left at

    # Finance credits the 17 that came back at the order's price after discount: the first
    # invoice's 15 and 2 paid units of the second; each invoice takes what it has open, the
    # rest of the credit stays on account.
    credited = wait_for(
        company.orders, f"/returns/{return_id}", lambda r: r["status"] == "credited", "credit"
    )
    assert credited["credited"] == f"{NET * 17:.2f}" == "20978.85"
    assert credited["received"] == [{"sku": WULIANGYE, "good": 14, "damaged": 3}]
    account = company.account()
    assert account["open_invoices"] == []
    assert account["unapplied_cash"] == f"{NET * 17 - (NET * 20 - Decimal('10000.00')):.2f}"
    assert account["receivables"] == f"{NET * 20 - Decimal('10000.00') - NET * 17:.2f}"
    assert account["credited"] == "20978.85"
    # One bottle never arrived: it may still be returned, with the rest.
    assert (
        command(
            company.orders,
            "/returns",
            {**ask, "lines": [{"sku": WULIANGYE, "quantity": 5}]},
            headers=CHENGDU_CLERK,
        ).status_code
        == 201
    )

    # HQ's read models agree with finance to the fen.
    receivables = wait_for(
        company.query,
        f"/hq/receivables?dealer=CD-001&as_of={day(60)}",
        lambda r: [row["credited"] for row in r["items"]] == ["20978.85"],
        "the receivables read model",
    )
    assert receivables["items"][0]["receivables"] == account["receivables"]
    # A later receipt: as of day 6 the figures come from the documents, as of day 60 from
    # the running totals; both agree with finance.
    later = {"dealer_code": "CD-001", "amount": "100.00", "received_on": day(10)}
    ok(command(company.finance, "/receipts", later, headers=CHENGDU_CLERK))
    now = company.wait_account(lambda a: a["received"] == "10100.00", what="the later receipt")

    def aging(as_of: str, condition=lambda row: True) -> dict:
        path = f"/hq/receivables/aging?as_of={as_of}&dealer=CD-001"
        return wait_for(company.query, path, lambda r: condition(r["items"][0]), "aging")["items"][
            0
        ]

    assert (
        aging(day(60), lambda row: row["unapplied_cash"] == now["unapplied_cash"])["receivables"]
        == now["receivables"]
    )
    before = aging(day(6))
    assert (before["unapplied_cash"], before["receivables"]) == (
        account["unapplied_cash"],
        account["receivables"],
    )

    def sales_total(figure: str, r: dict) -> Decimal:
        return sum((Decimal(item[figure]) for item in r["items"]), Decimal("0.00"))

    sales = wait_for(
        company.query,
        "/hq/sales?by=sku&period=month",
        lambda r: sales_total("credited_amount", r) == Decimal("20978.85"),
        "credited sales",
    )
    assert sales_total("net_sales", sales) == NET * 3


def test_a_rejected_return_frees_its_quantities(company):
    order_id, _ = shipped_order(company)
    ask = {
        "order_id": order_id,
        "lines": [{"sku": WULIANGYE, "quantity": 22}],
        "reason": "overstock",
    }
    requested = ok(command(company.orders, "/returns", ask, headers=CHENGDU_CLERK))
    path = f"/returns/{requested['return_id']}/rejection"
    rejected = ok(
        command(company.orders, path, {"reason": "not our policy"}, headers=CHENGDU_MANAGER)
    )
    assert rejected["status"] == "rejected" and rejected["decision"] == "not our policy"
    assert ok(
        command(company.orders, "/returns", {**ask, "reason": "again"}, headers=CHENGDU_CLERK)
    )

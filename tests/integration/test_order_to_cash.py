"""Order to cash through HTTP and Kafka: an order is priced, credit and stock are reserved
by finance and inventory, orders approves, the warehouse ships in parts, finance invoices
each shipment at the order's prices, the dealer confirms delivery and pays. Real PostgreSQL,
the real broker, each service's relay and process manager running."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.kernel.dates import business_today
from tests.integration.saga import (
    CHENGDU_CLERK,
    CHENGDU_MANAGER,
    CREDIT_CONTROLLER,
    DEALER_CD001,
    JIANNANCHUN,
    PRICES,
    WULIANGYE,
    ok,
    running_company,
)
from tests.platform import HQ, command, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]


@pytest.fixture
def company(settings):
    with running_company(settings) as company:
        company.receive(WULIANGYE, 100)
        company.receive(JIANNANCHUN, 40)
        company.credit_terms("CD-001", "100000.00", days=30)
        yield company


def test_the_happy_path_from_order_to_cash(company):
    placed = company.place({WULIANGYE: 30, JIANNANCHUN: 10})
    assert placed["status"] == "placed"
    total = Decimal(placed["total"])
    assert total == 30 * PRICES[WULIANGYE] + 10 * PRICES[JIANNANCHUN] == Decimal("43555.00")
    order_id = placed["order_id"]

    approved = company.wait_status(order_id, "approved")
    company.wait_shippable(order_id)
    assert approved["credit"] == "reserved" and approved["stock"] == "reserved"
    assert approved["warehouse_code"] == "WH-CD"
    assert company.stock(WULIANGYE) == {
        "warehouse_code": "WH-CD",
        "sku": WULIANGYE,
        "on_hand": 100,
        "reserved": 30,
        "available": 70,
        "safety_stock": 0,
        "value": "81200.00",  # 100 at 812.00
        "damaged": 0,
        "below_safety": False,
        "in_transit": 0,
        "in_transit_value": "0.00",
    }
    account = company.account()
    assert account["reserved"] == "43555.00" and account["exposure"] == "43555.00"

    # A first, partial shipment: invoiced at the order's prices, due after 30 days.
    first = ok(company.ship(order_id, {WULIANGYE: 20}))
    assert first["order_complete"] is False
    company.wait_status(order_id, "partly_shipped")
    account = company.wait_account(lambda a: a["invoiced"] == "25980.00", what="first invoice")
    assert account["receivables"] == "25980.00"
    assert account["reserved"] == "17575.00"  # what has not shipped yet
    assert account["exposure"] == "43555.00"  # the receivable took the reservation's place
    [invoice] = account["open_invoices"]
    assert invoice["due_date"] == (date(2026, 11, 21) + timedelta(days=30)).isoformat()

    # The rest ships; the order is complete, then delivered.
    second = ok(company.ship(order_id, {WULIANGYE: 10, JIANNANCHUN: 10}))
    assert second["order_complete"] is True
    company.wait_status(order_id, "shipped")
    for shipment in (first, second):
        ok(
            command(
                company.inventory,
                f"/shipments/{shipment['shipment_id']}/delivery",
                {"delivered_on": "2026-11-23"},
                headers=DEALER_CD001,
            )
        )
    company.wait_status(order_id, "delivered")
    assert company.stock(WULIANGYE)["on_hand"] == 70
    assert company.stock(WULIANGYE)["reserved"] == 0

    account = company.wait_account(lambda a: a["invoiced"] == "43555.00", what="both invoices")
    assert account["reserved"] == "0.00" and len(account["open_invoices"]) == 2

    # Cash to the oldest invoice first; the rest of it stays open.
    receipt = ok(
        command(
            company.finance,
            "/receipts",
            {"dealer_code": "CD-001", "amount": "30000.00", "received_on": "2026-12-01"},
            headers=CHENGDU_CLERK,
        )
    )
    oldest = account["open_invoices"][0]["invoice_id"]
    assert receipt["allocations"][0] == {"invoice_id": oldest, "amount": "25980.00"}
    assert receipt["unapplied"] == "0.00"
    account = company.account()
    assert account["receivables"] == "13555.00" == account["exposure"]
    assert [i["open"] for i in account["open_invoices"]] == ["13555.00"]


def test_an_order_over_the_credit_limit_waits_for_a_credit_controller(company):
    company.credit_terms("CD-001", "10000.00")
    order_id = company.place({WULIANGYE: 10})["order_id"]  # 12990.00

    held = company.wait_status(order_id, "credit_hold")
    assert held["reason"] == "credit_limit_exceeded"
    assert "exceeds the credit limit 10000.00 by 2990.00" in held["detail"]
    assert company.account()["orders_on_credit_hold"] == [
        {"order_id": order_id, "amount": "12990.00"}
    ]
    # Held while credit is decided (inventory hears the order on its own consumer).
    wait_until(lambda: company.stock(WULIANGYE)["reserved"] == 10, what="the stock held")

    # An order finance never heard of, or another dealer's, is not found.
    path = "/accounts/CD-001/credit-overrides"
    nobody = "00000000-0000-4000-8000-000000000001"
    unknown = command(company.finance, path, {"order_id": nobody}, headers=CREDIT_CONTROLLER)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_order"
    company.wait_account(lambda account: True, dealer="CD-002", what="CD-002's account")
    other = "/accounts/CD-002/credit-overrides"
    foreign = command(company.finance, other, {"order_id": order_id}, headers=CREDIT_CONTROLLER)
    assert foreign.status_code == 404 and foreign.json()["code"] == "unknown_order"
    # A branch clerk may not override; a credit controller may, once.
    denied = command(company.finance, path, {"order_id": order_id}, headers=CHENGDU_CLERK)
    assert denied.status_code == 403
    ok(command(company.finance, path, {"order_id": order_id}, headers=CREDIT_CONTROLLER))
    approved = company.wait_status(order_id, "approved")
    assert approved["credit_override"] is True and approved["reason"] is None
    again = command(company.finance, path, {"order_id": order_id}, headers=CREDIT_CONTROLLER)
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert company.account()["exposure"] == "12990.00"


def test_a_held_order_rejected_by_its_branch_manager_releases_its_stock(company):
    company.credit_terms("CD-001", "1000.00")
    order_id = company.place({WULIANGYE: 10})["order_id"]
    company.wait_status(order_id, "credit_hold")
    rejected = ok(
        command(
            company.orders,
            f"/orders/{order_id}/rejection",
            {"reason": "dealer is behind on payments"},
            headers=CHENGDU_MANAGER,
        )
    )
    assert rejected["status"] == "rejected" and rejected["reason"] == "rejected_by_manager"
    company.wait_account(lambda a: a["orders_on_credit_hold"] == [], what="the hold dropped")
    wait_until(lambda: company.stock(WULIANGYE)["reserved"] == 0, what="stock released")


def test_an_order_short_of_stock_is_rejected_and_its_credit_released(company):
    order_id = company.place({WULIANGYE: 101})["order_id"]
    rejected = company.wait_status(order_id, "rejected")
    assert rejected["reason"] == "insufficient_stock"
    assert "WULIANGYE-52-500ML: 101 requested, 100 available" in rejected["detail"]
    company.wait_account(lambda a: a["reserved"] == "0.00", what="credit released")
    assert company.stock(WULIANGYE)["reserved"] == 0


def test_cancelling_before_shipment_releases_credit_and_stock(company):
    order_id = company.place({WULIANGYE: 5})["order_id"]
    company.wait_status(order_id, "approved")
    cancelled = ok(
        command(
            company.orders,
            f"/orders/{order_id}/cancellation",
            {"reason": "dealer changed its mind"},
            headers=CHENGDU_CLERK,
        )
    )
    assert cancelled["status"] == "cancelled"
    company.wait_account(lambda a: a["exposure"] == "0.00", what="credit released")
    wait_until(lambda: company.stock(WULIANGYE)["available"] == 100, what="stock released")
    # Nothing ships against a cancelled order.
    refused = company.ship(order_id, {WULIANGYE: 5})
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"


def test_shipping_more_than_remains_or_before_approval_changes_nothing(company):
    company.credit_terms("CD-001", "0.00")
    held_id = company.place({WULIANGYE: 2})["order_id"]
    company.wait_status(held_id, "credit_hold")
    # Finance answered; inventory may not have heard of the order yet (another consumer).
    wait_until(
        lambda: (
            company.inventory.get(f"/stock/reservations/{held_id}", headers=HQ).status_code == 200
        ),
        what="inventory's reservation",
    )
    not_approved = company.ship(held_id, {WULIANGYE: 2})
    assert not_approved.status_code == 409 and not_approved.json()["code"] == "invalid_transition"

    company.credit_terms("CD-001", "100000.00")
    order_id = company.place({WULIANGYE: 5})["order_id"]
    company.wait_status(order_id, "approved")
    company.wait_shippable(order_id)
    over = company.ship(order_id, {WULIANGYE: 6})
    assert over.status_code == 409 and over.json()["code"] == "over_shipment"
    other_sku = company.ship(order_id, {JIANNANCHUN: 1})
    assert other_sku.status_code == 409 and other_sku.json()["code"] == "over_shipment"
    assert company.stock(WULIANGYE)["on_hand"] == 100
    # Once shipped, an order can no longer be cancelled.
    ok(company.ship(order_id, {WULIANGYE: 5}))
    company.wait_status(order_id, "shipped")
    late = command(
        company.orders, f"/orders/{order_id}/cancellation", {"reason": "too late"}, headers=HQ
    )
    assert late.status_code == 409 and late.json()["code"] == "invalid_transition"


def test_orders_are_priced_from_the_dealer_grades_price_list(company):
    path = "/price-lists/tier1_distributor/prices"
    price = {"sku": WULIANGYE, "unit_price": "1199.00"}
    assert command(company.orders, path, price, headers=CHENGDU_CLERK).status_code == 403
    unknown = command(company.orders, path, {**price, "sku": "MOUTAI-53-500ML"}, headers=HQ)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_sku"
    ok(command(company.orders, path, price, headers=HQ))

    # The price takes effect today: orders of today's business date get it.
    today = business_today().isoformat()
    tier1 = company.place({WULIANGYE: 10, JIANNANCHUN: 2}, dealer="CD-001", business_date=today)
    assert [line["unit_price"] for line in tier1["lines"]] == ["1199.00", "458.50"]
    assert tier1["total"] == "12907.00"
    # no tier-2 price: list price
    tier2 = company.place({WULIANGYE: 10}, dealer="CD-002", business_date=today)
    assert tier2["lines"][0]["unit_price"] == "1299.00"
    # A later price change leaves placed orders as they were priced.
    ok(command(company.orders, path, {**price, "unit_price": "999.00"}, headers=HQ))
    assert company.order(tier1["order_id"])["total"] == "12907.00"


def test_bad_input_to_the_saga_commands_is_refused_and_changes_nothing(company):
    order_id = company.place({WULIANGYE: 5})["order_id"]
    company.wait_shippable(order_id)
    zero = company.ship(order_id, {WULIANGYE: 0})
    assert zero.status_code == 422
    unknown = company.ship("00000000-0000-4000-8000-000000000000", {WULIANGYE: 1})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_order"
    receipt = {"dealer_code": "CD-999", "amount": "10.00"}
    nobody = command(company.finance, "/receipts", receipt, headers=HQ)
    assert nobody.status_code == 404 and nobody.json()["code"] == "unknown_dealer"
    malformed = command(company.finance, "/receipts", {**receipt, "amount": "1.005"}, headers=HQ)
    assert malformed.status_code == 422
    assert company.stock(WULIANGYE)["on_hand"] == 100
    policy = {
        "policy_code": "PLATINUM-2026",
        "grade": "platinum",
        "rate": "0.0100",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
    }
    no_such_grade = command(company.finance, "/rebate-policies", policy, headers=HQ)
    assert no_such_grade.status_code == 422
    both = {**policy, "grade": "group_buy", "dealer_code": "CD-001"}
    ambiguous = command(company.finance, "/rebate-policies", both, headers=HQ)
    assert ambiguous.status_code == 409 and ambiguous.json()["code"] == "invalid_rebate_policy"
    # The Shanghai clerk may not cancel a Chengdu order.
    shanghai = {"Authorization": "Bearer demo-shanghai-clerk"}
    path = f"/orders/{order_id}/cancellation"
    outside = command(company.orders, path, {"reason": "not mine"}, headers=shanghai)
    assert outside.status_code == 403
    assert company.order(order_id)["status"] == "approved"


@pytest.fixture
def strict_company(settings):
    strict = settings.model_copy(update={"order_approval_threshold": Decimal("20000.00")})
    with running_company(strict) as company:
        company.receive(WULIANGYE, 100)
        company.credit_terms("CD-001", "100000.00")
        yield company


def test_an_order_above_the_threshold_waits_for_its_branch_manager(strict_company):
    company = strict_company
    small = company.place({WULIANGYE: 10})["order_id"]  # 12990.00
    large = company.place({WULIANGYE: 20})["order_id"]  # 25980.00
    assert company.wait_status(small, "approved")["manager_approval"] is False
    company.wait_status(large, "awaiting_approval")
    path = f"/orders/{large}/approval"
    assert command(company.orders, path, {}, headers=CHENGDU_CLERK).status_code == 403
    approved = ok(command(company.orders, path, {}, headers=CHENGDU_MANAGER))
    assert approved["status"] == "approved" and approved["manager_approval"] is True
    again = command(company.orders, path, {}, headers=CHENGDU_MANAGER)
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    company.wait_shippable(large)

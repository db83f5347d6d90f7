"""Price lists with effective dates and promotions, over HTTP through the running orders,
inventory and finance processes: an order is priced on its business date, promotions apply
at placing (gift lines reserved, shipped and invoiced at zero), and nothing reprices an order
or its invoices later."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from services.finance.domain import Invoice
from tests.integration.saga import (
    CHENGDU_CLERK,
    WULIANGYE,
    ok,
    running_company,
)
from tests.platform import HQ, command, wait_until
from tests.platform import business_day as day

pytestmark = pytest.mark.integration

SHANGHAI_CLERK = {"Authorization": "Bearer demo-shanghai-clerk"}

LUZHOU = "LUZHOU-1573-500ML"
PRICES = "/price-lists/tier1_distributor/prices"


@pytest.fixture
def company(settings):
    with running_company(settings) as company:
        category = {"code": "BAIJIU-NONGXIANG", "name": "Strong-aroma baijiu", "parent": "BAIJIU"}
        ok(command(company.orders, "/products/categories", category, headers=HQ))
        luzhou = {
            "sku": LUZHOU,
            "name": "Guojiao 1573 52% 500ml",
            "category": "BAIJIU-NONGXIANG",
            "list_price": "1099.00",
        }
        ok(command(company.orders, "/products", luzhou, headers=HQ))
        company.receive(WULIANGYE, 100)
        company.receive(LUZHOU, 20, unit_cost="712.00")
        company.credit_terms("CD-001", "500000.00", days=30)
        yield company


def test_an_order_is_priced_on_its_business_date_and_never_repriced(company):
    orders = company.orders
    now = ok(command(orders, PRICES, {"sku": WULIANGYE, "unit_price": "1199.00"}, headers=HQ))
    assert now["prices"] == [{"sku": WULIANGYE, "unit_price": "1199.00", "effective_from": day(0)}]
    spring = {"sku": WULIANGYE, "unit_price": "1249.00", "effective_from": day(30)}
    ok(command(orders, PRICES, spring, headers=HQ))
    listed = ok(orders.get("/price-lists/tier1_distributor", headers=HQ))
    assert listed["scheduled"] == [spring]
    assert ok(orders.get(f"/price-lists/tier1_distributor?on={day(30)}", headers=HQ))["prices"] == [
        spring
    ]

    clerk = command(orders, PRICES, spring, headers=CHENGDU_CLERK)
    assert clerk.status_code == 403

    placed = company.place({WULIANGYE: 10}, business_date=day(0))
    # A tier-1 order of today is booked: yesterday is history, no price takes effect on it.
    backdated = command(orders, PRICES, {**spring, "effective_from": day(-1)}, headers=HQ)
    assert backdated.status_code == 409 and backdated.json()["code"] == "price_backdated"
    later = company.place({WULIANGYE: 10}, business_date=day(30))
    assert placed["lines"][0]["unit_price"] == "1199.00" and placed["total"] == "11990.00"
    assert later["lines"][0]["unit_price"] == "1249.00"
    # A tier-2 dealer has no grade price: list price.
    tier2 = company.place({WULIANGYE: 1}, dealer="CD-002", business_date=day(0))
    assert tier2["lines"][0]["list_unit_price"] == "1299.00"

    # Headquarters cuts today's price after the order was placed: the order, and the
    # invoice of its shipment, keep 1199.00.
    ok(command(orders, PRICES, {"sku": WULIANGYE, "unit_price": "999.00"}, headers=HQ))
    assert company.order(placed["order_id"])["total"] == "11990.00"
    company.wait_status(placed["order_id"], "approved")
    company.wait_shippable(placed["order_id"])
    shipment = ok(company.ship(placed["order_id"], {WULIANGYE: 10}, ship_date=day(0)))
    invoice = wait_until(
        lambda: (
            (
                r := company.finance.get(
                    f"/invoices/{Invoice.create_id(shipment['shipment_id'])}", headers=HQ
                )
            ).status_code
            == 200
            and r.json()
        ),
        timeout=45,
        what="the invoice",
    )
    assert invoice["lines"][0]["unit_price"] == "1199.00" and invoice["total"] == "11990.00"


def test_promotions_apply_at_placing_and_gifts_ship_and_invoice_at_zero(company):
    orders = company.orders
    gift = {
        "kind": "buy_get",
        "code": "CNY-WLY-10-1",
        "name": "Spring Festival: buy 10 Wuliangye, get 1",
        "valid_from": day(0),
        "valid_to": day(60),
        "grades": ["tier1_distributor"],
        "buy_sku": WULIANGYE,
        "buy_quantity": 10,
        "gift_sku": WULIANGYE,
        "gift_quantity": 1,
    }
    off = {
        "kind": "category_discount",
        "code": "BAIJIU-5PCT",
        "name": "5 % off baijiu",
        "valid_from": day(0),
        "valid_to": day(60),
        "category": "BAIJIU",
        "discount_rate": "0.05",
    }
    defined = ok(command(orders, "/promotions", gift, headers=HQ))
    assert defined["ended_on"] is None and defined["grades"] == ["tier1_distributor"]
    ok(command(orders, "/promotions", off, headers=HQ))

    # Bad promotions get clear errors and change nothing.
    overlapping = command(orders, "/promotions", {**gift, "code": "WLY-5-1"}, headers=HQ)
    assert overlapping.status_code == 409 and overlapping.json()["code"] == "promotion_overlaps"
    nowhere = command(orders, "/promotions", {**off, "code": "X", "category": "CIDER"}, headers=HQ)
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "unknown_category"
    unknown_kind = command(orders, "/promotions", {**off, "kind": "lottery"}, headers=HQ)
    assert unknown_kind.status_code == 422
    too_deep = command(orders, "/promotions", {**off, "discount_rate": "0.95"}, headers=HQ)
    assert too_deep.status_code == 422
    assert (
        command(orders, "/promotions", {**off, "code": "Y"}, headers=CHENGDU_CLERK).status_code
        == 403
    )
    listed = ok(orders.get(f"/promotions?on={day(0)}", headers=HQ))["promotions"]
    assert [p["code"] for p in listed] == ["BAIJIU-5PCT", "CNY-WLY-10-1"]

    # The price preview: the same body, priced by the same code, writes nothing and needs no
    # Idempotency-Key; the order then books exactly what it showed.
    body = {
        "dealer_code": "CD-001",
        "business_date": day(1),
        "lines": [{"sku": WULIANGYE, "quantity": 20}, {"sku": LUZHOU, "quantity": 2}],
    }
    quote = ok(orders.post("/orders/quote", json=body, headers=CHENGDU_CLERK))
    shanghai = orders.post("/orders/quote", json=body, headers=SHANGHAI_CLERK)
    assert shanghai.status_code == 403
    assert shanghai.headers["content-type"] == "application/problem+json"
    unknown = {**body, "lines": [{"sku": "MAOTAI-53-500ML", "quantity": 1}]}
    refused = orders.post("/orders/quote", json=unknown, headers=CHENGDU_CLERK)
    assert refused.status_code == 404 and refused.json()["code"] == "unknown_sku"
    placed = company.place({WULIANGYE: 20, LUZHOU: 2}, business_date=day(1))
    assert quote["lines"] == placed["lines"] and quote["total"] == placed["total"]
    # An order of tomorrow is booked: no promotion starts before it any more.
    past = command(orders, "/promotions", {**off, "code": "OLD", "valid_from": day(-1)}, headers=HQ)
    assert past.status_code == 409 and past.json()["code"] == "promotion_backdated"
    assert quote["promotions"] == placed["promotions"] == ["BAIJIU-5PCT", "CNY-WLY-10-1"]
    assert quote["discount"] == placed["discount"] and quote["grade"] == "tier1_distributor"
    wuliangye, luzhou, free = placed["lines"]
    assert (wuliangye["unit_price"], wuliangye["list_unit_price"]) == ("1234.05", "1299.00")
    assert wuliangye["promotion"] == "BAIJIU-5PCT" and wuliangye["discount"] == "1299.00"
    assert luzhou["unit_price"] == "1044.05"  # the sub-category gets its parent's discount
    assert free == {
        "sku": WULIANGYE,
        "name": free["name"],
        "category": "BAIJIU",
        "quantity": 2,
        "unit_price": "0.00",
        "amount": "0.00",
        "list_unit_price": "1299.00",
        "discount": "2598.00",
        "promotion": "CNY-WLY-10-1",
        "gift": True,
    }
    assert placed["promotions"] == ["BAIJIU-5PCT", "CNY-WLY-10-1"]
    assert placed["total"] == f"{Decimal('1234.05') * 20 + Decimal('1044.05') * 2:.2f}"
    # A tier-2 dealer gets the discount but not the tier-1 gift.
    tier2 = company.place({WULIANGYE: 20}, dealer="CD-002", business_date=day(1))
    assert [line["gift"] for line in tier2["lines"]] == [False]

    # The gift is reserved like any line, and ships in parts.
    order_id = placed["order_id"]
    company.wait_status(order_id, "approved")
    company.wait_shippable(order_id)
    wait_until(  # and CD-002's order, on credit hold, holds its 20
        lambda: company.stock(WULIANGYE)["reserved"] == 22 + 20, timeout=45, what="reserved"
    )
    first = ok(company.ship(order_id, {WULIANGYE: 15, LUZHOU: 2}, ship_date=day(2)))
    second = ok(company.ship(order_id, {WULIANGYE: 7}, ship_date=day(3)))
    company.wait_status(order_id, "shipped")

    def invoice_of(shipment: dict) -> dict:
        path = f"/invoices/{Invoice.create_id(shipment['shipment_id'])}"
        return wait_until(
            lambda: (r := company.finance.get(path, headers=HQ)).status_code == 200 and r.json(),
            timeout=45,
            what="the invoice",
        )

    one, two = invoice_of(first), invoice_of(second)
    # Each invoice bills what its shipment carried, and together exactly the order.
    for invoice, shipped in ((one, {WULIANGYE: 15, LUZHOU: 2}), (two, {WULIANGYE: 7})):
        billed = Counter()
        for line in invoice["lines"]:
            billed[line["sku"]] += line["quantity"]
        assert billed == shipped
    billed = Counter()
    for line in one["lines"] + two["lines"]:
        billed[(line["sku"], line["unit_price"])] += line["quantity"]
    assert billed == {(WULIANGYE, "1234.05"): 20, (WULIANGYE, "0.00"): 2, (LUZHOU, "1044.05"): 2}
    assert Decimal(one["total"]) + Decimal(two["total"]) == Decimal(placed["total"])
    # Paid units invoice before the gift. The two shipments are two subjects on their own
    # partitions, so finance may hear either first: the gift is on the invoice it issued
    # last, whole, and the other invoice has none.
    gifts = [[line for line in i["lines"] if line["unit_price"] == "0.00"] for i in (one, two)]
    assert sorted(len(g) for g in gifts) == [0, 1]

    # Ending the promotion stops it for orders of that day on; placed orders keep it.
    ended = ok(command(orders, "/promotions/CNY-WLY-10-1/end", {"on": day(5)}, headers=HQ))
    assert ended["ended_on"] == day(5)
    after = company.place({WULIANGYE: 10}, business_date=day(5))
    assert [line["gift"] for line in after["lines"]] == [False]
    assert company.order(order_id)["lines"][2]["gift"] is True

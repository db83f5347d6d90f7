"""History has dates in the past: a brand loading its history dates its prices and promotions
back, as long as no order already booked in their scope (the dealer grades they price) has a
business date on or after the day they take effect. Over HTTP on the running orders process;
and, through the application on PostgreSQL, a backdated price racing an order of its grade:
either the order is booked at the new price or the price is refused, never an order whose
price changes underneath it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError

from runtime.eventstore import IdempotencyKey, Provenance
from services.kernel.dates import business_today
from services.orders import bootstrap as orders_process
from services.orders.application import (
    Actor,
    OrdersApplication,
    PlaceOrder,
    RegisterDealer,
    RegisterProduct,
)
from services.orders.domain import Order, PriceBackdated, RequestedLine
from tests.integration.master_data import organised
from tests.integration.racing import in_step, race
from tests.integration.saga import CHENGDU_CLERK, WULIANGYE, ok
from tests.platform import HQ, business_day, command, register_organisation, serving

pytestmark = pytest.mark.integration

TODAY = business_today()
TIER1_PRICES = "/price-lists/tier1_distributor/prices"
TIER2_PRICES = "/price-lists/tier2_distributor/prices"


def day(offset: int) -> str:
    """A business date relative to today as the services see it now (see business_day)."""
    return business_day(offset)


def refused(response, code: str) -> dict:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.json()
    return response.json()


@pytest.fixture
def orders(settings):
    """Orders with Chengdu's tier-1 distributor CD-001 and tier-2 distributor CD-002."""
    with serving(orders_process.build(settings)) as orders:
        register_organisation(orders)
        for code, grade in (("CD-001", "tier1_distributor"), ("CD-002", "tier2_distributor")):
            body = {"code": code, "name": f"Chengdu {code}", "branch": "CD", "region": "SOUTHWEST"}
            ok(command(orders, "/dealers", {**body, "grade": grade}, headers=HQ))
        product = {"sku": WULIANGYE, "name": "Wuliangye 52% 500ml", "category": "BAIJIU"}
        ok(command(orders, "/products", {**product, "list_price": "1299.00"}, headers=HQ))
        yield orders


def place(orders, dealer: str, business_date: str, quantity: int = 6) -> dict:
    body = {
        "dealer_code": dealer,
        "business_date": business_date,
        "lines": [{"sku": WULIANGYE, "quantity": quantity}],
    }
    return ok(command(orders, "/orders", body, headers=CHENGDU_CLERK))


class TestBackdatedPrices:
    def test_a_price_takes_effect_in_the_past_after_the_grades_last_booked_order(self, orders):
        place(orders, "CD-001", day(-10))  # history: a tier-1 order of ten days ago

        price = {"sku": WULIANGYE, "unit_price": "1199.00", "effective_from": day(-5)}
        listed = ok(command(orders, TIER1_PRICES, price, headers=HQ))
        assert listed["prices"] == [price]
        # An order of the history after it is booked at it; one before it keeps list price.
        assert place(orders, "CD-001", day(-3))["lines"][0]["unit_price"] == "1199.00"
        assert place(orders, "CD-001", day(-6))["lines"][0]["unit_price"] == "1299.00"

    def test_a_price_is_refused_on_or_before_a_booked_order_of_its_grade(self, orders):
        place(orders, "CD-001", day(-10))
        for effective_from in (day(-10), day(-11)):  # on it, and before it
            body = {"sku": WULIANGYE, "unit_price": "1199.00", "effective_from": effective_from}
            problem = refused(command(orders, TIER1_PRICES, body, headers=HQ), "price_backdated")
            assert day(-10) in problem["detail"]
        listed = ok(orders.get(f"/price-lists/tier1_distributor?on={day(-10)}", headers=HQ))
        assert listed["prices"] == [] and listed["scheduled"] == []
        # Another grade's orders are not in its scope: tier 2 has booked nothing.
        tier2 = {"sku": WULIANGYE, "unit_price": "1249.00", "effective_from": day(-30)}
        ok(command(orders, TIER2_PRICES, tier2, headers=HQ))
        # From today on, as before.
        today = {"sku": WULIANGYE, "unit_price": "1189.00", "effective_from": day(0)}
        ok(command(orders, TIER1_PRICES, today, headers=HQ))


GIFT = {
    "kind": "buy_get",
    "code": "MID-AUTUMN-WLY-10-1",
    "name": "Mid-Autumn: buy 10 Wuliangye, get 1",
    "grades": ["tier1_distributor"],
    "buy_sku": WULIANGYE,
    "buy_quantity": 10,
    "gift_sku": WULIANGYE,
    "gift_quantity": 1,
}
OFF = {
    "kind": "category_discount",
    "code": "BAIJIU-5PCT",
    "name": "5 % off baijiu",
    "category": "BAIJIU",
    "discount_rate": "0.05",
}


class TestBackdatedPromotions:
    def test_a_promotion_starts_in_the_past_after_the_last_booked_order_in_its_grades(self, orders):
        place(orders, "CD-001", day(-10))
        gift = {**GIFT, "valid_from": day(-5), "valid_to": day(30)}
        assert ok(command(orders, "/promotions", gift, headers=HQ))["valid_from"] == day(-5)
        booked = place(orders, "CD-001", day(-2), quantity=10)
        assert [line["gift"] for line in booked["lines"]] == [False, True]
        # A promotion for tier 2 only starts before tier 1's order: not in its scope.
        tier2 = {**OFF, "grades": ["tier2_distributor"], "valid_from": day(-30), "valid_to": day(0)}
        ok(command(orders, "/promotions", tier2, headers=HQ))
        # Ended in the past, after the last order it gave a gift on: orders from then on
        # get none.
        ended = command(orders, f"/promotions/{GIFT['code']}/end", {"on": day(-1)}, headers=HQ)
        assert ok(ended)["ended_on"] == day(-1)
        assert len(place(orders, "CD-001", day(-1), quantity=10)["lines"]) == 1

    def test_a_promotion_is_refused_on_or_before_a_booked_order_in_its_grades(self, orders):
        place(orders, "CD-001", day(-10))
        place(orders, "CD-002", day(-4))
        # No grades: every grade, so CD-002's order of four days ago is in its scope.
        everyone = {**OFF, "valid_from": day(-4), "valid_to": day(30)}
        refused(command(orders, "/promotions", everyone, headers=HQ), "promotion_backdated")
        on_the_order = {**GIFT, "valid_from": day(-10), "valid_to": day(30)}
        refused(command(orders, "/promotions", on_the_order, headers=HQ), "promotion_backdated")
        listed = ok(orders.get("/promotions", headers=HQ))["promotions"]
        assert listed == []

        gift = {**GIFT, "valid_from": day(-9), "valid_to": day(30)}
        ok(command(orders, "/promotions", gift, headers=HQ))
        place(orders, "CD-001", day(-3), quantity=10)
        # It gave a gift on day -3: it cannot be ended from then or before.
        end = command(orders, f"/promotions/{GIFT['code']}/end", {"on": day(-3)}, headers=HQ)
        refused(end, "promotion_backdated")
        assert ok(orders.get(f"/promotions/{GIFT['code']}", headers=HQ))["ended_on"] is None


# -- through the application, on PostgreSQL -----------------------------------------------
HQ_ADMIN = Actor(Provenance(actor="Wang Min (HQ admin)", role="hq_admin"))


@pytest.fixture
def app(settings):
    app = OrdersApplication(settings)
    organised(app, HQ_ADMIN)
    dealer = RegisterDealer(
        "CD-001", "Jinjiang Wine Trading", "CD", "SOUTHWEST", "tier1_distributor"
    )
    app.register_dealer(dealer, actor=HQ_ADMIN, idempotency=None)
    product = RegisterProduct(
        WULIANGYE, "Wuliangye 52% 500ml", "BAIJIU", "bottle", Decimal("1299.00")
    )
    app.register_product(product, actor=HQ_ADMIN, idempotency=None)
    yield app
    app.close()


def test_a_backdated_price_racing_an_order_of_its_grade_never_reprices_it(app):
    """Both commands read before either writes (the order its prices, the price the grade's
    booked dates): one of them saves, the other conflicts and decides again on fresh state,
    as the HTTP edge does. Whichever wins, the order's price is the price list's price on
    its business date."""
    order_day = TODAY - timedelta(days=3)

    def place_order():
        cmd = PlaceOrder("CD-001", order_day, [RequestedLine(WULIANGYE, 6)])
        return app.place_order(cmd, actor=HQ_ADMIN, idempotency=None)

    def set_price():
        return app.set_price(
            "tier1_distributor",
            WULIANGYE,
            Decimal("1199.00"),
            effective_from=TODAY - timedelta(days=5),
            today=TODAY,
            actor=HQ_ADMIN,
            idempotency=None,
        )

    restore = in_step(app, "get_references")  # the order and the price read through it
    outcomes = race(place_order, set_price)
    restore()
    conflicts = [o for o in outcomes if isinstance(o, IntegrityError)]
    assert len(conflicts) == 1, outcomes

    if isinstance(outcomes[0], IntegrityError):  # the price won: the order, again, gets it
        order = place_order().body
        assert order["lines"][0]["unit_price"] == "1199.00"
    else:  # the order won: the price, again, is refused
        order = outcomes[0].body
        assert order["lines"][0]["unit_price"] == "1299.00"
        with pytest.raises(PriceBackdated):
            set_price()
    price_list = app.find_price_list("tier1_distributor")
    on_its_day = price_list.price_on(WULIANGYE, order_day) if price_list else None
    assert (on_its_day[0] if on_its_day else Decimal("1299.00")) == Decimal(
        order["lines"][0]["unit_price"]
    )


def test_orders_booked_before_the_record_existed_count_too(app):
    """An order saved the way orders were before ``BookedDates`` (the order alone): the
    record, opened by the first backdated price, finds it in the store."""
    dealer = app.get_dealer("CD-001")
    earlier = Order.place(
        dealer=dealer,
        priced=[],
        total=Decimal("0.00"),
        business_date=TODAY - timedelta(days=7),
        by=HQ_ADMIN.provenance,
    )
    app.save(earlier)

    def set_price(days_ago: int):
        return app.set_price(
            "tier1_distributor",
            WULIANGYE,
            Decimal("1199.00"),
            effective_from=TODAY - timedelta(days=days_ago),
            today=TODAY,
            actor=HQ_ADMIN,
            idempotency=None,
        )

    with pytest.raises(PriceBackdated):
        set_price(7)
    set_price(6)
    assert app.booked_dates().last_booked(["tier1_distributor"]) == TODAY - timedelta(days=7)


def test_an_imported_batch_of_prices_follows_the_same_rule(app):
    """A bulk import sets a grade's prices in batches (set_prices): a price dated on or
    before the grade's last booked order refuses the batch, one after it is amended once."""
    placed = PlaceOrder("CD-001", TODAY - timedelta(days=4), [RequestedLine(WULIANGYE, 6)])
    app.place_order(placed, actor=HQ_ADMIN, idempotency=None)

    def batch(days_ago: int, key: str):
        row = (WULIANGYE, Decimal("1199.00"), TODAY - timedelta(days=days_ago), HQ_ADMIN)
        return app.set_prices(
            "tier1_distributor", [(*row, IdempotencyKey("hq", key, "h"))], today=TODAY
        )

    with pytest.raises(PriceBackdated):
        batch(4, "import:price-lists:refused")
    [answer] = batch(3, "import:price-lists:accepted")
    assert answer.body["effective_from"] == (TODAY - timedelta(days=3)).isoformat()
    price_list = app.find_price_list("tier1_distributor")
    assert price_list.price_on(WULIANGYE, TODAY - timedelta(days=3))[0] == Decimal("1199.00")
    # The grade's history changed from that day: an order of its grade racing it conflicts.
    assert app.booked_dates().version > 1

"""Price lists with effective dates, categories and promotions: how an order is priced on
its business date, and what headquarters may and may not define."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from runtime.eventstore import Provenance
from services.finance.domain import OrderBilling
from services.orders.domain import (
    PriceList,
    Product,
    RequestedLine,
    price_lines,
)
from services.orders.promotions import (
    CategoryCycle,
    CategoryTree,
    InvalidPromotion,
    Promotion,
    PromotionAlreadyDefined,
    PromotionBook,
    PromotionKind,
    PromotionOverlaps,
    UnknownCategory,
)

HQ = Provenance(actor="Wang Min", role="hq_admin")
TODAY = date(2026, 12, 2)
SPRING = date(2027, 1, 20)  # the Spring Festival campaign starts
WULIANGYE = "WULIANGYE-52-500ML"
JIANNANCHUN = "JIANNANCHUN-52-500ML"
TSINGTAO = "TSINGTAO-1903-330ML"
TIER1 = "tier1_distributor"


def product(sku: str, category: str, price: str) -> Product:
    return Product(
        sku=sku,
        name=sku.title(),
        category=category,
        unit="bottle",
        list_price=Decimal(price),
        by=HQ,
    )


CATALOGUE = {
    WULIANGYE: product(WULIANGYE, "BAIJIU-NONGXIANG", "1299.00"),
    JIANNANCHUN: product(JIANNANCHUN, "BAIJIU-NONGXIANG", "458.50"),
    TSINGTAO: product(TSINGTAO, "BEER", "8.80"),
}


def tree() -> CategoryTree:
    categories = CategoryTree()
    categories.place("BAIJIU", "Baijiu", None, HQ)
    categories.place("BAIJIU-NONGXIANG", "Strong-aroma baijiu", "BAIJIU", HQ)
    categories.place("BEER", "Beer", None, HQ)
    return categories


def buy_get(code="CNY-WLY-10+1", buy=10, gift=1, gift_sku=WULIANGYE, **fields) -> Promotion:
    return Promotion(
        code=code,
        name="Spring Festival: buy 10 get 1",
        kind=PromotionKind.BUY_GET,
        valid_from=fields.pop("valid_from", SPRING),
        valid_to=fields.pop("valid_to", date(2027, 2, 28)),
        buy_sku=fields.pop("buy_sku", WULIANGYE),
        buy_quantity=buy,
        gift_sku=gift_sku,
        gift_quantity=gift,
        **fields,
    )


def discount(code="BAIJIU-5", category="BAIJIU", rate="0.05", **fields) -> Promotion:
    return Promotion(
        code=code,
        name="5 % off baijiu",
        kind=PromotionKind.CATEGORY_DISCOUNT,
        valid_from=fields.pop("valid_from", SPRING),
        valid_to=fields.pop("valid_to", date(2027, 2, 28)),
        category=category,
        discount_rate=Decimal(rate),
        **fields,
    )


def place(lines: dict[str, int], *, on=SPRING, price_list=None, promotions=(), grade=TIER1):
    book = PromotionBook()
    for promotion in promotions:
        book.define(promotion, by=HQ)
    return price_lines(
        [RequestedLine(sku, quantity) for sku, quantity in lines.items()],
        CATALOGUE,
        price_list,
        on=on,
        promotions=book.in_force(grade, on),
        categories=tree(),
    )


class TestPriceListEffectiveDates:
    def tier1(self) -> PriceList:
        prices = PriceList(grade=TIER1)
        prices.set_price(WULIANGYE, Decimal("1199.00"), effective_from=TODAY, by=HQ)
        prices.set_price(WULIANGYE, Decimal("1249.00"), effective_from=SPRING, by=HQ)
        return prices

    def test_an_order_gets_the_price_in_effect_on_its_business_date(self):
        prices = self.tier1()
        before, _ = place({WULIANGYE: 2}, on=SPRING - timedelta(days=1), price_list=prices)
        on_the_day, _ = place({WULIANGYE: 2}, on=SPRING, price_list=prices)
        assert before[0].unit_price == Decimal("1199.00")
        assert on_the_day[0].unit_price == Decimal("1249.00")
        # Before the grade had a price, the SKU sold at list price.
        earlier, _ = place({WULIANGYE: 2}, on=TODAY - timedelta(days=1), price_list=prices)
        assert earlier[0].unit_price == Decimal("1299.00")

    def test_a_scheduled_price_may_be_changed_before_it_takes_effect(self):
        prices = self.tier1()
        prices.set_price(WULIANGYE, Decimal("1239.00"), effective_from=SPRING, by=HQ)
        assert prices.scheduled_after(TODAY) == [(WULIANGYE, SPRING, Decimal("1239.00"))]
        assert prices.prices_on(TODAY) == {WULIANGYE: (Decimal("1199.00"), TODAY)}

    def test_setting_the_same_price_again_records_nothing(self):
        prices = self.tier1()
        version = prices.version
        prices.set_price(WULIANGYE, Decimal("1249.00"), effective_from=SPRING, by=HQ)
        assert prices.version == version

    def test_a_price_list_stored_before_effective_dates_reads_as_in_effect_from_the_start(self):
        state = {"prices": {WULIANGYE: Decimal("1199.00")}}
        PriceList.upcast_v1_v2(state)
        old = PriceList(grade=TIER1)
        old.schedule = state["schedule"]
        assert old.price_on(WULIANGYE, date(2020, 1, 1)) == (Decimal("1199.00"), date.min)


class TestBuyGet:
    def test_every_ten_bought_brings_one_free_as_a_gift_line_at_zero_price(self):
        lines, total = place({WULIANGYE: 25, TSINGTAO: 24}, promotions=[buy_get()])
        gift = lines[-1]
        assert (gift.sku, gift.quantity, gift.unit_price, gift.amount) == (
            WULIANGYE,
            2,
            Decimal("0.00"),
            Decimal("0.00"),
        )
        assert gift.gift and gift.promotion == "CNY-WLY-10+1"
        assert gift.discount == Decimal("2598.00")  # what the gift is worth at the grade price
        assert total == Decimal("32475.00") + Decimal("211.20")

    def test_below_the_threshold_there_is_no_gift(self):
        lines, _ = place({WULIANGYE: 9}, promotions=[buy_get()])
        assert [line.gift for line in lines] == [False]

    def test_the_gift_may_be_another_sku(self):
        lines, _ = place({WULIANGYE: 20}, promotions=[buy_get(gift_sku=TSINGTAO, gift=6)])
        assert (lines[-1].sku, lines[-1].quantity) == (TSINGTAO, 12)

    def test_paid_units_on_several_lines_count_together(self):
        lines, _ = place({WULIANGYE: 6}, promotions=[buy_get(buy=3)])
        assert lines[-1].quantity == 2

    def test_outside_its_period_or_grade_it_does_not_apply(self):
        promotion = buy_get(grades=("group_buy",))
        lines, _ = place({WULIANGYE: 20}, promotions=[promotion])
        assert len(lines) == 1
        lines, _ = place({WULIANGYE: 20}, promotions=[buy_get()], on=date(2027, 3, 1))
        assert len(lines) == 1

    def test_an_ended_promotion_stops_on_its_end_day_and_not_before(self):
        book = PromotionBook()
        book.define(buy_get(), by=HQ)
        book.end("CNY-WLY-10+1", date(2027, 2, 1), by=HQ)
        assert book.in_force(TIER1, date(2027, 1, 31))
        assert not book.in_force(TIER1, date(2027, 2, 1))

    def test_two_gift_promotions_on_one_sku_may_not_overlap(self):
        book = PromotionBook()
        book.define(buy_get(grades=(TIER1,)), by=HQ)
        with pytest.raises(PromotionOverlaps):
            book.define(buy_get(code="WLY-5+1", buy=5), by=HQ)
        # Another grade, or after the first one ends, is fine.
        book.define(
            buy_get(code="GROUP-5+1", buy=5, grades=("group_buy",), valid_from=SPRING),
            by=HQ,
        )
        book.define(
            buy_get(
                code="MARCH-5+1", buy=5, valid_from=date(2027, 3, 1), valid_to=date(2027, 3, 31)
            ),
            by=HQ,
        )

    @pytest.mark.parametrize(
        "promotion, error",
        [
            (buy_get(buy=0), InvalidPromotion),
            (buy_get(valid_to=SPRING - timedelta(days=1)), InvalidPromotion),
        ],
    )
    def test_bad_promotions_are_refused(self, promotion, error):
        with pytest.raises(error):
            PromotionBook().define(promotion, by=HQ)

    def test_a_code_is_defined_once(self):
        book = PromotionBook()
        book.define(discount(), by=HQ)
        with pytest.raises(PromotionAlreadyDefined):
            book.define(discount(), by=HQ)


class TestCategoryDiscount:
    def test_a_discount_on_a_category_reaches_its_sub_categories(self):
        lines, total = place({WULIANGYE: 3, JIANNANCHUN: 1, TSINGTAO: 10}, promotions=[discount()])
        wuliangye, jiannanchun, tsingtao = lines
        assert wuliangye.unit_price == Decimal("1234.05")  # 1299.00 x 0.95
        assert wuliangye.amount == Decimal("3702.15")
        assert wuliangye.discount == Decimal("194.85")
        assert wuliangye.list_unit_price == Decimal("1299.00")
        assert jiannanchun.unit_price == Decimal("435.58")  # 435.575 rounds half up
        assert tsingtao.unit_price == Decimal("8.80") and tsingtao.promotion is None
        assert total == Decimal("3702.15") + Decimal("435.58") + Decimal("88.00")

    def test_discounts_do_not_stack_the_best_rate_wins(self):
        lines, _ = place(
            {WULIANGYE: 1},
            promotions=[
                discount(),
                discount(code="NONGXIANG-8", category="BAIJIU-NONGXIANG", rate="0.08"),
            ],
        )
        assert lines[0].promotion == "NONGXIANG-8" and lines[0].unit_price == Decimal("1195.08")

    def test_gifts_are_not_discounted_further_and_paid_lines_are(self):
        lines, total = place({WULIANGYE: 10}, promotions=[discount(), buy_get()])
        assert [line.unit_price for line in lines] == [Decimal("1234.05"), Decimal("0.00")]
        assert total == Decimal("12340.50")

    @pytest.mark.parametrize("rate", ["0", "0.95", "0.12345"])
    def test_a_rate_is_above_zero_at_most_ninety_percent_four_places(self, rate):
        with pytest.raises(InvalidPromotion):
            PromotionBook().define(discount(rate=rate), by=HQ)


class TestCategoryTree:
    def test_a_parent_must_exist_and_no_category_descends_from_itself(self):
        categories = tree()
        with pytest.raises(UnknownCategory):
            categories.place("BAIJIU-JIANGXIANG", "Sauce-aroma baijiu", "SPIRITS", HQ)
        with pytest.raises(CategoryCycle):
            categories.place("BAIJIU", "Baijiu", "BAIJIU-NONGXIANG", HQ)
        assert categories.ancestors("BAIJIU-NONGXIANG") == ["BAIJIU"]

    def test_placing_a_category_as_it_is_records_nothing(self):
        categories = tree()
        assert not categories.place("BAIJIU-NONGXIANG", "Strong-aroma baijiu", "BAIJIU", HQ)


class TestInvoicingGiftLines:
    """finance fills a SKU's order lines in line order: paid units before the gift."""

    def billing(self) -> OrderBilling:
        lines, total = place({WULIANGYE: 20}, promotions=[buy_get()])
        return OrderBilling(
            order_id="o-1",
            dealer_code="CD-001",
            lines=[
                {
                    "sku": line.sku,
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "gift": line.gift,
                }
                for line in lines
            ],
            total=total,
        )

    def test_partial_shipments_invoice_paid_units_first_and_the_whole_adds_up(self):
        billing = self.billing()
        first = billing.invoice_lines({WULIANGYE: 15})
        assert [(index, quantity) for index, _, quantity in first] == [(0, 15)]
        billing.record_invoice("s-1", "i-1", {"0": 15})
        second = billing.invoice_lines({WULIANGYE: 7})
        assert [(index, quantity) for index, _, quantity in second] == [(0, 5), (1, 2)]
        billed = sum(
            line["unit_price"] * q for shipment in (first, second) for _, line, q in shipment
        )
        assert billed == billing.total == Decimal("25980.00")

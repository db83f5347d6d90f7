"""Pricing an order: list prices, line amounts and totals to the fen, half-up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from runtime.eventstore import Provenance
from services.kernel.errors import OutsideScope
from services.kernel.money import InvalidAmount, cny
from services.orders.domain import (
    InvalidPrice,
    InvalidQuantity,
    OrderTooLarge,
    PriceList,
    Product,
    RequestedLine,
    UnknownProduct,
    check_may_order_for,
    price_lines,
)
from tests.unit.business import jinjiang_wine_trading

HQ = Provenance(actor="Wang Min", role="hq_admin")
DAY = date(2026, 12, 1)


def priced(requested, catalogue, price_list=None, **promotions):
    return price_lines(requested, catalogue, price_list, on=DAY, **promotions)


def product(sku: str, price: str) -> Product:
    return Product(
        sku=sku,
        name=sku.title(),
        category="BAIJIU",
        unit="bottle",
        list_price=Decimal(price),
        by=HQ,
    )


CATALOGUE = {
    "WULIANGYE-52-500ML": product("WULIANGYE-52-500ML", "1299.00"),
    "TSINGTAO-1903-330ML": product("TSINGTAO-1903-330ML", "8.80"),
}

CHENGDU_DEALER = jinjiang_wine_trading()


class TestMoney:
    def test_rounds_half_up_to_the_fen(self):
        assert cny("0.005") == Decimal("0.01")
        assert cny("0.004") == Decimal("0.00")
        assert cny("2.675") == Decimal("2.68")  # a float would give 2.67

    @pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", ""])
    def test_refuses_what_is_not_an_amount(self, value):
        with pytest.raises(InvalidAmount):
            cny(value)


class TestPriceLines:
    def test_line_amount_is_quantity_times_list_price(self):
        lines, total = priced(
            [RequestedLine("WULIANGYE-52-500ML", 12), RequestedLine("TSINGTAO-1903-330ML", 480)],
            CATALOGUE,
        )
        assert [line.amount for line in lines] == [Decimal("15588.00"), Decimal("4224.00")]
        assert total == Decimal("19812.00")

    def test_the_total_is_the_sum_of_what_the_lines_show(self):
        odd = {"JIANNANCHUN-52-500ML": product("JIANNANCHUN-52-500ML", "458.50")}
        lines, total = priced([RequestedLine("JIANNANCHUN-52-500ML", 3)], odd)
        assert total == sum(line.amount for line in lines) == Decimal("1375.50")

    def test_unknown_skus_are_named(self):
        with pytest.raises(UnknownProduct) as error:
            priced([RequestedLine("MAOTAI-FAKE-1L", 1)], CATALOGUE)
        assert error.value.extra["skus"] == ["MAOTAI-FAKE-1L"]

    @pytest.mark.parametrize("quantity", [0, -3])
    def test_quantities_must_be_positive(self, quantity):
        with pytest.raises(InvalidQuantity):
            priced([RequestedLine("WULIANGYE-52-500ML", quantity)], CATALOGUE)

    def test_an_order_needs_a_line(self):
        with pytest.raises(InvalidQuantity):
            priced([], CATALOGUE)


class TestProduct:
    @pytest.mark.parametrize("price", ["0.00", "-1.00", "12.345"])
    def test_list_price_is_positive_to_the_fen(self, price):
        with pytest.raises(InvalidPrice):
            product("LUZHOU-1573-500ML", price)


class TestOrderScope:
    def test_a_branch_clerk_orders_for_the_branchs_own_dealers(self):
        check_may_order_for(CHENGDU_DEALER, role="branch_clerk", branch="CD", dealer_code=None)

    def test_a_branch_clerk_may_not_order_for_another_branch(self):
        with pytest.raises(OutsideScope):
            check_may_order_for(CHENGDU_DEALER, role="branch_clerk", branch="SH", dealer_code=None)

    def test_a_dealer_orders_only_for_itself(self):
        check_may_order_for(CHENGDU_DEALER, role="dealer", branch=None, dealer_code="CD-001")
        with pytest.raises(OutsideScope):
            check_may_order_for(CHENGDU_DEALER, role="dealer", branch=None, dealer_code="CD-002")

    @pytest.mark.parametrize("role", ["warehouse_clerk", "erp", "hq_viewer"])
    def test_roles_that_do_not_sell_may_not_order(self, role):
        with pytest.raises(OutsideScope):
            check_may_order_for(CHENGDU_DEALER, role=role, branch=None, dealer_code=None)


class TestAmountCeiling:
    def test_an_order_beyond_ten_billion_yuan_is_refused(self):
        pricey = {"MOUTAI-1935-CASK": product("MOUTAI-1935-CASK", "9999999999.99")}
        with pytest.raises(OrderTooLarge):
            priced([RequestedLine("MOUTAI-1935-CASK", 2)], pricey)

    def test_a_list_price_beyond_the_ceiling_is_refused(self):
        with pytest.raises(InvalidPrice):
            product("MOUTAI-1935-CASK", "10000000000.01")


def test_a_grade_price_list_prices_the_skus_it_lists_and_leaves_the_rest_at_list_price():
    tier1 = PriceList(grade="tier1_distributor")
    tier1.set_price("WULIANGYE-52-500ML", Decimal("1199.00"), effective_from=DAY, by=HQ)
    lines, total = priced(
        [RequestedLine("WULIANGYE-52-500ML", 3), RequestedLine("TSINGTAO-1903-330ML", 7)],
        CATALOGUE,
        tier1,
    )
    assert [line.unit_price for line in lines] == [Decimal("1199.00"), Decimal("8.80")]
    assert total == Decimal("3658.60")


@pytest.mark.parametrize("price", ["0", "-1.00", "12.345"])
def test_a_price_list_refuses_prices_that_are_not_positive_fen(price):
    with pytest.raises(InvalidPrice):
        PriceList(grade="group_buy").set_price(
            "WULIANGYE-52-500ML", Decimal(price), effective_from=DAY, by=HQ
        )

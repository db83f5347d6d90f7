"""An order that fails both the credit and the stock check shows both refusals, whichever
the saga hears first: finance and inventory answer on their own topics, so either may
arrive after the other has already decided the order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.orders.domain import Order, OrderStatus, PricedLine
from tests.unit.business import HQ, jinjiang_wine_trading

CREDIT = "exposure 1950000.00 + order 143880.00 exceeds the credit limit 2000000.00 by 93880.00"
STOCK = "WH-CD: WULIANGYE-52-500ML: 120 requested, 40 available"
THRESHOLD = Decimal("500000.00")


def placed_order() -> Order:
    dealer = jinjiang_wine_trading()
    line = PricedLine(
        sku="WULIANGYE-52-500ML",
        name="Wuliangye 52% 500ml",
        category="BAIJIU",
        quantity=120,
        unit_price=Decimal("1199.00"),
        amount=Decimal("143880.00"),
        list_unit_price=Decimal("1199.00"),
    )
    return Order.place(
        dealer=dealer,
        priced=[line],
        total=Decimal("143880.00"),
        business_date=date(2026, 11, 20),
        by=HQ,
    )


def replayed(order: Order) -> Order:
    """The order as the event store gives it back: its events applied from nothing."""
    events = order.collect_events()
    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    return rebuilt


BOTH = [
    {"code": "credit_limit_exceeded", "detail": CREDIT},
    {"code": "insufficient_stock", "detail": STOCK},
]


class TestBothChecksFail:
    def test_credit_refused_then_stock_short(self):
        order = placed_order()
        order.credit_refused(detail=CREDIT)
        assert order.status == OrderStatus.CREDIT_HOLD
        order.stock_short(detail=STOCK)
        for seen in (order, replayed(order)):
            assert seen.status == OrderStatus.REJECTED
            assert (seen.reason, seen.credit, seen.stock) == (
                "insufficient_stock",
                "refused",
                "short",
            )
            assert seen.refusals == BOTH

    def test_stock_short_then_credit_refused(self):
        order = placed_order()
        order.stock_short(detail=STOCK)
        order.credit_refused(detail=CREDIT)
        for seen in (order, replayed(order)):
            assert seen.status == OrderStatus.REJECTED
            assert (seen.reason, seen.detail) == ("insufficient_stock", STOCK)
            assert (seen.credit, seen.stock) == ("refused", "short")
            assert seen.refusals == list(reversed(BOTH))

    @pytest.mark.parametrize("first", ["credit", "stock"])
    def test_redelivered_refusals_are_recorded_once(self, first):
        order = placed_order()
        hear = {
            "credit": lambda: order.credit_refused(detail=CREDIT),
            "stock": lambda: order.stock_short(detail=STOCK),
        }
        second = "stock" if first == "credit" else "credit"
        for heard in (first, first, second, first, second):
            hear[heard]()
        assert sorted(r["code"] for r in order.refusals) == [
            "credit_limit_exceeded",
            "insufficient_stock",
        ]

    def test_a_refusal_after_cancellation_is_noted_and_the_order_stays_cancelled(self):
        order = placed_order()
        order.cancel("dealer changed its mind", HQ)
        order.stock_short(detail=STOCK)
        order.credit_refused(detail=CREDIT)
        assert order.status == OrderStatus.CANCELLED
        assert order.refusals == list(reversed(BOTH))

    def test_an_order_that_passed_both_records_no_refusal(self):
        order = placed_order()
        order.credit_reserved(override=False, approval_threshold=THRESHOLD)
        order.stock_reserved(warehouse_code="WH-CD", approval_threshold=THRESHOLD)
        order.credit_refused(detail=CREDIT)
        order.stock_short(detail=STOCK)
        assert order.status == OrderStatus.APPROVED
        assert order.refusals == []

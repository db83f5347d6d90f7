"""Stock at cost, moving weighted average (移动加权平均): what a receipt adds and what a
shipment takes, to the fen, with nothing left over when the last bottle goes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.inventory.domain import InvalidUnitCost, StockItem

ORDER = "order-cd001-0001"


def wuliangye_at_chengdu() -> StockItem:
    return StockItem(warehouse_code="WH-CD", sku="WULIANGYE-52-500ML")


def reserve_and_ship(item: StockItem, quantity: int, shipment: str) -> Decimal:
    item.reserve(ORDER, quantity)
    return item.ship(ORDER, shipment, quantity)


class TestMovingAverageCost:
    def test_a_receipt_adds_its_cost_and_a_shipment_takes_the_average(self):
        item = wuliangye_at_chengdu()
        item.receive(100, "gr-1", Decimal("800.00"))
        item.receive(50, "gr-2", Decimal("830.00"))
        assert item.value == Decimal("121500.00")  # 80,000.00 + 41,500.00; 810.00 a bottle
        assert reserve_and_ship(item, 30, "sh-1") == Decimal("24300.00")
        assert item.value == Decimal("97200.00")

    def test_each_shipment_rounds_to_the_fen_and_the_last_takes_what_is_left(self):
        item = wuliangye_at_chengdu()
        item.receive(1, "gr-1", Decimal("100.00"))
        item.receive(2, "gr-2", Decimal("100.01"))  # 300.02 for 3: 100.0067 a bottle
        first = reserve_and_ship(item, 1, "sh-1")
        assert first == Decimal("100.01")
        last = reserve_and_ship(item, 2, "sh-2")
        assert last == Decimal("200.01")
        assert first + last == Decimal("300.02") and item.value == 0 and item.on_hand == 0

    def test_a_free_sample_comes_in_at_zero_and_lowers_the_average(self):
        item = wuliangye_at_chengdu()
        item.receive(9, "gr-1", Decimal("810.00"))
        item.receive(1, "gr-2", Decimal("0.00"))
        assert reserve_and_ship(item, 5, "sh-1") == Decimal("3645.00")  # 729.00 a bottle

    @pytest.mark.parametrize("cost", ["-0.01", "865.001", "20000000000.00"])
    def test_a_unit_cost_must_be_to_the_fen_not_negative_and_bounded(self, cost):
        item = wuliangye_at_chengdu()
        with pytest.raises(InvalidUnitCost):
            item.receive(1, "gr-1", Decimal(cost))
        assert item.on_hand == 0 and item.value == 0

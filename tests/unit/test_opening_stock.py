"""期初库存: opening stock at the cut-over starts the moving average like a receipt, and is
refused once the SKU has moved at the warehouse unless headquarters reopened its cut-over."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.eventstore import Provenance
from runtime.http.problems import status_of
from services.inventory.domain import InvalidUnitCost, StockItem, Warehouse
from services.inventory.opening import CutOverClosed, check_cut_over_open

HQ = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")
WULIANGYE = "WULIANGYE-52-500ML"


def chengdu_dc() -> Warehouse:
    return Warehouse(
        code="WH-CD",
        name="Chengdu DC",
        kind="branch",
        branch="CD",
        region="SOUTHWEST",
        by=HQ,
        dealer_code=None,
    )


class TestOpeningStock:
    def test_it_starts_the_moving_average_that_receipts_and_shipments_continue(self):
        item = StockItem(warehouse_code="WH-CD", sku=WULIANGYE)
        item.open_balance(100, "ob-1", Decimal("812.35"))
        item.open_balance(20, "ob-2", Decimal("800.00"))  # a second document of the cut-over
        assert (item.on_hand, item.value, item.has_moved) == (120, Decimal("97235.00"), False)
        item.receive(30, "gr-1", Decimal("865.00"))
        assert (item.on_hand, item.value, item.has_moved) == (150, Decimal("123185.00"), True)
        item.reserve("order-1", 50)
        # 50 of 150 at the average: 123185.00 / 3 = 41061.666... -> 41061.67
        assert item.ship("order-1", "shipment-1", 50) == Decimal("41061.67")

    def test_it_comes_before_business_unless_headquarters_reopens_the_cut_over(self):
        warehouse = chengdu_dc()
        fresh = StockItem(warehouse_code="WH-CD", sku=WULIANGYE)
        fresh.open_balance(10, "ob-1", Decimal("812.00"))
        check_cut_over_open(warehouse, [fresh])
        moved = StockItem(warehouse_code="WH-CD", sku="JIANNANCHUN-52-500ML")
        moved.set_safety_stock(12, HQ)
        with pytest.raises(CutOverClosed) as refused:
            check_cut_over_open(warehouse, [fresh, moved])
        assert status_of(refused.value) == 409
        assert refused.value.extra["skus"] == ["JIANNANCHUN-52-500ML"]
        warehouse.reopen_cut_over(HQ)
        check_cut_over_open(warehouse, [fresh, moved])

    def test_a_cost_below_zero_or_beyond_the_fen_is_refused(self):
        item = StockItem(warehouse_code="WH-CD", sku=WULIANGYE)
        for cost in ("-1.00", "812.345"):
            with pytest.raises(InvalidUnitCost):
                item.open_balance(10, "ob-1", Decimal(cost))
        assert item.on_hand == 0

"""Stock that moves without an order: transfers between warehouses with an in-transit leg
(调拨), damaged stock and its write-off (残损), stocktakes (盘点) and consignment
sell-through (寄售), on the aggregates alone. Value is never lost or created unseen."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from runtime.eventstore import Provenance
from services.inventory.domain import (
    CountIncomplete,
    DiscrepancyReasonMismatch,
    DiscrepancyReasonRequired,
    InsufficientDamagedStock,
    InsufficientStock,
    InvalidPeriod,
    InvalidQuantity,
    InvalidTransferRoute,
    InvalidTransition,
    MissingDealer,
    NotOnCountSheet,
    NotOnTransfer,
    SellThroughReport,
    StockCondition,
    StockItem,
    StockStillReserved,
    Stocktake,
    Transfer,
    VarianceReasonRequired,
    Warehouse,
    arrival_value,
)

CLERK = Provenance(actor="Liu Yang", role="warehouse_clerk")
WULIANGYE = "WULIANGYE-52-500ML"
D = Decimal
NOV_20, NOV_21 = date(2026, 11, 20), date(2026, 11, 21)


def stock(warehouse: str = "WH-CD-01", on_hand: int = 0, unit_cost: str = "865.00") -> StockItem:
    item = StockItem(warehouse_code=warehouse, sku=WULIANGYE)
    if on_hand:
        item.receive(on_hand, "gr-1", D(unit_cost))
    return item


def warehouse(code: str, kind: str, dealer: str | None = None) -> Warehouse:
    branch = None if kind == "central" else "CD"
    return Warehouse(
        code=code, name=code, kind=kind, branch=branch, region=None, by=CLERK, dealer_code=dealer
    )


def transfer(lines: dict[str, int], costs: dict[str, Decimal]) -> Transfer:
    return Transfer(
        id=uuid4(),
        from_warehouse="WH-CENTRAL",
        to_warehouse="WH-CD-01",
        ship_date=NOV_20,
        lines=lines,
        costs=costs,
        note=None,
        by=CLERK,
    )


class TestDamagedStock:
    def test_damaged_stock_is_on_hand_and_valued_but_never_available(self):
        item = stock(on_hand=100)
        item.mark_damaged(
            3, document_id="dm-1", reason="broken cap", business_date=NOV_20, by=CLERK
        )
        assert (item.on_hand, item.damaged, item.available) == (100, 3, 97)
        assert item.value == D("86500.00")
        with pytest.raises(InsufficientStock):
            item.reserve("order-1", 98)

    def test_only_available_stock_can_be_marked_damaged(self):
        item = stock(on_hand=10)
        item.reserve("order-1", 8)
        with pytest.raises(InsufficientStock):
            item.mark_damaged(3, document_id="dm-1", reason="x", business_date=NOV_20, by=CLERK)
        assert item.damaged == 0

    def test_a_write_off_takes_damaged_stock_out_at_average_cost(self):
        item = stock(on_hand=100)
        item.mark_damaged(4, document_id="dm-1", reason="leak", business_date=NOV_20, by=CLERK)
        cost = item.write_off_damaged(
            4, document_id="wo-1", reason="leak", business_date=NOV_21, by=CLERK
        )
        assert cost == D("3460.00")
        assert (item.on_hand, item.damaged, item.value) == (96, 0, D("83040.00"))

    def test_no_more_than_is_damaged_is_written_off(self):
        item = stock(on_hand=100)
        item.mark_damaged(2, document_id="dm-1", reason="leak", business_date=NOV_20, by=CLERK)
        with pytest.raises(InsufficientDamagedStock):
            item.write_off_damaged(
                3, document_id="wo-1", reason="x", business_date=NOV_21, by=CLERK
            )

    def test_goods_are_received_straight_into_damaged_stock(self):
        item = stock(on_hand=10)
        item.receive(2, "return-1", D("865.00"), condition=StockCondition.DAMAGED)
        assert (item.on_hand, item.damaged, item.available, item.value) == (
            12,
            2,
            10,
            D("10380.00"),
        )


class TestTransfer:
    def test_stock_leaves_at_average_cost_and_is_in_transit_to_the_destination(self):
        source, destination = stock("WH-CENTRAL", 100), stock("WH-CD-01")
        cost = source.transfer_out("tr-1", 30)
        destination.expect_transfer(transfer_id="tr-1", quantity=30, cost=cost)
        assert cost == D("25950.00")
        assert (source.on_hand, source.value) == (70, D("60550.00"))
        assert (destination.on_hand, destination.in_transit) == (0, 30)
        assert destination.in_transit_value == cost

    def test_no_more_than_is_available_at_the_source_is_dispatched(self):
        source = stock("WH-CENTRAL", 10)
        source.reserve("order-1", 6)
        with pytest.raises(InsufficientStock):
            source.transfer_out("tr-1", 5)
        assert (source.on_hand, source.value) == (10, D("8650.00"))

    def test_everything_arrived_takes_the_value_that_left(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        [arrival] = line.arrivals_of({WULIANGYE: (30, 0, None, None)})
        assert (arrival["value"], arrival["difference"], arrival["reason"]) == (
            D("25950.00"),
            D("0.00"),
            None,
        )

    def test_a_shortfall_needs_its_reason_and_its_value_is_a_transit_loss(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        with pytest.raises(DiscrepancyReasonRequired):
            line.arrivals_of({WULIANGYE: (28, 0, None, None)})
        [arrival] = line.arrivals_of({WULIANGYE: (27, 2, "damaged_in_transit", "two broken")})
        assert arrival["value"] == D("25085.00")  # 29 of 30 arrived
        assert arrival["difference"] == D("-865.00")
        assert arrival["value"] - arrival["difference"] == arrival["cost"]

    def test_damaged_on_arrival_needs_a_reason_even_when_the_count_agrees(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        with pytest.raises(DiscrepancyReasonRequired):
            line.arrivals_of({WULIANGYE: (28, 2, None, None)})

    def test_an_overage_is_over_shipped_and_a_transit_gain_at_the_line_unit_cost(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        with pytest.raises(DiscrepancyReasonMismatch):
            line.arrivals_of({WULIANGYE: (31, 0, "lost_in_transit", None)})
        [arrival] = line.arrivals_of({WULIANGYE: (31, 0, "over_shipped", None)})
        assert arrival["difference"] == D("865.00")

    def test_a_line_not_named_arrived_not_at_all_and_another_sku_is_refused(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        with pytest.raises(DiscrepancyReasonRequired):
            line.arrivals_of({})
        [arrival] = line.arrivals_of({WULIANGYE: (0, 0, "lost_in_transit", "lorry stolen")})
        assert (arrival["value"], arrival["difference"]) == (D("0.00"), D("-25950.00"))
        with pytest.raises(NotOnTransfer):
            line.arrivals_of({"JIANNANCHUN-52-500ML": (1, 0, None, None)})

    def test_a_transfer_is_received_once(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        line.receive(NOV_21, line.arrivals_of({WULIANGYE: (30, 0, None, None)}), CLERK)
        with pytest.raises(InvalidTransition):
            line.arrivals_of({WULIANGYE: (30, 0, None, None)})

    def test_a_transfer_does_not_arrive_before_it_left(self):
        line = transfer({WULIANGYE: 30}, {WULIANGYE: D("25950.00")})
        with pytest.raises(InvalidTransition):
            line.receive(
                date(2026, 11, 19), line.arrivals_of({WULIANGYE: (30, 0, None, None)}), CLERK
            )

    def test_the_destination_takes_the_value_that_arrived_and_damaged_units_as_damaged(self):
        destination = stock("WH-CD-01", 10, "800.00")
        destination.expect_transfer(transfer_id="tr-1", quantity=30, cost=D("25950.00"))
        destination.receive_transfer(
            transfer_id="tr-1",
            dispatched=30,
            cost=D("25950.00"),
            good=27,
            damaged=2,
            value=D("25085.00"),
        )
        assert (destination.on_hand, destination.damaged, destination.available) == (39, 2, 37)
        assert (destination.in_transit, destination.in_transit_value) == (0, D("0.00"))
        assert destination.value == D("33085.00")

    @pytest.mark.parametrize(
        ("dispatched", "cost", "arrived", "value"),
        [(3, "300.02", 2, "200.01"), (3, "300.02", 4, "400.03"), (1, "0.00", 0, "0.00")],
    )
    def test_arrival_values_round_to_the_fen(self, dispatched, cost, arrived, value):
        assert arrival_value(dispatched, D(cost), arrived) == D(value)

    def test_routes_go_between_two_warehouses_never_dealer_to_dealer(self):
        central = warehouse("WH-CENTRAL", "central")
        dealer_a = warehouse("WH-CSG-CD-001", "consignment", "CD-001")
        dealer_b = warehouse("WH-CSG-CD-002", "consignment", "CD-002")
        Transfer.check_route(central, dealer_a)
        Transfer.check_route(dealer_a, central)
        with pytest.raises(InvalidTransferRoute):
            Transfer.check_route(central, central)
        with pytest.raises(InvalidTransferRoute):
            Transfer.check_route(dealer_a, dealer_b)


def stocktake(book: dict[str, int], values: dict[str, str] | None = None) -> Stocktake:
    return Stocktake(
        warehouse_code="WH-CD-01",
        count_date=NOV_20,
        book=book,
        book_values={s: D((values or {}).get(s, "0.00")) for s in book},
        by=CLERK,
    )


class TestStocktake:
    def test_counts_come_in_several_submissions_and_a_later_count_replaces(self):
        sheet = stocktake({WULIANGYE: 100, "JIANNANCHUN-52-500ML": 40})
        sheet.record_counts({WULIANGYE: 97}, {WULIANGYE: "theft_or_loss"}, CLERK)
        with pytest.raises(CountIncomplete):
            sheet.check_postable()
        sheet.record_counts({WULIANGYE: 100, "JIANNANCHUN-52-500ML": 40}, {}, CLERK)
        sheet.check_postable()
        assert sheet.variance(WULIANGYE) == 0 and WULIANGYE not in sheet.reasons

    def test_a_variance_needs_its_reason(self):
        sheet = stocktake({WULIANGYE: 100})
        sheet.record_counts({WULIANGYE: 98}, {}, CLERK)
        with pytest.raises(VarianceReasonRequired):
            sheet.check_postable()

    def test_only_skus_on_the_sheet_are_counted(self):
        sheet = stocktake({WULIANGYE: 100})
        with pytest.raises(NotOnCountSheet):
            sheet.record_counts({"TSINGTAO-1903-330ML": 4}, {}, CLERK)

    def test_posting_is_once_only(self):
        sheet = stocktake({WULIANGYE: 100})
        sheet.record_counts({WULIANGYE: 100}, {}, CLERK)
        sheet.post(NOV_21, {}, CLERK)
        with pytest.raises(InvalidTransition):
            sheet.check_postable()
        with pytest.raises(InvalidTransition):
            sheet.record_counts({WULIANGYE: 99}, {WULIANGYE: "count_error"}, CLERK)

    def test_a_loss_leaves_and_a_gain_comes_in_at_the_moving_average(self):
        item = stock(on_hand=100)
        assert item.adjust_to_count(
            "st-1", -3, fallback_unit_cost=D("0.00"), reason="theft_or_loss"
        ) == D("-2595.00")
        assert item.adjust_to_count(
            "st-2", 2, fallback_unit_cost=D("0.00"), reason="unrecorded_receipt"
        ) == D("1730.00")
        assert (item.on_hand, item.value) == (99, D("85635.00"))

    def test_a_gain_with_nothing_on_hand_comes_in_at_the_book_average(self):
        item = stock()
        change = item.adjust_to_count(
            "st-1", 2, fallback_unit_cost=D("865.00"), reason="count_error"
        )
        assert change == D("1730.00") and item.on_hand == 2

    def test_a_count_below_what_orders_hold_is_refused(self):
        item = stock(on_hand=10)
        item.reserve("order-1", 8)
        with pytest.raises(StockStillReserved):
            item.adjust_to_count("st-1", -3, fallback_unit_cost=D("0"), reason="theft_or_loss")
        assert item.on_hand == 10
        item.adjust_to_count("st-1", -2, fallback_unit_cost=D("0"), reason="theft_or_loss")
        assert (item.on_hand, item.available) == (8, 0)

    def test_the_book_unit_cost_is_the_average_at_opening(self):
        sheet = stocktake({WULIANGYE: 3}, {WULIANGYE: "300.02"})
        assert sheet.book_unit_cost(WULIANGYE) == D("100.01")
        assert stocktake({WULIANGYE: 0}).book_unit_cost(WULIANGYE) == D("0.00")


class TestConsignment:
    def test_a_consignment_warehouse_belongs_to_one_dealer(self):
        assert warehouse("WH-CSG-CD-001", "consignment", "CD-001").dealer_code == "CD-001"
        with pytest.raises(MissingDealer):
            warehouse("WH-CSG-CD-001", "consignment")
        with pytest.raises(MissingDealer):
            warehouse("WH-CD-01", "branch", "CD-001")

    def test_sell_through_leaves_at_cost_and_never_more_than_is_held(self):
        item = stock("WH-CSG-CD-001", 24)
        with pytest.raises(InsufficientStock):
            item.sell_through("st-1", 25)
        assert item.sell_through("st-1", 10) == D("8650.00")
        assert (item.on_hand, item.value) == (14, D("12110.00"))

    def test_a_period_ends_on_or_after_it_starts(self):
        with pytest.raises(InvalidPeriod):
            SellThroughReport(
                warehouse_code="WH-CSG-CD-001",
                dealer_code="CD-001",
                branch="CD",
                period_from=NOV_21,
                period_to=NOV_20,
                lines={WULIANGYE: 1},
                costs={WULIANGYE: D("865.00")},
                by=CLERK,
            )


def snapshot_size(item: StockItem) -> int:
    return len(json.dumps(StockItem.Snapshot.take(item).state, default=str))


def test_a_busy_skus_state_holds_the_total_reserved_not_every_open_order():
    """A central warehouse's SKU may have hundreds of orders open on it: its state (and
    every snapshot of it) stays the same size, since what each order holds is its
    OrderReservation's. Releasing and shipping take the order's quantity from there."""
    item = stock(on_hand=1_000)
    item.reserve("order-0", 1)
    one_open = snapshot_size(item)
    for n in range(1, 500):
        item.reserve(f"order-{n}", 1)
    assert item.reserved == 500 and item.available == 500
    assert snapshot_size(item) <= one_open + 8  # its counters have more digits, no more
    item.release("order-7", 1)
    item.ship("order-8", "shipment-1", 1)
    assert (item.reserved, item.on_hand, item.available) == (498, 999, 501)
    with pytest.raises(InvalidQuantity):
        item.release("order-9", 499)  # more than is reserved in all


def test_a_snapshot_taken_when_stock_items_kept_every_order_reads_the_same():
    """Snapshots stored before v4 carry the per-order map: it is dropped on reading, and
    the totals stand as they were."""
    item = stock(on_hand=100)
    item.reserve("order-1", 30)
    item.reserve("order-2", 20)
    snapshot = StockItem.Snapshot.take(item)
    old = dict(snapshot.state, class_version=3, reservations={"order-1": 30, "order-2": 20})
    stored_before = StockItem.Snapshot(
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        timestamp=snapshot.timestamp,
        topic=snapshot.topic,
        state=old,
    )
    read = stored_before.mutate(None)
    assert not hasattr(read, "reservations")
    assert (read.on_hand, read.reserved, read.available) == (100, 50, 50)

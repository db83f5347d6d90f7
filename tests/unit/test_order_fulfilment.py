"""An order's fulfilment as the orders process manager hears it: shipments and deliveries of
one order travel on different partitions (each shipment is its own subject), so they may be
heard in any order across shipments."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from services.orders.contract import to_integration_event
from services.orders.domain import Order, OrderStatus, PricedLine
from tests.unit.business import HQ, jinjiang_wine_trading

WULIANGYE = "WULIANGYE-52-500ML"


def reserved_order(quantity: int, unit_price: str, *, threshold: str) -> Order:
    """An order of Wuliangye for CD-001 whose credit and stock are both reserved."""
    amount = Decimal(unit_price) * quantity
    line = PricedLine(
        sku=WULIANGYE,
        name="Wuliangye 52% 500ml",
        category="BAIJIU",
        quantity=quantity,
        unit_price=Decimal(unit_price),
        amount=amount,
        list_unit_price=Decimal(unit_price),
    )
    order = Order.place(
        dealer=jinjiang_wine_trading(),
        priced=[line],
        total=amount,
        business_date=date(2026, 11, 20),
        by=HQ,
    )
    order.credit_reserved(override=False, approval_threshold=Decimal(threshold))
    order.stock_reserved(warehouse_code="WH-CD", approval_threshold=Decimal(threshold))
    return order


def approved_order() -> Order:
    order = reserved_order(12, "1199.00", threshold="500000.00")
    assert order.status == OrderStatus.APPROVED
    return order


# Two shipments (6 + 6): the second completes the order; each is then confirmed delivered.
# A shipment's own dispatch always comes before its delivery (one subject, one partition).
STEPS = {
    "first shipped": lambda o: o.record_shipment("sh-1", {WULIANGYE: 6}, False),
    "second shipped": lambda o: o.record_shipment("sh-2", {WULIANGYE: 6}, True),
    "first delivered": lambda o: o.record_delivery("sh-1", date(2026, 11, 23)),
    "second delivered": lambda o: o.record_delivery("sh-2", date(2026, 11, 24)),
}
ORDERS = [
    steps
    for steps in itertools.permutations(STEPS)
    if steps.index("first shipped") < steps.index("first delivered")
    and steps.index("second shipped") < steps.index("second delivered")
]


@pytest.mark.parametrize("steps", ORDERS, ids=lambda steps: ", ".join(steps))
def test_an_order_is_delivered_whatever_order_its_shipments_are_heard_in(steps):
    order = approved_order()
    for step in steps:
        STEPS[step](order)
    assert order.status == OrderStatus.DELIVERED
    assert order.shipped == {WULIANGYE: 12}


def test_the_completing_shipment_heard_first_leaves_the_order_shipped():
    order = approved_order()
    order.record_shipment("sh-2", {WULIANGYE: 6}, True)
    order.record_shipment("sh-1", {WULIANGYE: 6}, False)  # dispatched earlier, heard later
    assert order.status == OrderStatus.SHIPPED


class TestAwaitingApproval:
    def test_above_the_threshold_it_is_published_as_awaiting_a_branch_manager(self):
        order = reserved_order(20, "1299.00", threshold="20000.00")
        assert order.status == OrderStatus.AWAITING_APPROVAL
        awaiting = order.collect_events()[-1]
        published = to_integration_event(awaiting)
        assert published.event_type().name == "OrderAwaitingApproval"
        assert published.model_dump(mode="json") == {
            "order_id": str(order.id),
            "dealer_code": "CD-001",
            "branch": "CD",
            "total": "25980.00",
            "threshold": "20000.00",
        }

    def test_an_event_recorded_before_it_was_published_stays_inside(self):
        state = {"threshold": Decimal("20000.00")}
        Order.AwaitingApproval.upcast_v1_v2(state)
        recorded = Order.AwaitingApproval(
            originator_id=uuid4(), originator_version=4, timestamp=datetime.now(UTC), **state
        )
        assert to_integration_event(recorded) is None

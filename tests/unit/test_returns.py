"""Returns (退货) on the orders side: what may be returned, and a return's way from request
to credit whichever of inventory's receipt and finance's credit note is heard first."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from runtime.eventstore import Provenance
from services.inventory.returns import (
    NothingReceived,
    NotOnReturn,
    ReturnAlreadyReceived,
    ReturnOverReceipt,
    ReturnReceipt,
)
from services.orders.returns import (
    DealerReturn,
    InvalidReturnTransition,
    ReturnExceedsShipped,
    ReturnStatus,
)
from tests.unit.test_order_fulfilment import WULIANGYE, approved_order

CLERK = Provenance(actor="Li Na", role="branch_clerk", branch="CD")
MANAGER = Provenance(actor="Zhang Wei", role="branch_manager", branch="CD")


def shipped_order():
    order = approved_order()  # 12 bottles ordered
    order.record_shipment("sh-1", {WULIANGYE: 8}, False)
    return order


def a_return(order, quantity: int) -> DealerReturn:
    dealer_return = DealerReturn(
        order_id=str(order.id),
        dealer_code=order.dealer_code,
        branch=order.branch,
        region=order.region,
        warehouse_code="WH-CD",
        business_date=date(2026, 12, 2),
        lines={WULIANGYE: quantity},
        reason="broken seals",
        by=CLERK,
    )
    order.take_back(str(dealer_return.id), dealer_return.lines)
    return dealer_return


def test_only_what_shipped_can_be_returned_and_returns_add_up():
    order = shipped_order()
    first = a_return(order, 5)
    assert order.returnable(WULIANGYE) == 3
    with pytest.raises(ReturnExceedsShipped):
        a_return(order, 4)
    a_return(order, 3)
    assert order.returnable(WULIANGYE) == 0
    # A rejected return frees what it took.
    first.reject("not our goods", MANAGER)
    order.settle_return(str(first.id), {})
    assert order.returnable(WULIANGYE) == 5


def test_what_actually_came_back_is_what_the_return_takes():
    order = shipped_order()
    dealer_return = a_return(order, 6)
    dealer_return.approve(MANAGER)
    order.settle_return(str(dealer_return.id), {WULIANGYE: 4})  # two never arrived
    assert order.returnable(WULIANGYE) == 4


def test_a_return_is_decided_once():
    dealer_return = a_return(shipped_order(), 2)
    dealer_return.approve(MANAGER)
    with pytest.raises(InvalidReturnTransition):
        dealer_return.approve(MANAGER)
    with pytest.raises(InvalidReturnTransition):
        dealer_return.reject("changed my mind", MANAGER)


@pytest.mark.parametrize("credit_first", [False, True])
def test_a_return_ends_credited_whichever_report_comes_first(credit_first):
    dealer_return = a_return(shipped_order(), 2)
    dealer_return.approve(MANAGER)

    def receipt():
        return dealer_return.record_receipt(
            {WULIANGYE: {"good": 1, "damaged": 1}}, date(2026, 12, 3)
        )

    def credit():
        return dealer_return.record_credit("cn-1", Decimal("2398.00"), date(2026, 12, 3))

    for step in (credit, receipt) if credit_first else (receipt, credit):
        step()
        step()  # a redelivery changes nothing
    assert dealer_return.status == ReturnStatus.CREDITED
    assert dealer_return.received == {WULIANGYE: {"good": 1, "damaged": 1}}
    assert dealer_return.credited == Decimal("2398.00")


class TestReceivingAReturn:
    """Inventory's side: what may be counted in against an approved return."""

    def expected(self):
        return ReturnReceipt(
            return_id="r-1",
            order_id="o-1",
            dealer_code="CD-001",
            branch="CD",
            warehouse_code="WH-CD",
            lines={WULIANGYE: 6, "JIANNANCHUN-52-500ML": 2},
        )

    def test_good_and_damaged_together_are_at_most_what_was_approved(self):
        receipt = self.expected()
        receipt.check_receivable({WULIANGYE: (4, 2)})  # a SKU left out did not arrive
        with pytest.raises(ReturnOverReceipt):
            receipt.check_receivable({WULIANGYE: (5, 2)})

    def test_a_sku_not_on_the_return_or_nothing_at_all_is_refused(self):
        receipt = self.expected()
        with pytest.raises(NotOnReturn):
            receipt.check_receivable({"LUZHOU-1573-500ML": (1, 0)})
        with pytest.raises(NothingReceived):
            receipt.check_receivable({WULIANGYE: (0, 0)})

    def test_a_return_is_received_once(self):
        receipt = self.expected()
        line = {"good": 1, "damaged": 0, "unit_cost": Decimal("812.00"), "value": Decimal("812.00")}
        receipt.receive(date(2026, 12, 3), {WULIANGYE: line}, CLERK)
        assert receipt.value == Decimal("812.00")
        with pytest.raises(ReturnAlreadyReceived):
            receipt.check_receivable({WULIANGYE: (1, 0)})

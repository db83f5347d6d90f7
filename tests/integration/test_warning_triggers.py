"""The warnings service's triggers, fed the integration events its process manager reads
(as the topics would deliver them) on real PostgreSQL: each raises one warning with its
reasons for the branch responsible; a second trigger for the same rule and subject while
one is open raises nothing more."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from contracts import finance, inventory, orders
from runtime.clock import ManualClock
from runtime.process_manager import ProcessManager
from services.warnings.application import POLICIES, WarningsApplication
from services.warnings.board import Board, Filters
from services.warnings.domain import EarlyWarning, Status, WarningSlot
from tests.platform import envelopes_of

pytestmark = pytest.mark.integration

ORDER = "6f1c2a9e-0000-4000-8000-000000000001"
WULIANGYE = "WULIANGYE-52-500ML"


@pytest.fixture
def warnings(settings):
    app = WarningsApplication(settings, clock=ManualClock(datetime(2026, 11, 23, tzinfo=UTC)))
    yield app
    app.close()


def deliver(app: WarningsApplication, *events) -> None:
    apply(app, envelopes_of(list(events)))


def apply(app: WarningsApplication, envelopes: list) -> None:
    manager = ProcessManager(app, name="warnings-test", policies=POLICIES)
    with manager.open_batch() as batch:
        outcomes = batch.apply_all(envelopes)
    assert {o.outcome for o in outcomes} == {"applied"}, outcomes


def open_warning(app: WarningsApplication, rule: str, subject: str) -> EarlyWarning:
    slot = app.repository.get(WarningSlot.create_id(rule, subject))
    assert slot.current is not None, f"no open {rule} warning for {subject}"
    return app.get_warning(slot.current)


def chengdu() -> list:
    return [
        orders.DealerRegistered(
            dealer_id="d-1",
            dealer_code="CD-001",
            name="Jinjiang Wine Trading",
            branch="CD",
            region="SOUTHWEST",
            grade="tier1_distributor",
        ),
        inventory.WarehouseRegistered(
            warehouse_id="w-1",
            code="WH-CD",
            name="Chengdu Branch Warehouse",
            kind="branch",
            branch="CD",
            region="SOUTHWEST",
            dealer_code=None,
        ),
        orders.OrderPlaced(
            order_id=ORDER,
            dealer_id="d-1",
            dealer_code="CD-001",
            branch="CD",
            region="SOUTHWEST",
            business_date=date(2026, 11, 20),
            lines=[
                orders.PlacedLine.at(
                    sku=WULIANGYE,
                    category="BAIJIU-NONGXIANG",
                    quantity=24,
                    unit_price=Decimal("1299.00"),
                )
            ],
            total=Decimal("31176.00"),
        ),
    ]


def credit_refused(amount: Decimal, credit_limit: Decimal = Decimal("20000.00")):
    """Finance refused CD-001's order (nothing else owed) for ``amount``, over the limit."""
    return finance.CreditRefused(
        order_id=ORDER,
        dealer_code="CD-001",
        amount=amount,
        exposure=Decimal("0.00"),
        credit_limit=credit_limit,
        shortfall=amount - credit_limit,
    )


class TestEventDrivenTriggers:
    def test_a_return_above_the_amount_is_warned_of_at_the_orders_prices(self, warnings):
        big = orders.ReturnApproved(
            return_id="r-1",
            order_id=ORDER,
            dealer_code="CD-001",
            branch="CD",
            warehouse_code="WH-CD",
            business_date=date(2026, 11, 23),
            lines=[{"sku": WULIANGYE, "quantity": 8}],
            reason="label damaged",
        )
        small = big.model_copy(
            update={"return_id": "r-2", "lines": [big.lines[0].model_copy(update={"quantity": 7})]}
        )
        deliver(warnings, *chengdu(), big, small)
        warning = open_warning(warnings, "return_above_amount", "return:r-1")
        assert (warning.branch, warning.level, warning.severity) == (
            "CD",
            "branch_manager",
            "medium",
        )
        assert warning.reasons[0]["figures"]["amount"] == "10392.00"  # 8 x 1,299.00
        assert (
            warnings.repository.get(
                WarningSlot.create_id("return_above_amount", "return:r-1")
            ).occurrences
            == 1
        )
        # 7 x 1,299.00 = 9,093.00: under the 10,000.00 threshold, no warning at all.
        assert not warnings.exists(WarningSlot.create_id("return_above_amount", "return:r-2"))

    def test_a_transfer_arriving_short_is_warned_of_to_the_receiving_branch(self, warnings):
        arrived = inventory.TransferReceived(
            transfer_id="t-1",
            from_warehouse="WH-CENTRAL",
            to_warehouse="WH-CD",
            received_on=date(2026, 11, 23),
            lines=[
                inventory.ArrivedLine(
                    sku=WULIANGYE,
                    dispatched=60,
                    received=57,
                    damaged=1,
                    cost=Decimal("51900.00"),
                    value=Decimal("50170.00"),
                    difference=Decimal("-1730.00"),
                    reason="lost_in_transit",
                    note=None,
                )
            ],
            cost=Decimal("51900.00"),
            value=Decimal("50170.00"),
            difference=Decimal("-1730.00"),
        )
        deliver(warnings, *chengdu(), arrived)
        warning = open_warning(warnings, "transfer_short", "transfer:t-1")
        assert (warning.branch, warning.severity) == ("CD", "high")
        figures = warning.reasons[0]["figures"]
        assert (figures["dispatched"], figures["received"], figures["damaged"]) == ("60", "57", "1")
        assert figures["difference"] == "-1730.00"

    def test_one_open_warning_per_rule_and_subject_however_often_triggered(self, warnings):
        refused = credit_refused(Decimal("31176.00"))
        shortage = inventory.StockShortage(
            order_id=ORDER,
            warehouse_code="WH-CD",
            shortages=[inventory.Shortage(sku=WULIANGYE, requested=24, available=20)],
        )
        # Twice each, at different positions (e.g. a republish under new positions).
        deliver(warnings, *chengdu(), refused, shortage, refused, shortage)
        slot = warnings.repository.get(WarningSlot.create_id("credit_hold", f"order:{ORDER}"))
        assert slot.occurrences == 1
        short = open_warning(warnings, "stock_shortage", f"order:{ORDER}")
        assert short.reasons[0]["figures"]["short"] == "4"
        assert (
            warnings.repository.get(
                WarningSlot.create_id("stock_shortage", f"order:{ORDER}")
            ).occurrences
            == 1
        )


class TestAwaitingApproval:
    """An order above the approval threshold waits for the branch manager; left waiting
    longer than the rule's hours (default 8), it is warned of; the decision clears it."""

    def waiting(self, order_id: str = ORDER) -> orders.OrderAwaitingApproval:
        return orders.OrderAwaitingApproval(
            order_id=order_id,
            dealer_code="CD-001",
            branch="CD",
            total=Decimal("31176.00"),
            threshold=Decimal("30000.00"),
        )

    def test_raised_for_the_branch_manager_once_it_has_waited_the_hours(self, warnings):
        approved = orders.OrderApproved(
            order_id=ORDER,
            dealer_code="CD-001",
            branch="CD",
            total=Decimal("31176.00"),
            manager_approval=True,
        )
        *before, decision = envelopes_of([*chengdu(), self.waiting(), approved])
        apply(warnings, before)
        watched = open_warning(warnings, "approval_waiting", f"order:{ORDER}")
        assert (watched.status, watched.level) == ("watching", None)
        assert not warnings.fire_due(watched.id, expected_version=watched.version)

        warnings.clock.advance(hours=8)
        assert warnings.fire_due(watched.id, expected_version=watched.version)
        raised = warnings.get_warning(watched.id)
        assert (raised.status, raised.level, raised.branch, raised.severity) == (
            "open",
            "branch_manager",
            "CD",
            "medium",
        )
        assert raised.reasons[0]["figures"] == {
            "order_total": "31176.00",
            "approval_threshold": "30000.00",
        }

        apply(warnings, [decision])  # the branch manager approves
        cleared = warnings.get_warning(watched.id)
        assert (cleared.status, cleared.resolution) == ("resolved", "the order was approved")
        slot = warnings.repository.get(WarningSlot.create_id("approval_waiting", f"order:{ORDER}"))
        assert slot.current is None

    def test_decided_within_the_hours_nobody_is_told(self, warnings):
        rejected = orders.OrderRejected(
            order_id=ORDER, dealer_code="CD-001", reason="manager_rejected", detail="over plan"
        )
        *before, decision = envelopes_of([*chengdu(), self.waiting(), rejected])
        apply(warnings, before)
        watched = open_warning(warnings, "approval_waiting", f"order:{ORDER}")
        warnings.clock.advance(hours=3)
        apply(warnings, [decision])
        dropped = warnings.get_warning(watched.id)
        assert dropped.status != "open" and dropped.raised_at is None
        warnings.clock.advance(hours=8)
        assert not warnings.fire_due(dropped.id, expected_version=dropped.version)


def placed_for(order_id: str, quantity: int) -> orders.OrderPlaced:
    """An order of Chengdu's dealer CD-001 for ``quantity`` bottles at 1,299.00."""
    [template] = [e for e in chengdu() if isinstance(e, orders.OrderPlaced)]
    line = orders.PlacedLine.at(
        sku=WULIANGYE, category="BAIJIU-NONGXIANG", quantity=quantity, unit_price=Decimal("1299.00")
    )
    return template.model_copy(update={"order_id": order_id, "lines": [line], "total": line.amount})


def ended_as(how: str, order_id: str = ORDER):
    if how == "rejected":
        return orders.OrderRejected(
            order_id=order_id,
            dealer_code="CD-001",
            reason="insufficient_stock",
            detail=f"{WULIANGYE}: 20 ordered, 12 available",
        )
    if how == "cancelled":
        return orders.OrderCancelled(
            order_id=order_id, dealer_code="CD-001", reason="dealer changed the order"
        )
    return orders.OrderApproved(
        order_id=order_id,
        dealer_code="CD-001",
        branch="CD",
        total=Decimal("25980.00"),
        manager_approval=False,
    )


class TestAfterTheOrderEnded:
    """Across topics, events may be handled in another order than they happened in: finance's
    CreditRefused may be handled after orders' end of the same order (a consumer catching up
    on finance's topic, or the race in which a stock shortage had the order rejected before
    finance decided its credit). The order is no longer held then, whatever finance says."""

    @pytest.mark.parametrize("how", ["rejected", "cancelled", "approved"])
    def test_credit_refused_after_the_order_ended_is_never_warned_of(self, warnings, settings, how):
        refused = credit_refused(Decimal("25980.00"))
        *before, late = envelopes_of(
            [*chengdu()[:2], placed_for(ORDER, 20), ended_as(how), refused]
        )
        apply(warnings, before)
        apply(warnings, [late])  # a later poll of finance's topic

        subject = f"order:{ORDER}"
        assert not warnings.exists(WarningSlot.create_id("credit_hold", subject))
        assert not warnings.exists(EarlyWarning.create_id("credit_hold", subject, 1))
        board = Board(settings, warnings)
        try:
            board.catch_up()
            warnings.clock.advance(hours=4, minutes=1)  # past the rule's 4 hours on hold
            assert board.fire_due(warnings.clock.now()) == 0
            warnings.clock.advance(days=5)  # past every level's allowance
            assert board.fire_due(warnings.clock.now()) == 0
            board.catch_up()
            for status in (Status.WATCHING, None):
                assert board.list(Filters(branches=None, status=status), limit=10, after=None) == []
        finally:
            board.close()

    def test_a_refusal_heard_after_the_end_it_led_to_is_still_warned_of(self, warnings):
        """A stock shortage and a credit override are warned of as facts, not as conditions
        the order's end clears: heard after the rejection or the approval that followed from
        them, they are warned of all the same, as when heard first."""
        overridden = "6f1c2a9e-0000-4000-8000-000000000002"
        shortage = inventory.StockShortage(
            order_id=ORDER,
            warehouse_code="WH-CD",
            shortages=[inventory.Shortage(sku=WULIANGYE, requested=20, available=12)],
        )
        override = finance.CreditReserved(
            order_id=overridden,
            dealer_code="CD-001",
            amount=Decimal("25980.00"),
            exposure=Decimal("25980.00"),
            credit_limit=Decimal("20000.00"),
            override=True,
        )
        *before, late_shortage, late_override = envelopes_of(
            [
                *chengdu()[:2],
                placed_for(ORDER, 20),
                ended_as("rejected"),
                placed_for(overridden, 20),
                ended_as("approved", overridden),
                shortage,
                override,
            ]
        )
        apply(warnings, before)
        apply(warnings, [late_shortage, late_override])
        short = open_warning(warnings, "stock_shortage", f"order:{ORDER}")
        assert (short.status, short.branch, short.reasons[0]["figures"]["short"]) == (
            "open",
            "CD",
            "8",
        )
        over = open_warning(warnings, "credit_override", f"order:{overridden}")
        assert (over.status, over.branch, over.reasons[0]["figures"]["over_limit"]) == (
            "open",
            "CD",
            "5980.00",
        )


def test_a_poll_of_orders_going_through_the_saga_reads_the_store_once(warnings):
    """Every order the saga moves reaches the warnings process as placed, credit reserved
    and approved, and each of those looks at the order's warning slots. A poll of them is
    read from the event store in one query, not one per slot per event: under load this
    is the warnings process's main cost."""
    [template] = [e for e in chengdu() if isinstance(e, orders.OrderPlaced)]
    order_ids = [f"6f1c2a9e-0000-4000-8000-{n:012d}" for n in range(10, 16)]
    events = []
    for order_id in order_ids:
        events += [
            template.model_copy(update={"order_id": order_id}),
            finance.CreditReserved(
                order_id=order_id,
                dealer_code="CD-001",
                amount=Decimal("31176.00"),
                exposure=Decimal("131176.00"),
                credit_limit=Decimal("500000.00"),
                override=False,
            ),
            orders.OrderApproved(
                order_id=order_id,
                dealer_code="CD-001",
                branch="CD",
                total=Decimal("31176.00"),
                manager_approval=False,
            ),
        ]
    delivered = envelopes_of([*chengdu()[:2], *events])
    apply(warnings, delivered[:2])  # the dealer and the warehouse, first
    queries = []
    select = warnings.service_recorder.select_aggregates_events

    def counted(after, **kwargs):
        queries.append(sorted(after))
        return select(after, **kwargs)

    warnings.service_recorder.select_aggregates_events = counted
    apply(warnings, delivered[2:])
    assert len(queries) == 1, f"{len(queries)} reads of the store for one poll"
    for order_id in order_ids:
        assert not warnings.exists(WarningSlot.create_id("credit_hold", f"order:{order_id}"))

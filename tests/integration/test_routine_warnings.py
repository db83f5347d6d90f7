"""Routine warnings (预警, issue 16) over HTTP: the read models hold the business (built from
the integration events, as the projectors build them, on real PostgreSQL); the warnings
process runs its routine evaluator on an injected clock, which the tests move instead of
waiting days. For each routine rule: a Chengdu subject that meets it raises exactly one
warning for the Chengdu branch manager with its figures; evaluating again raises nothing
new; the condition cleared, the warning resolves itself, saying so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from contracts import Envelope
from contracts import finance as finance_events
from contracts import inventory as inventory_events
from contracts import orders as orders_events
from contracts import planning as planning_events
from contracts.envelope import event_id
from projections.bootstrap import PROJECTIONS
from projections.tracking import SqlProjectionHandler, projections_engine
from runtime.clock import ManualClock
from services.warnings import bootstrap as warnings_process
from services.warnings.application import WarningsApplication
from services.warnings.board import Board
from services.warnings.routine import evaluate
from tests.integration.saga import CHENGDU_MANAGER, ok
from tests.integration.test_receivables_order_free import invoice
from tests.platform import HQ, command, serving, wait_until

pytestmark = pytest.mark.integration

WULIANGYE = "WULIANGYE-52-500ML"
BOTTLE = Decimal("1299.00")
TODAY = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


class ReadModels:
    """The platform's read models, fed integration events as the topics deliver them (each
    origin's positions 1, 2, 3, ...), every projection in one batch per call."""

    def __init__(self, settings) -> None:
        self.engine = projections_engine(settings, settings.projections_schema, pool_size=2)
        self.handlers = [SqlProjectionHandler(self.engine, p) for p in PROJECTIONS]
        self.positions: dict[str, int] = {}

    def publish(self, *events) -> None:
        envelopes = []
        for event in events:
            origin = event.service
            previous = self.positions.get(origin, 0)
            self.positions[origin] = position = previous + 1
            envelopes.append(
                Envelope(
                    id=event_id(origin, position),
                    source=origin,
                    type=str(event.event_type()),
                    subject=f"{origin}-{position}",
                    time="2026-11-20T01:00:00Z",
                    sequence=1,
                    position=position,
                    previousposition=previous,
                    data=event.model_dump(mode="json"),
                )
            )
        for handler in self.handlers:
            with handler.open_batch() as batch:
                batch.apply_all(envelopes)

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def warnings_running(settings, clock) -> Iterator:
    process = warnings_process.build(
        settings, clock=clock, tick_s=0.05, routine_poll_s=0.05, routine_debounce_s=0.1
    )
    with serving(process) as client:
        client.routine = process.api.state.routine  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def platform(settings):
    clock = ManualClock(TODAY)
    models = ReadModels(settings)
    try:
        with warnings_running(settings, clock) as warnings:
            wait_until(lambda: warnings.routine.runs >= 1, what="the first routine evaluation")
            models.publish(*chengdu())
            yield models, warnings, clock
    finally:
        models.close()


def chengdu() -> list:
    return [
        orders_events.DealerRegistered(
            dealer_id=f"d-{code}",
            dealer_code=code,
            name=name,
            branch="CD",
            region="SOUTHWEST",
            grade="tier1_distributor",
        )
        for code, name in (("CD-001", "Jinjiang Wine Trading"), ("CD-002", "Wuhou Liquor"))
    ]


def receipt(number: int, dealer: str, invoice_id: str, amount: str, on: str):
    return finance_events.ReceiptRecorded(
        receipt_id=f"rc-{number}",
        dealer_code=dealer,
        amount=amount,
        received_on=on,
        allocations=[finance_events.Allocation(invoice_id=invoice_id, amount=amount)],
        unapplied="0.00",
    )


def order(number: int, dealer: str, on: str, bottles: int):
    return orders_events.OrderPlaced(
        order_id=f"order-{number}",
        dealer_id=f"d-{dealer}",
        dealer_code=dealer,
        branch="CD",
        region="SOUTHWEST",
        business_date=on,
        lines=[
            orders_events.PlacedLine.at(
                sku=WULIANGYE, category="BAIJIU", quantity=bottles, unit_price=BOTTLE
            )
        ],
        total=BOTTLE * bottles,
    )


def warehouse(code: str, kind: str = "branch", dealer: str | None = None):
    return inventory_events.WarehouseRegistered(
        warehouse_id=f"w-{code}",
        code=code,
        name=f"{code} warehouse",
        kind=kind,
        branch="CD",
        region="SOUTHWEST",
        dealer_code=dealer,
    )


def goods(number: int, warehouse_code: str, bottles: int, on: str):
    return inventory_events.GoodsReceived(
        receipt_id=f"gr-{number}",
        warehouse_code=warehouse_code,
        business_date=on,
        lines=[
            inventory_events.ReceivedLine(
                sku=WULIANGYE, quantity=bottles, unit_cost="800.00", value=Decimal(800 * bottles)
            )
        ],
        value=Decimal(800 * bottles),
    )


# -- reading the warnings -------------------------------------------------------------------
def evaluated(warnings) -> None:
    """An evaluation after everything the test did (the worker's own runs, on the read
    models moving and daily on the clock, are shown by TestEvaluation)."""
    warnings.routine.evaluate_now()


def listed(warnings, rule: str, *, status: str = "all", headers=HQ) -> list[dict]:
    params = {"rule": rule, "status": status, "limit": 200}
    return ok(warnings.get("/warnings", params=params, headers=headers))["warnings"]


def raised(warnings, rule: str, subject: str) -> dict:
    """The rule's one warning, open, for the Chengdu branch manager."""
    evaluated(warnings)
    found = wait_until(
        lambda: [w for w in listed(warnings, rule) if w["status"] == "open"],
        what=f"an open {rule} warning",
    )
    assert [w["subject"] for w in found] == [subject]
    warning = found[0]
    assert warning["level"] == "branch_manager"
    assert warning["responsible_role"] == "branch_manager"
    assert warning["branch"] == "CD" and warning["region"] == "SOUTHWEST"
    assert warning["rule_version"] == 1
    mine = listed(warnings, rule, status="open", headers=CHENGDU_MANAGER)
    assert [w["warning_id"] for w in mine] == [warning["warning_id"]]
    return warning


def nothing_new(warnings, rule: str) -> None:
    before = listed(warnings, rule)
    again = warnings.routine.evaluate_now()
    assert again.raised[rule] == 0 and again.resolved[rule] == 0
    assert listed(warnings, rule) == before


def resolved_by_itself(warnings, rule: str, warning_id: str) -> dict:
    evaluated(warnings)
    warning = wait_until(
        lambda: (
            (w := ok(warnings.get(f"/warnings/{warning_id}", headers=HQ)))["status"] == "resolved"
            and w
        ),
        what=f"the {rule} warning resolved",
    )
    assert warning["resolution"].startswith("condition cleared on ")
    assert warning["history"][-1]["step"] == "auto_resolved"
    assert [w["status"] for w in listed(warnings, rule)] == ["resolved"]
    return warning


def figures(warning: dict) -> dict:
    [reason] = warning["reasons"]
    return reason["figures"]


# -- the rules ------------------------------------------------------------------------------
class TestCreditUtilisation:
    def test_a_dealer_at_97_percent_of_its_limit_is_warned_until_it_pays(self, platform):
        models, warnings, _ = platform
        models.publish(
            finance_events.CreditTermsSet(
                dealer_code="CD-001", credit_limit="20000.00", payment_terms_days=30
            ),
            finance_events.CreditTermsSet(
                dealer_code="CD-002", credit_limit="100000.00", payment_terms_days=30
            ),
            invoice(1, "CD-001", "2026-11-10", "2026-12-10", 15),  # 19,485.00
            invoice(2, "CD-002", "2026-11-10", "2026-12-10", 15),
        )
        warning = raised(warnings, "credit_utilisation", "dealer:CD-001")
        assert figures(warning) == {
            "exposure": "19485.00",
            "credit_limit": "20000.00",
            "utilisation_percent": "97.4",
            "threshold_percent": "90",
        }
        assert warning["severity"] == "high" and warning["dealer"] == "CD-001"
        nothing_new(warnings, "credit_utilisation")

        models.publish(receipt(1, "CD-001", "inv-1", "10000.00", "2026-11-19"))
        resolved_by_itself(warnings, "credit_utilisation", warning["warning_id"])


class TestReceivablesOverdue:
    def test_over_90_days_past_due_is_warned_and_a_longer_bucket_set_by_hq_clears_it(
        self, platform
    ):
        models, warnings, _ = platform
        models.publish(
            invoice(1, "CD-001", "2026-07-01", "2026-07-31", 10),  # 112 days past due
            invoice(2, "CD-002", "2026-09-01", "2026-10-01", 10),  # 50 days
        )
        warning = raised(warnings, "receivables_overdue", "dealer:CD-001")
        assert figures(warning) == {
            "overdue": "12990.00",
            "days_past_due_over": "90",
            "oldest_due_date": "2026-07-31",
        }
        nothing_new(warnings, "receivables_overdue")

        # HQ names another bucket: over 120 days (the rule's version 2); out of range refused.
        refused = command(
            warnings, "/warning-rules/receivables_overdue", {"threshold": "0"}, headers=HQ
        )
        assert refused.status_code == 422
        changed = ok(
            command(
                warnings, "/warning-rules/receivables_overdue", {"threshold": "120"}, headers=HQ
            )
        )
        assert changed["version"] == 2
        resolved_by_itself(warnings, "receivables_overdue", warning["warning_id"])

    def test_paying_the_overdue_invoice_resolves_it(self, platform):
        models, warnings, _ = platform
        models.publish(invoice(1, "CD-001", "2026-07-01", "2026-07-31", 10))
        warning = raised(warnings, "receivables_overdue", "dealer:CD-001")
        models.publish(receipt(1, "CD-001", "inv-1", "12990.00", "2026-11-19"))
        resolved_by_itself(warnings, "receivables_overdue", warning["warning_id"])


class TestStockBelowSafety:
    def test_stock_under_its_safety_level_is_warned_until_goods_arrive(self, platform):
        models, warnings, _ = platform
        models.publish(
            warehouse("WH-CD"),
            goods(1, "WH-CD", 100, "2026-11-02"),
            inventory_events.SafetyStockSet(warehouse_code="WH-CD", sku=WULIANGYE, quantity=150),
        )
        warning = raised(warnings, "stock_below_safety", f"stock:WH-CD:{WULIANGYE}")
        assert figures(warning) == {
            "sku": WULIANGYE,
            "warehouse": "WH-CD",
            "available": "100",
            "safety_stock": "150",
            "short": "50",
        }
        nothing_new(warnings, "stock_below_safety")

        models.publish(goods(2, "WH-CD", 80, "2026-11-19"))
        resolved_by_itself(warnings, "stock_below_safety", warning["warning_id"])


class TestConsignmentSlowTurnover:
    def test_units_held_past_90_days_are_warned_once_the_clock_passes_them(self, platform):
        models, warnings, clock = platform
        models.publish(
            warehouse("CS-CD-001", kind="consignment", dealer="CD-001"),
            goods(1, "CS-CD-001", 60, "2026-09-01"),  # 80 days old today
        )
        evaluated(warnings)
        assert listed(warnings, "consignment_slow_turnover") == []

        models.publish(goods(2, "CS-CD-001", 10, "2026-11-30"))
        clock.advance(days=11)  # 1 December: 91 days; the daily evaluation finds it
        wait_until(
            lambda: listed(warnings, "consignment_slow_turnover", status="open"),
            what="the daily evaluation's warning",
        )
        warning = raised(warnings, "consignment_slow_turnover", f"stock:CS-CD-001:{WULIANGYE}")
        assert warning["dealer"] == "CD-001"
        assert figures(warning) == {
            "sku": WULIANGYE,
            "warehouse": "CS-CD-001",
            "older_units": "60",
            "on_hand": "70",
            "days": "90",
        }
        nothing_new(warnings, "consignment_slow_turnover")

        models.publish(
            inventory_events.ConsignmentSellThroughReported(
                report_id="st-1",
                warehouse_code="CS-CD-001",
                dealer_code="CD-001",
                branch="CD",
                period_from="2026-11-01",
                period_to="2026-11-30",
                lines=[{"sku": WULIANGYE, "quantity": 60, "cost": "48000.00"}],
                cost="48000.00",
            )
        )
        resolved_by_itself(warnings, "consignment_slow_turnover", warning["warning_id"])


class TestShipmentNotDelivered:
    def test_a_shipment_unconfirmed_after_14_days_is_warned_until_delivery(self, platform):
        models, warnings, clock = platform
        models.publish(
            inventory_events.ShipmentDispatched(
                shipment_id="sh-1",
                order_id="order-1",
                dealer_code="CD-001",
                warehouse_code="WH-CD",
                ship_date="2026-11-10",
                lines=[{"sku": WULIANGYE, "quantity": 10, "cost": "8000.00"}],
                cost="8000.00",
                order_complete=True,
            )
        )
        evaluated(warnings)
        assert listed(warnings, "shipment_not_delivered") == []

        clock.advance(days=5)  # 25 November: 15 days after shipping
        warning = raised(warnings, "shipment_not_delivered", "shipment:sh-1")
        assert figures(warning) == {
            "ship_date": "2026-11-10",
            "days_since_shipping": "15",
            "order_id": "order-1",
        }
        nothing_new(warnings, "shipment_not_delivered")

        models.publish(
            inventory_events.DeliveryConfirmed(
                shipment_id="sh-1",
                order_id="order-1",
                dealer_code="CD-001",
                delivered_on="2026-11-24",
            )
        )
        resolved_by_itself(warnings, "shipment_not_delivered", warning["warning_id"])


class TestDealerRed:
    def test_a_dealer_red_in_channel_health_is_warned_until_it_turns_green(self, platform):
        models, warnings, _ = platform
        models.publish(
            finance_events.ChannelHealthRulesSet(),
            finance_events.CreditTermsSet(
                dealer_code="CD-001", credit_limit="10000.00", payment_terms_days=30
            ),
            invoice(1, "CD-001", "2026-11-10", "2026-12-10", 10),  # 12,990.00: 129.9 %
        )
        warning = raised(warnings, "dealer_red", "dealer:CD-001")
        assert figures(warning) == {"exposure": "12990.00", "credit_limit": "10000.00"}
        assert "credit utilisation 129.9 % is red" in warning["reasons"][0]["text"]
        nothing_new(warnings, "dealer_red")

        models.publish(receipt(1, "CD-001", "inv-1", "12990.00", "2026-11-19"))
        resolved_by_itself(warnings, "dealer_red", warning["warning_id"])


class TestDealerChurn:
    def test_a_regular_dealer_silent_for_30_days_is_warned_until_it_orders(self, platform):
        models, warnings, _ = platform
        models.publish(
            order(1, "CD-001", "2026-08-01", 5),
            order(2, "CD-001", "2026-08-20", 5),
            order(3, "CD-001", "2026-09-10", 5),
            order(4, "CD-002", "2026-09-01", 5),  # once: not a regular dealer
        )
        warning = raised(warnings, "dealer_churn", "dealer:CD-001")
        assert figures(warning) == {
            "last_order": "2026-09-10",
            "days_without_order": "71",
            "orders_before": "3",
        }
        nothing_new(warnings, "dealer_churn")

        models.publish(order(5, "CD-001", "2026-11-19", 5))
        resolved_by_itself(warnings, "dealer_churn", warning["warning_id"])


class TestTopDealerDrop:
    def test_a_top_dealer_whose_month_fell_60_percent_is_warned_until_it_recovers(self, platform):
        models, warnings, _ = platform
        models.publish(
            *(
                invoice(n, "CD-001", f"2026-{month:02d}-15", f"2026-{month + 1:02d}-14", 10)
                for n, month in ((1, 7), (2, 8), (3, 9))
            ),
            invoice(4, "CD-001", "2026-10-15", "2026-11-14", 4),  # October: 5,196.00
            *(
                invoice(n, "CD-002", f"2026-{month:02d}-15", f"2026-{month + 1:02d}-14", 2)
                for n, month in ((5, 7), (6, 8), (7, 9), (8, 10))
            ),
        )
        warning = raised(warnings, "top_dealer_drop", "dealer:CD-001")
        assert figures(warning) == {
            "month": "2026-10",
            "month_net_sales": "5196.00",
            "average_net_sales": "12990.00",
            "fall_percent": "60.0",
        }
        nothing_new(warnings, "top_dealer_drop")

        models.publish(invoice(9, "CD-001", "2026-10-30", "2026-11-29", 6))
        resolved_by_itself(warnings, "top_dealer_drop", warning["warning_id"])


class TestBranchPaceBelowFloor:
    def test_a_branch_behind_its_floor_on_day_20_is_warned_until_sales_catch_up(self, platform):
        models, warnings, _ = platform
        models.publish(
            planning_events.BranchTargetSet(
                month="2026-11",
                branch="CD",
                floor="100000.00",
                target="150000.00",
                stretch="200000.00",
            ),
            invoice(1, "CD-001", "2026-11-05", "2026-12-05", 10),  # 12,990.00
        )
        warning = raised(warnings, "branch_pace_below_floor", "branch:CD")
        assert warning["dealer"] is None
        assert figures(warning) == {
            "month": "2026-11",
            "month_to_date_net_sales": "12990.00",
            "pace": "19485.00",
            "floor": "100000.00",
            "day": "20",
        }
        nothing_new(warnings, "branch_pace_below_floor")

        models.publish(invoice(2, "CD-002", "2026-11-18", "2026-12-18", 60))  # 77,940.00
        resolved_by_itself(warnings, "branch_pace_below_floor", warning["warning_id"])


class TestDemandPlanDeviation:
    def test_a_month_ordered_40_percent_under_plan_is_warned_until_orders_come_in(self, platform):
        models, warnings, _ = platform
        models.publish(
            planning_events.DemandPlanApproved(
                plan_id="plan-1",
                dealer_code="CD-001",
                branch="CD",
                region="SOUTHWEST",
                month="2026-10",
                revision=1,
                lines=[{"sku": WULIANGYE, "quantity": 100}],
            ),
            order(1, "CD-001", "2026-10-10", 60),
        )
        warning = raised(warnings, "demand_plan_deviation", "demand_plan:CD-001:2026-10")
        assert figures(warning) == {
            "month": "2026-10",
            "approved_quantity": "100",
            "ordered_quantity": "60",
            "deviation_percent": "40.0",
        }
        nothing_new(warnings, "demand_plan_deviation")

        models.publish(order(2, "CD-001", "2026-10-28", 30))  # 90 of 100: 10 % off
        resolved_by_itself(warnings, "demand_plan_deviation", warning["warning_id"])


class TestEvaluation:
    def test_two_processes_evaluating_at_once_raise_one_warning(self, platform, settings):
        models, warnings, clock = platform
        models.publish(invoice(1, "CD-001", "2026-07-01", "2026-07-31", 10))
        others = [WarningsApplication(settings, clock=clock) for _ in range(2)]
        boards = [Board(settings, app) for app in others]
        engine = projections_engine(settings, settings.projections_schema, pool_size=2)
        try:
            start = threading.Barrier(2)
            results = []

            def run(app, board) -> None:
                start.wait()
                results.append(evaluate(app, board, engine))

            threads = [
                threading.Thread(target=run, args=pair) for pair in zip(others, boards, strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sum(r.raised["receivables_overdue"] for r in results) <= 1
        finally:
            for board in boards:
                board.close()
            for app in others:
                app.close()
            engine.dispose()
        evaluated(warnings)
        found = wait_until(lambda: listed(warnings, "receivables_overdue"), what="the warning")
        assert [w["subject"] for w in found] == ["dealer:CD-001"]

    def test_the_read_models_moving_is_enough_to_evaluate(self, platform):
        models, warnings, _ = platform
        models.publish(invoice(1, "CD-001", "2026-07-01", "2026-07-31", 10))
        # No evaluation asked for and the clock stands still: the watermarks moved.
        found = wait_until(
            lambda: listed(warnings, "receivables_overdue", status="open"), what="the warning"
        )
        assert found[0]["subject"] == "dealer:CD-001"

    def test_every_routine_rule_is_in_the_catalogue_hq_can_change(self, platform):
        _, warnings, _ = platform
        rules = {r["code"]: r for r in ok(warnings.get("/warning-rules", headers=HQ))["rules"]}
        for code in (
            "credit_utilisation",
            "receivables_overdue",
            "stock_below_safety",
            "consignment_slow_turnover",
            "shipment_not_delivered",
            "dealer_red",
            "dealer_churn",
            "top_dealer_drop",
            "branch_pace_below_floor",
            "demand_plan_deviation",
        ):
            assert rules[code]["version"] == 1, code
        assert date(2026, 11, 20) == warnings.routine.last.day

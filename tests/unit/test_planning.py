"""Demand plans (要货计划) and sales targets (销售目标): the rules of the aggregates."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from runtime.eventstore import Provenance
from services.kernel.errors import OutsideScope
from services.orders.contract import to_integration_event
from services.orders.domain import Dealer, InvalidTransition, UnknownProduct
from services.orders.planning import (
    AllocationExceedsTarget,
    BranchTargetNotSet,
    DealerCoverage,
    DemandPlan,
    DuplicateSku,
    InvalidMonth,
    InvalidQuantity,
    InvalidTargetLevels,
    Levels,
    MonthTargets,
    NationalTargetNotSet,
    PlanStatus,
    Salesperson,
    SalespersonOfOtherBranch,
    TargetBelowAllocations,
    check_may_manage_branch,
    check_may_review,
    plan_lines,
)
from tests.unit.business import jinjiang_wine_trading

CLERK = Provenance(actor="Chen Jing", role="branch_clerk", branch="CD")
MANAGER = Provenance(actor="Li Qiang", role="branch_manager", branch="CD")
HQ = Provenance(actor="Wang Min", role="hq_admin")
WULIANGYE, JIANNANCHUN = "WULIANGYE-52-500ML", "JIANNANCHUN-52-500ML"
CATALOGUE = {WULIANGYE, JIANNANCHUN}


def jinjiang() -> Dealer:
    return jinjiang_wine_trading()


def submitted() -> DemandPlan:
    lines = plan_lines([(WULIANGYE, 120), (JIANNANCHUN, 300)], CATALOGUE)
    return DemandPlan.submit(dealer=jinjiang(), month="2026-11", lines=lines, by=CLERK)


def levels(floor: str, target: str, stretch: str) -> Levels:
    return Levels.of(Decimal(floor), Decimal(target), Decimal(stretch))


class TestPlanLines:
    def test_quantities_by_sku(self):
        assert plan_lines([(WULIANGYE, 120)], CATALOGUE) == {WULIANGYE: 120}

    def test_an_unknown_sku_is_named(self):
        with pytest.raises(UnknownProduct) as raised:
            plan_lines([(WULIANGYE, 1), ("MAOTAI-53-500ML", 6)], CATALOGUE)
        assert raised.value.extra["skus"] == ["MAOTAI-53-500ML"]

    @pytest.mark.parametrize("quantity", [0, -6, 1.5, True])
    def test_quantities_are_positive_integers(self, quantity):
        with pytest.raises(InvalidQuantity):
            plan_lines([(WULIANGYE, quantity)], CATALOGUE)

    def test_each_sku_once(self):
        with pytest.raises(DuplicateSku):
            plan_lines([(WULIANGYE, 10), (WULIANGYE, 5)], CATALOGUE)

    def test_at_least_one_line(self):
        with pytest.raises(InvalidQuantity):
            plan_lines([], CATALOGUE)


class TestDemandPlan:
    def test_submitted_awaits_review(self):
        plan = submitted()
        assert (plan.status, plan.revision, plan.branch) == (PlanStatus.SUBMITTED, 1, "CD")

    @pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "2026-11-01"])
    def test_a_month_is_yyyy_mm(self, month):
        with pytest.raises(InvalidMonth):
            DemandPlan.submit(dealer=jinjiang(), month=month, lines={WULIANGYE: 1}, by=CLERK)

    def test_may_be_revised_until_reviewed(self):
        plan = submitted()
        plan.revise({WULIANGYE: 150}, CLERK)
        assert (plan.lines, plan.revision) == ({WULIANGYE: 150}, 2)

    def test_approved_is_final(self):
        plan = submitted()
        plan.approve("fits the Spring Festival stock-up", MANAGER)
        assert plan.status == PlanStatus.APPROVED
        with pytest.raises(InvalidTransition):
            plan.revise({WULIANGYE: 1}, CLERK)
        with pytest.raises(InvalidTransition):
            plan.approve(None, MANAGER)
        with pytest.raises(InvalidTransition):
            plan.return_for_revision("too late", MANAGER)

    def test_returned_must_be_resubmitted_before_review(self):
        plan = submitted()
        plan.return_for_revision("JIANNANCHUN too high for November", MANAGER)
        assert (plan.status, plan.comment) == (
            PlanStatus.RETURNED,
            "JIANNANCHUN too high for November",
        )
        with pytest.raises(InvalidTransition):
            plan.approve(None, MANAGER)
        plan.revise({WULIANGYE: 120, JIANNANCHUN: 200}, CLERK)
        assert (plan.status, plan.revision) == (PlanStatus.SUBMITTED, 2)
        plan.approve(None, MANAGER)
        assert plan.status == PlanStatus.APPROVED

    def test_reviewed_by_its_branch_manager_or_hq(self):
        check_may_review(jinjiang(), role="branch_manager", branch="CD")
        check_may_review(jinjiang(), role="hq_admin", branch=None)
        with pytest.raises(OutsideScope):
            check_may_review(jinjiang(), role="branch_manager", branch="SH")
        with pytest.raises(OutsideScope):
            check_may_review(jinjiang(), role="branch_clerk", branch="CD")
        with pytest.raises(OutsideScope):
            check_may_review(jinjiang(), role="dealer", branch=None)


def zhang() -> Salesperson:
    return Salesperson(code="SP-CD-01", name="Zhang Wei", branch="CD", by=MANAGER)


def liu() -> Salesperson:
    return Salesperson(code="SP-CD-02", name="Liu Fang", branch="CD", by=MANAGER)


def november() -> MonthTargets:
    targets = MonthTargets(month="2026-11")
    targets.set_national(levels("800000.00", "1000000.00", "1200000.00"), HQ)
    return targets


class TestLevels:
    def test_floor_target_stretch_rise(self):
        levels("100.00", "100.00", "100.00")  # equal is rising enough
        with pytest.raises(InvalidTargetLevels):
            levels("100.00", "90.00", "120.00")
        with pytest.raises(InvalidTargetLevels):
            levels("100.00", "130.00", "120.00")

    @pytest.mark.parametrize("amount", ["-1.00", "100.001"])
    def test_amounts_are_to_the_fen_and_not_negative(self, amount):
        with pytest.raises(InvalidTargetLevels):
            levels(amount, "200.00", "300.00")


class TestDecomposition:
    def test_branches_need_the_national_target_first(self):
        with pytest.raises(NationalTargetNotSet):
            MonthTargets(month="2026-11").allocate_branch("CD", levels("1.00", "2.00", "3.00"), HQ)

    def test_branches_may_take_up_to_the_national_figure_exactly(self):
        targets = november()
        targets.allocate_branch("CD", levels("500000.00", "600000.00", "700000.00"), HQ)
        targets.allocate_branch("SH", levels("300000.00", "400000.00", "500000.00"), HQ)
        assert targets.allocated_to_branches() == targets.national

    def test_not_a_fen_more_at_any_level(self):
        targets = november()
        targets.allocate_branch("CD", levels("500000.00", "600000.00", "700000.00"), HQ)
        with pytest.raises(AllocationExceedsTarget) as raised:
            targets.allocate_branch("SH", levels("300000.00", "400000.00", "500000.01"), HQ)
        assert raised.value.extra["levels"] == ["stretch"]

    def test_reallocating_a_branch_replaces_its_part(self):
        targets = november()
        targets.allocate_branch("CD", levels("800000.00", "1000000.00", "1200000.00"), HQ)
        targets.allocate_branch("CD", levels("400000.00", "500000.00", "600000.00"), HQ)
        assert targets.branches["CD"] == levels("400000.00", "500000.00", "600000.00")

    def test_the_national_figure_may_not_fall_below_the_branches_parts(self):
        targets = november()
        targets.allocate_branch("CD", levels("500000.00", "600000.00", "700000.00"), HQ)
        with pytest.raises(TargetBelowAllocations):
            targets.set_national(levels("400000.00", "600000.00", "700000.00"), HQ)
        targets.set_national(levels("500000.00", "600000.00", "700000.00"), HQ)

    def test_salespeople_share_their_branchs_target(self):
        targets = november()
        with pytest.raises(BranchTargetNotSet):
            targets.allocate_salesperson(zhang(), levels("1.00", "1.00", "1.00"), MANAGER)
        targets.allocate_branch("CD", levels("500000.00", "600000.00", "700000.00"), HQ)
        targets.allocate_salesperson(
            zhang(), levels("300000.00", "350000.00", "400000.00"), MANAGER
        )
        with pytest.raises(AllocationExceedsTarget):
            targets.allocate_salesperson(
                liu(), levels("200000.00", "250000.01", "300000.00"), MANAGER
            )
        targets.allocate_salesperson(liu(), levels("200000.00", "250000.00", "300000.00"), MANAGER)
        assert targets.allocated_in("CD") == targets.branches["CD"]

    def test_a_branch_may_not_fall_below_its_salespeoples_parts(self):
        targets = november()
        targets.allocate_branch("CD", levels("500000.00", "600000.00", "700000.00"), HQ)
        targets.allocate_salesperson(
            zhang(), levels("300000.00", "350000.00", "400000.00"), MANAGER
        )
        with pytest.raises(TargetBelowAllocations):
            targets.allocate_branch("CD", levels("300000.00", "300000.00", "400000.00"), HQ)

    def test_branches_are_managed_by_their_own_manager_or_hq(self):
        check_may_manage_branch("CD", role="branch_manager", own_branch="CD")
        check_may_manage_branch("CD", role="hq_admin", own_branch=None)
        for role, branch in (("branch_manager", "SH"), ("branch_clerk", "CD"), ("hq_viewer", None)):
            with pytest.raises(OutsideScope):
                check_may_manage_branch("CD", role=role, own_branch=branch)


class TestDealerCoverage:
    def test_sales_go_to_whoever_covered_the_dealer_that_day(self):
        coverage = DealerCoverage(dealer_code="CD-001", branch="CD")
        coverage.assign(zhang(), date(2026, 11, 1), MANAGER)
        coverage.assign(liu(), date(2026, 11, 16), MANAGER)
        assert coverage.salesperson_on(date(2026, 10, 31)) is None
        assert coverage.salesperson_on(date(2026, 11, 15)) == "SP-CD-01"
        assert coverage.salesperson_on(date(2026, 11, 16)) == "SP-CD-02"

    def test_only_a_salesperson_of_the_dealers_branch(self):
        coverage = DealerCoverage(dealer_code="CD-001", branch="CD")
        shanghai = Salesperson(code="SP-SH-01", name="Xu Hui", branch="SH", by=HQ)
        with pytest.raises(SalespersonOfOtherBranch):
            coverage.assign(shanghai, date(2026, 11, 1), HQ)

    def test_the_same_assignment_again_records_nothing(self):
        coverage = DealerCoverage(dealer_code="CD-001", branch="CD")
        coverage.assign(zhang(), date(2026, 11, 1), MANAGER)
        coverage.assign(zhang(), date(2026, 11, 1), MANAGER)
        assert len(coverage.collect_events()) == 2  # opened, assigned once


class TestPublishedEvents:
    def test_every_planning_event_is_published_fitting_its_schema(self):
        plan = submitted()
        plan.revise({WULIANGYE: 100}, CLERK)
        plan.return_for_revision("more JIANNANCHUN", MANAGER)
        plan.revise({WULIANGYE: 100, JIANNANCHUN: 50}, CLERK)
        plan.approve(None, MANAGER)
        targets = november()
        targets.allocate_branch("CD", levels("500000.00", "600000.00", "700000.00"), HQ)
        targets.allocate_salesperson(zhang(), levels("1.00", "2.00", "3.00"), MANAGER)
        coverage = DealerCoverage(dealer_code="CD-001", branch="CD")
        coverage.assign(zhang(), date(2026, 11, 1), MANAGER)
        events = [*plan.collect_events(), *targets.collect_events()]
        events += [*zhang().collect_events(), *coverage.collect_events()]
        schemas = Path(__file__).parents[2] / "contracts" / "schemas" / "orders"
        names = []
        for domain_event in events:
            published = to_integration_event(domain_event)
            if published is None:
                continue  # MonthTargets.Opened, DealerCoverage.Opened stay inside
            schema = json.loads((schemas / f"{published.event_name}.v1.json").read_text())
            jsonschema.validate(published.model_dump(mode="json"), schema)
            names.append(published.event_name)
        assert names == [
            "DemandPlanSubmitted",
            "DemandPlanSubmitted",
            "DemandPlanReturned",
            "DemandPlanSubmitted",
            "DemandPlanApproved",
            "NationalTargetSet",
            "BranchTargetSet",
            "SalespersonTargetSet",
            "SalespersonRegistered",
            "DealerAssigned",
        ]

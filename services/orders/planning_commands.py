"""Command handlers of planning (demand plans, sales targets, salespeople and their dealers)
on the orders application. Each loads what it needs, asks the aggregates of
``services.orders.planning``, and saves once with the caller's answer (under its
Idempotency-Key), like the handlers of ``application.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from runtime.eventstore import CommandResult, IdempotencyKey
from services.orders.application import Actor, OrdersApplication
from services.orders.domain import Dealer, Product, UnknownDealer, check_may_order_for
from services.orders.planning import (
    LEVELS,
    DealerCoverage,
    DemandPlan,
    DemandPlanExists,
    Levels,
    MonthTargets,
    Salesperson,
    SalespersonAlreadyRegistered,
    UnknownDemandPlan,
    UnknownSalesperson,
    check_may_manage_branch,
    check_may_review,
    check_month,
    plan_lines,
)


@dataclass(frozen=True)
class SubmitDemandPlan:
    dealer_code: str
    month: str
    lines: list[tuple[str, int]]


@dataclass(frozen=True)
class RegisterSalesperson:
    code: str
    name: str
    branch: str


@dataclass(frozen=True)
class AssignDealer:
    dealer_code: str
    salesperson_code: str
    effective_from: date


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def plan_view(plan: DemandPlan) -> dict[str, Any]:
    return {
        "plan_id": str(plan.id),
        "dealer_code": plan.dealer_code,
        "branch": plan.branch,
        "region": plan.region,
        "month": plan.month,
        "status": str(plan.status),
        "revision": plan.revision,
        "comment": plan.comment,
        "reviewed_by": plan.reviewed_by,
        "lines": [{"sku": sku, "quantity": q} for sku, q in sorted(plan.lines.items())],
    }


def salesperson_view(salesperson: Salesperson) -> dict[str, Any]:
    return {
        "salesperson_id": str(salesperson.id),
        "code": salesperson.code,
        "name": salesperson.name,
        "branch": salesperson.branch,
    }


def coverage_view(coverage: DealerCoverage) -> dict[str, Any]:
    return {
        "dealer_code": coverage.dealer_code,
        "branch": coverage.branch,
        "assignments": [
            {"salesperson_code": code, "effective_from": start.isoformat()}
            for start, code in sorted(coverage.assignments.items())
        ],
    }


def _levels_view(levels: Levels | None) -> dict[str, str] | None:
    return None if levels is None else {n: _money(getattr(levels, n)) for n in LEVELS}


def targets_view(targets: MonthTargets) -> dict[str, Any]:
    branches = targets.allocated_to_branches()
    unallocated = (
        {n: _money(getattr(targets.national, n) - getattr(branches, n)) for n in LEVELS}
        if targets.national
        else None
    )
    return {
        "month": targets.month,
        "national": _levels_view(targets.national),
        "unallocated": unallocated,
        "branches": [
            {
                "branch": branch,
                **(_levels_view(levels) or {}),
                "unallocated": {
                    n: _money(getattr(levels, n) - getattr(targets.allocated_in(branch), n))
                    for n in LEVELS
                },
            }
            for branch, levels in sorted(targets.branches.items())
        ],
        "salespeople": [
            {"salesperson_code": code, "branch": branch, **(_levels_view(levels) or {})}
            for code, (branch, levels) in sorted(targets.salespeople.items())
        ],
    }


def empty_targets_view(month: str) -> dict[str, Any]:
    return targets_view(MonthTargets(month=check_month(month)))


def _find(app: OrdersApplication, aggregate_id, kind: type):
    try:
        found = app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, kind) else None


# -- demand plans -----------------------------------------------------------------------------
def _dealer_and_lines(
    app: OrdersApplication, dealer_code: str, lines: list[tuple[str, int]], actor: Actor
) -> tuple[Dealer, dict[str, int]]:
    dealer_id = Dealer.create_id(dealer_code)
    skus = sorted({sku for sku, _ in lines})
    found = app.get_many([dealer_id, *(Product.create_id(sku) for sku in skus)])
    dealer = found.pop(dealer_id, None)
    if not isinstance(dealer, Dealer):
        raise UnknownDealer(f"no dealer with code {dealer_code}")
    check_may_order_for(dealer, role=actor.role, branch=actor.branch, dealer_code=actor.dealer_code)
    known = {p.sku for p in found.values() if isinstance(p, Product)}
    return dealer, plan_lines(lines, known)


def submit_demand_plan(
    app: OrdersApplication,
    cmd: SubmitDemandPlan,
    *,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    """A dealer (or its branch's clerk) submits its plan of the month."""
    month = check_month(cmd.month)
    dealer, lines = _dealer_and_lines(app, cmd.dealer_code, cmd.lines, actor)
    duplicate = DemandPlanExists(
        f"{dealer.code} already has a plan for {month}: revise it instead",
        dealer_code=dealer.code,
        month=month,
    )
    if app.exists(DemandPlan.create_id(dealer.code, month)):
        raise duplicate
    plan = DemandPlan.submit(dealer=dealer, month=month, lines=lines, by=actor.provenance)
    return app.save_registration(
        plan, body=plan_view(plan), idempotency=idempotency, duplicate=duplicate
    )


def get_demand_plan(app: OrdersApplication, dealer_code: str, month: str) -> DemandPlan:
    plan = _find(app, DemandPlan.create_id(dealer_code, check_month(month)), DemandPlan)
    if plan is None:
        raise UnknownDemandPlan(f"{dealer_code} has no demand plan for {month}")
    return plan


def revise_demand_plan(
    app: OrdersApplication,
    dealer_code: str,
    month: str,
    lines: list[tuple[str, int]],
    *,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    """Revise a plan not yet approved (a returned plan is resubmitted so)."""
    dealer, quantities = _dealer_and_lines(app, dealer_code, lines, actor)
    plan = get_demand_plan(app, dealer.code, month)
    plan.revise(quantities, actor.provenance)
    return app.save_command(plan, status_code=200, body=plan_view(plan), idempotency=idempotency)


def review_demand_plan(
    app: OrdersApplication,
    dealer_code: str,
    month: str,
    *,
    approve: bool,
    comment: str | None,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    """The branch's manager approves a submitted plan, or returns it with a comment."""
    plan = get_demand_plan(app, dealer_code, month)
    check_may_review(app.get_dealer(dealer_code), role=actor.role, branch=actor.branch)
    if approve:
        plan.approve(comment, actor.provenance)
    else:
        plan.return_for_revision(comment or "", actor.provenance)
    return app.save_command(plan, status_code=200, body=plan_view(plan), idempotency=idempotency)


# -- salespeople and their dealers ------------------------------------------------------------
def register_salesperson(
    app: OrdersApplication,
    cmd: RegisterSalesperson,
    *,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    check_may_manage_branch(cmd.branch, role=actor.role, own_branch=actor.branch)
    app.organisation().check_branch(cmd.branch)
    duplicate = SalespersonAlreadyRegistered(f"salesperson {cmd.code} is already registered")
    if app.exists(Salesperson.create_id(cmd.code)):
        raise duplicate
    salesperson = Salesperson(code=cmd.code, name=cmd.name, branch=cmd.branch, by=actor.provenance)
    return app.save_registration(
        salesperson,
        body=salesperson_view(salesperson),
        idempotency=idempotency,
        duplicate=duplicate,
    )


def get_salesperson(app: OrdersApplication, code: str) -> Salesperson:
    salesperson = _find(app, Salesperson.create_id(code), Salesperson)
    if salesperson is None:
        raise UnknownSalesperson(f"no salesperson with code {code}")
    return salesperson


def assign_dealer(
    app: OrdersApplication, cmd: AssignDealer, *, actor: Actor, idempotency: IdempotencyKey | None
) -> CommandResult:
    """From a business date on, a salesperson of the dealer's branch covers the dealer."""
    dealer = app.get_dealer(cmd.dealer_code)
    check_may_manage_branch(dealer.branch, role=actor.role, own_branch=actor.branch)
    salesperson = get_salesperson(app, cmd.salesperson_code)
    coverage = _find(app, DealerCoverage.create_id(dealer.code), DealerCoverage)
    coverage = coverage or DealerCoverage(dealer_code=dealer.code, branch=dealer.branch)
    coverage.assign(salesperson, cmd.effective_from, actor.provenance)
    return app.save_command(
        coverage, status_code=200, body=coverage_view(coverage), idempotency=idempotency
    )


def get_coverage(app: OrdersApplication, dealer_code: str) -> dict[str, Any]:
    dealer = app.get_dealer(dealer_code)
    coverage = _find(app, DealerCoverage.create_id(dealer.code), DealerCoverage)
    return coverage_view(coverage or DealerCoverage(dealer_code=dealer.code, branch=dealer.branch))


# -- sales targets ----------------------------------------------------------------------------
def get_targets(app: OrdersApplication, month: str) -> MonthTargets | None:
    return _find(app, MonthTargets.create_id(check_month(month)), MonthTargets)


def _save_targets(
    app: OrdersApplication, targets: MonthTargets, idempotency: IdempotencyKey | None
) -> CommandResult:
    return app.save_command(
        targets, status_code=200, body=targets_view(targets), idempotency=idempotency
    )


def set_national_target(
    app: OrdersApplication,
    month: str,
    levels: Levels,
    *,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    """Headquarters sets (or resets) the month's national floor, target and stretch."""
    targets = get_targets(app, month) or MonthTargets(month=month)
    targets.set_national(levels, actor.provenance)
    return _save_targets(app, targets, idempotency)


def set_branch_target(
    app: OrdersApplication,
    month: str,
    branch: str,
    levels: Levels,
    *,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    """Headquarters allocates part of the national target to a branch."""
    app.organisation().check_branch(branch)
    targets = get_targets(app, month) or MonthTargets(month=month)
    targets.allocate_branch(branch, levels, actor.provenance)
    return _save_targets(app, targets, idempotency)


def set_salesperson_target(
    app: OrdersApplication,
    month: str,
    salesperson_code: str,
    levels: Levels,
    *,
    actor: Actor,
    idempotency: IdempotencyKey | None,
) -> CommandResult:
    """A branch manager allocates part of the branch's target to one of its salespeople."""
    salesperson = get_salesperson(app, salesperson_code)
    check_may_manage_branch(salesperson.branch, role=actor.role, own_branch=actor.branch)
    targets = get_targets(app, month) or MonthTargets(month=month)
    targets.allocate_salesperson(salesperson, levels, actor.provenance)
    return _save_targets(app, targets, idempotency)

"""Translation of planning's domain events into their published integration events
(``contracts.planning``); ``contract.py`` hands over what it does not translate itself.

Every demand-plan event carries the whole plan as it stands (dealer, branch, month, revision,
lines), so a read model needs no earlier event of the plan to show it.
"""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts import planning as published
from contracts.envelope import IntegrationEvent
from services.orders.planning import DealerCoverage, DemandPlan, MonthTargets, Salesperson


def _lines(lines: dict[str, int]) -> list[published.PlanLine]:
    return [published.PlanLine(sku=sku, quantity=q) for sku, q in sorted(lines.items())]


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    plan_id = str(event.originator_id)
    if isinstance(event, DemandPlan.Submitted):
        return published.DemandPlanSubmitted(
            plan_id=plan_id,
            dealer_code=event.dealer_code,
            branch=event.branch,
            region=event.region,
            month=event.month,
            revision=1,
            lines=_lines(event.lines),
        )
    if isinstance(event, DemandPlan.Revised):
        return published.DemandPlanSubmitted(
            plan_id=plan_id,
            dealer_code=event.dealer_code,
            branch=event.branch,
            region=event.region,
            month=event.month,
            revision=event.revision,
            lines=_lines(event.lines),
        )
    if isinstance(event, DemandPlan.Approved):
        return published.DemandPlanApproved(
            plan_id=plan_id,
            dealer_code=event.dealer_code,
            branch=event.branch,
            region=event.region,
            month=event.month,
            revision=event.revision,
            lines=_lines(event.lines),
            comment=event.comment,
        )
    if isinstance(event, DemandPlan.Returned):
        return published.DemandPlanReturned(
            plan_id=plan_id,
            dealer_code=event.dealer_code,
            branch=event.branch,
            month=event.month,
            revision=event.revision,
            comment=event.comment,
        )
    if isinstance(event, Salesperson.Registered):
        return published.SalespersonRegistered(
            salesperson_id=str(event.originator_id),
            salesperson_code=event.code,
            name=event.name,
            branch=event.branch,
        )
    if isinstance(event, DealerCoverage.Assigned):
        return published.DealerAssigned(
            dealer_code=event.dealer_code,
            branch=event.branch,
            salesperson_code=event.salesperson_code,
            effective_from=event.effective_from,
        )
    if isinstance(event, MonthTargets.NationalSet):
        return published.NationalTargetSet(
            month=event.month, floor=event.floor, target=event.target, stretch=event.stretch
        )
    if isinstance(event, MonthTargets.BranchSet):
        return published.BranchTargetSet(
            month=event.month,
            branch=event.branch,
            floor=event.floor,
            target=event.target,
            stretch=event.stretch,
        )
    if isinstance(event, MonthTargets.SalespersonSet):
        return published.SalespersonTargetSet(
            month=event.month,
            branch=event.branch,
            salesperson_code=event.salesperson_code,
            floor=event.floor,
            target=event.target,
            stretch=event.stretch,
        )
    return None

"""Integration events of the orders service's planning: demand plans (要货计划), sales targets
(销售目标), the salesperson registry and dealers' assignment to salespeople. Published on
``<namespace>.orders.events`` like the rest of orders, keyed by the aggregate id: one demand
plan (a dealer's month), one month's targets, one salesperson, one dealer's coverage.

Months are ``YYYY-MM``; money is a decimal string in CNY with two places; quantities are
integers in the SKU's unit.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent
from contracts.types import Money

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Month = Field(pattern=MONTH_PATTERN, description="the plan's or target's month, YYYY-MM")


class PlanLine(BaseModel):
    """A SKU's planned quantity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(gt=0)


class DemandPlanSubmitted(IntegrationEvent):
    """要货计划: a dealer's plan for a month was submitted (revision 1) or revised (2, 3, ...):
    the whole plan as it now stands, awaiting its branch's review."""

    service = "orders"
    event_name = "DemandPlanSubmitted"
    version = 1

    plan_id: str
    dealer_code: str
    branch: str
    region: str
    month: str = Month
    revision: int = Field(ge=1, description="1 when first submitted, +1 per revision")
    lines: list[PlanLine] = Field(min_length=1)


class DemandPlanApproved(IntegrationEvent):
    """The branch approved the plan's revision: the quantities the dealer plans to order."""

    service = "orders"
    event_name = "DemandPlanApproved"
    version = 1

    plan_id: str
    dealer_code: str
    branch: str
    region: str
    month: str = Month
    revision: int = Field(ge=1)
    lines: list[PlanLine] = Field(min_length=1)
    comment: str | None = None


class DemandPlanReturned(IntegrationEvent):
    """The branch returned the plan for revision, with its comment; it counts as planned
    again only once resubmitted and approved."""

    service = "orders"
    event_name = "DemandPlanReturned"
    version = 1

    plan_id: str
    dealer_code: str
    branch: str
    month: str = Month
    revision: int = Field(ge=1)
    comment: str


class SalespersonRegistered(IntegrationEvent):
    """A salesperson of a branch office joined the registry."""

    service = "orders"
    event_name = "SalespersonRegistered"
    version = 1

    salesperson_id: str
    salesperson_code: str
    name: str
    branch: str


class DealerAssigned(IntegrationEvent):
    """From ``effective_from`` on (a business date), the dealer's sales count towards this
    salesperson's targets, until a later assignment takes over."""

    service = "orders"
    event_name = "DealerAssigned"
    version = 1

    dealer_code: str
    branch: str
    salesperson_code: str
    effective_from: date


class _TargetLevels(IntegrationEvent):
    floor: Money = Field(description="保底: the least acceptable")
    target: Money = Field(description="the target itself")
    stretch: Money = Field(description="冲刺: the stretch goal")


class NationalTargetSet(_TargetLevels):
    """销售目标: headquarters set (or reset) the national target of a month, in net invoiced
    sales (floor <= target <= stretch)."""

    service = "orders"
    event_name = "NationalTargetSet"
    version = 1

    month: str = Month


class BranchTargetSet(_TargetLevels):
    """Headquarters allocated part of the month's national target to a branch office. The
    branches' parts never exceed the national figure, level by level; what is left is
    unallocated."""

    service = "orders"
    event_name = "BranchTargetSet"
    version = 1

    month: str = Month
    branch: str


class SalespersonTargetSet(_TargetLevels):
    """A branch allocated part of its target of the month to one of its salespeople (never
    more, in sum, than the branch's own, level by level)."""

    service = "orders"
    event_name = "SalespersonTargetSet"
    version = 1

    month: str = Month
    branch: str
    salesperson_code: str

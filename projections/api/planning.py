"""Queries of planning: demand plan against actually ordered (``/demand-plans``) and target
attainment (``/targets``), national under ``/hq``, scoped under ``/branches/{branch_id}``
(its own branch only), and a dealer's own plans under ``/dealers/{dealer_id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from projections.api.deps import Consistency, CurrentPrincipal, ReadModels
from projections.api.scopes import branch_router, dealer_router, headquarters_router
from projections.demand_plans.projection import demand
from projections.demand_plans.queries import (
    PlanDimension,
    PlanFilter,
    plan_vs_actual,
)
from projections.read_your_writes import position_field
from projections.sales.projection import sales
from projections.targets.projection import targets
from projections.targets.queries import (
    TargetDimension,
    branch_attainment,
    national,
    salesperson_attainment,
)
from runtime.http.schemas import MONTH_PATTERN, Code

hq = headquarters_router()
branches = branch_router()
dealers = dealer_router()


class DemandPlanQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, examples=["2026-11"])
    by: PlanDimension = PlanDimension.SKU
    branch: str | None = None
    region: str | None = None
    dealer: str | None = None
    sku: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = position_field(demand)


def _demand(engine, consistency, params: DemandPlanQuery) -> dict:
    consistency.wait("demand_plans", params.min_position)
    where = PlanFilter(params.month, params.branch, params.region, params.dealer, params.sku)
    with engine.connect() as conn:
        rows, next_cursor = plan_vs_actual(
            conn, by=params.by, where=where, limit=params.limit, cursor=params.cursor
        )
    return {"month": params.month, "by": params.by, "items": rows, "next_cursor": next_cursor}


@hq.get("/demand-plans")
def national_demand_plans(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[DemandPlanQuery, Query()],
) -> dict:
    """要货计划 vs actual, per SKU, dealer, branch, region or the nation in a month:
    `approved_quantity` (approved plans), `pending_quantity` (submitted, awaiting review),
    `ordered_quantity` (orders placed in the month by business date, less rejected and
    cancelled ones), `variance` = ordered - approved, `ordered_to_plan` = ordered / approved."""
    return _demand(engine, consistency, params)


@branches.get("/demand-plans")
def branch_demand_plans(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[DemandPlanQuery, Query()],
) -> dict:
    """The same, for one branch office's dealers."""
    scoped = params.model_copy(update={"branch": branch_id, "region": None})
    return _demand(engine, consistency, scoped)


@dealers.get("/demand-plans")
def dealer_demand_plans(
    dealer_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[DemandPlanQuery, Query()],
) -> dict:
    """A dealer's own plan vs what it ordered (its branch and HQ may look too)."""
    scoped = params.model_copy(update={"dealer": dealer_id, "branch": None, "region": None})
    return _demand(engine, consistency, scoped)


class TargetsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, examples=["2026-11"])
    by: TargetDimension = TargetDimension.BRANCH
    min_position: str | None = position_field(targets, sales)


class NationalTargetsQuery(TargetsQuery):
    branch: Code | None = Field(default=None, description="one branch office's rows")
    region: Code | None = Field(
        default=None, description="the rows of the region's branches (and their salespeople)"
    )


# Levels come from the targets read model, net sales from the sales read model.
_TARGET_READ_MODELS = ("targets", "sales")


def _targets(
    engine, consistency, params: TargetsQuery, branch: str | None, region: str | None = None
) -> dict:
    consistency.wait(_TARGET_READ_MODELS, params.min_position)
    attainment = (
        branch_attainment if params.by == TargetDimension.BRANCH else salesperson_attainment
    )
    with engine.connect() as conn:
        rows = attainment(conn, month=params.month, branch=branch, region=region)
        whole = branch is None and region is None
        nation = national(conn, month=params.month) if whole else None
    answer = {"month": params.month, "by": params.by, "items": rows}
    if nation is not None:
        answer["nation"] = nation
    return answer


@hq.get("/targets")
def national_targets(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[NationalTargetsQuery, Query()],
) -> dict:
    """销售目标 attainment in a month per branch or per salesperson: net invoiced sales
    (invoiced less credit notes), floor / target / stretch, each ratio, and the highest level
    reached; `nation` (without a `branch` or `region` filter) adds the national levels and
    what is allocated and not."""
    return _targets(engine, consistency, params, params.branch, params.region)


@branches.get("/targets")
def branch_targets(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[TargetsQuery, Query()],
) -> dict:
    """The same, for one branch office and its salespeople."""
    return _targets(engine, consistency, params, branch_id)

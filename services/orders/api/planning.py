"""Routes of planning on the orders API: demand plans (``/demand-plans``), sales targets and
the salesperson registry (``/targets``), and dealers' assignment to salespeople
(``/dealers/{code}/salesperson``). Routes translate and delegate; rules live in
``services.orders.planning`` and the handlers of ``services.orders.planning_commands``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.http.idempotency import run_command
from runtime.http.schemas import MONTH_PATTERN, Code, Count, IsoDate, Money, Name
from runtime.settings import Role
from services.kernel.ownership import Ownership
from services.orders import planning_commands as planning
from services.orders.api.deps import (
    CurrentPrincipal,
    Idempotency,
    OrdersApp,
    actor_of,
    check_sees_dealer,
)
from services.orders.planning import Levels, check_may_manage_branch
from services.orders.planning_commands import AssignDealer, RegisterSalesperson, SubmitDemandPlan

MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, examples=["2026-11"])]
MonthField = Field(pattern=MONTH_PATTERN, examples=["2026-11"], description="YYYY-MM")
CHANGED = {409: {"description": "rule or state transition violated (see `code`)"}}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanLineCreate(_Strict):
    sku: Code = Field(examples=["WULIANGYE-52-500ML"])
    quantity: Count = Field(gt=0, le=10_000_000)


class DemandPlanCreate(_Strict):
    dealer_code: Code = Field(examples=["CD-001"])
    month: str = MonthField
    lines: list[PlanLineCreate] = Field(min_length=1, max_length=500)


class DemandPlanRevision(_Strict):
    lines: list[PlanLineCreate] = Field(min_length=1, max_length=500)


class DemandPlanApproval(_Strict):
    comment: Name | None = None


class DemandPlanReturn(_Strict):
    comment: Name = Field(description="what to revise, for the dealer")


class PlanLineRead(BaseModel):
    sku: str
    quantity: int


class DemandPlanRead(BaseModel):
    plan_id: str
    dealer_code: str
    branch: str
    region: str
    month: str
    status: str = Field(description="submitted, returned or approved")
    revision: int
    comment: str | None = None
    reviewed_by: str | None = None
    lines: list[PlanLineRead]
    position: str | None = None


class TargetLevels(_Strict):
    """CNY of net invoiced sales in the month, floor <= target <= stretch."""

    floor: Money = Field(examples=["8000000.00"])
    target: Money = Field(examples=["10000000.00"])
    stretch: Money = Field(examples=["12000000.00"])

    def levels(self) -> Levels:
        return Levels.of(self.floor, self.target, self.stretch)


class SalespersonCreate(_Strict):
    code: Code = Field(examples=["SP-CD-01"])
    name: Name = Field(examples=["Zhang Wei"])
    branch: Code = Field(examples=["CD"])


class DealerAssignment(_Strict):
    salesperson_code: Code = Field(examples=["SP-CD-01"])
    effective_from: IsoDate = Field(
        description="the first business date whose invoices count towards this salesperson"
    )


demand_plans = APIRouter(prefix="/demand-plans", tags=["demand plans"])
targets = APIRouter(prefix="/targets", tags=["sales targets"])
salespeople_of_dealers = APIRouter(prefix="/dealers", tags=["sales targets"])


# 要货计划 are submitted and revised by the dealer or its branch's clerk (or HQ); reviewing
# them is the branch manager's.
PLANNERS = (Role.DEALER, Role.BRANCH_CLERK, Role.HQ_ADMIN)


def _lines(body: DemandPlanCreate | DemandPlanRevision) -> list[tuple[str, int]]:
    return [(line.sku, line.quantity) for line in body.lines]


# -- demand plans -----------------------------------------------------------------------------
@demand_plans.post("", status_code=201, response_model=DemandPlanRead, responses=CHANGED)
def submit_demand_plan(
    body: DemandPlanCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """要货计划: a dealer, or its branch's clerk, submits the dealer's plan for a month.
    A second plan for the same dealer and month: 409 `demand_plan_exists` (revise it)."""
    principal.require(*PLANNERS)
    cmd = SubmitDemandPlan(dealer_code=body.dealer_code, month=body.month, lines=_lines(body))
    return run_command(
        app,
        key,
        lambda k: planning.submit_demand_plan(
            app, cmd, actor=actor_of(principal, k), idempotency=k
        ),
    )


@demand_plans.get("/{dealer_code}/{month:month}", response_model=DemandPlanRead)
def get_demand_plan(
    dealer_code: str, month: MonthPath, principal: CurrentPrincipal, app: OrdersApp
) -> dict:
    check_sees_dealer(principal, app, dealer_code)
    return planning.plan_view(planning.get_demand_plan(app, dealer_code, month))


@demand_plans.post(
    "/{dealer_code}/{month:month}/revision", response_model=DemandPlanRead, responses=CHANGED
)
def revise_demand_plan(
    dealer_code: str,
    month: MonthPath,
    body: DemandPlanRevision,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """Replace the plan's lines while it is not approved; a returned plan is resubmitted
    this way. Approved: 409 `invalid_transition`."""
    principal.require(*PLANNERS)
    return run_command(
        app,
        key,
        lambda k: planning.revise_demand_plan(
            app, dealer_code, month, _lines(body), actor=actor_of(principal, k), idempotency=k
        ),
    )


@demand_plans.post(
    "/{dealer_code}/{month:month}/approval", response_model=DemandPlanRead, responses=CHANGED
)
def approve_demand_plan(
    dealer_code: str,
    month: MonthPath,
    body: DemandPlanApproval,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """The dealer's branch manager approves a submitted plan."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: planning.review_demand_plan(
            app,
            dealer_code,
            month,
            approve=True,
            comment=body.comment,
            actor=actor_of(principal, k),
            idempotency=k,
        ),
    )


@demand_plans.post(
    "/{dealer_code}/{month:month}/return", response_model=DemandPlanRead, responses=CHANGED
)
def return_demand_plan(
    dealer_code: str,
    month: MonthPath,
    body: DemandPlanReturn,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """The branch manager returns a submitted plan for revision, saying why."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: planning.review_demand_plan(
            app,
            dealer_code,
            month,
            approve=False,
            comment=body.comment,
            actor=actor_of(principal, k),
            idempotency=k,
        ),
    )


# -- salespeople (before /{month:month}: "salespeople" is no month) ---------------------------
@targets.post("/salespeople", status_code=201, responses=CHANGED)
def register_salesperson(
    body: SalespersonCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """A branch manager (for its branch) or HQ registers a salesperson, e.g. `SP-CD-01`."""
    cmd = RegisterSalesperson(code=body.code, name=body.name, branch=body.branch)
    return run_command(
        app,
        key,
        lambda k: planning.register_salesperson(
            app, cmd, actor=actor_of(principal, k), idempotency=k
        ),
    )


@targets.get("/salespeople/{code}")
def get_salesperson(code: str, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    salesperson = planning.get_salesperson(app, code)
    principal.check_reads(Ownership.of(f"salesperson {code}", branches=[salesperson.branch]))
    return planning.salesperson_view(salesperson)


@salespeople_of_dealers.post("/{dealer_code}/salesperson", responses=CHANGED)
def assign_dealer(
    dealer_code: str,
    body: DealerAssignment,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """From `effective_from` on, a salesperson of the dealer's branch covers the dealer: its
    net invoiced sales from that date count towards the salesperson's targets."""
    cmd = AssignDealer(
        dealer_code=dealer_code,
        salesperson_code=body.salesperson_code,
        effective_from=body.effective_from,
    )
    return run_command(
        app,
        key,
        lambda k: planning.assign_dealer(app, cmd, actor=actor_of(principal, k), idempotency=k),
    )


@salespeople_of_dealers.get("/{dealer_code}/salesperson")
def get_dealer_coverage(dealer_code: str, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    check_sees_dealer(principal, app, dealer_code)
    return planning.get_coverage(app, dealer_code)


# -- targets ----------------------------------------------------------------------------------
@targets.post("/{month:month}", responses=CHANGED)
def set_national_target(
    month: MonthPath,
    body: TargetLevels,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """销售目标: headquarters sets the month's national floor, target and stretch."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: planning.set_national_target(
            app, month, body.levels(), actor=actor_of(principal, k), idempotency=k
        ),
    )


@targets.post("/{month:month}/branches/{branch}", responses=CHANGED)
def set_branch_target(
    month: MonthPath,
    branch: Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$")],
    body: TargetLevels,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """Headquarters allocates part of the national target to a branch: the branches' parts
    never exceed the national figure (409 `allocation_exceeds_target`); the rest is shown
    unallocated."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: planning.set_branch_target(
            app, month, branch, body.levels(), actor=actor_of(principal, k), idempotency=k
        ),
    )


@targets.post("/{month:month}/salespeople/{code}", responses=CHANGED)
def set_salesperson_target(
    month: MonthPath,
    code: str,
    body: TargetLevels,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """The branch manager allocates part of its branch's target to one of its salespeople."""
    return run_command(
        app,
        key,
        lambda k: planning.set_salesperson_target(
            app, month, code, body.levels(), actor=actor_of(principal, k), idempotency=k
        ),
    )


@targets.get("/{month:month}")
def get_targets(month: MonthPath, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    """The month's decomposition: national, per branch, per salesperson, and unallocated.
    A branch sees its own part and its salespeople's."""
    found = planning.get_targets(app, month)
    view = planning.targets_view(found) if found else planning.empty_targets_view(month)
    if principal.is_hq:
        return view
    branch = principal.grant.branch
    if branch is None:
        check_may_manage_branch("", role=principal.role, own_branch=None)
    return {
        "month": view["month"],
        "branches": [b for b in view["branches"] if b["branch"] == branch],
        "salespeople": [s for s in view["salespeople"] if s["branch"] == branch],
    }

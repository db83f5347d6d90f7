"""Routes of the sales organisation (组织架构): headquarters registers regions and branch
offices; every signed-in caller may list them. Under ``/organisation`` because the query
API owns the ``/branches`` prefix."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from runtime.http.idempotency import run_command
from runtime.settings import Role
from services.orders.api.deps import CurrentPrincipal, Idempotency, OrdersApp, actor_of
from services.orders.api.schemas import BranchCreate, BranchRead, RegionCreate, RegionRead
from services.organisation.domain import branch_view, region_view

CREATED = {201: {"description": "registered"}, 409: {"description": "already registered"}}

organisation = APIRouter(prefix="/organisation", tags=["organisation"])


@organisation.post("/regions", status_code=201, response_model=RegionRead, responses=CREATED)
def register_region(
    body: RegionCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """大区: a region, under a larger registered region if ``parent`` is given (else 404
    ``unknown_region``)."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.register_region(
            body.code,
            body.name,
            body.parent,
            body.manager,
            actor=actor_of(principal, k),
            idempotency=k,
        ),
    )


@organisation.get("/regions", response_model=list[RegionRead])
def list_regions(principal: CurrentPrincipal, app: OrdersApp) -> list[dict]:
    found = app.organisation()
    return [region_view(found, code) for code in sorted(found.regions)]


@organisation.post("/branches", status_code=201, response_model=BranchRead, responses=CREATED)
def register_branch(
    body: BranchCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """分公司: a branch office in a registered region (else 404 ``unknown_region``)."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.register_branch(
            body.code,
            body.name,
            body.region,
            body.manager,
            actor=actor_of(principal, k),
            idempotency=k,
        ),
    )


@organisation.get("/branches", response_model=list[BranchRead])
def list_branches(
    principal: CurrentPrincipal, app: OrdersApp, region: str | None = None
) -> list[dict]:
    found = app.organisation()
    return [
        branch_view(found, code)
        for code in sorted(found.branches)
        if region is None or found.branches[code]["region"] == region
    ]

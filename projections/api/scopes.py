"""The query API's audiences, each a router whose every route checks the caller's scope
before it runs: ``/hq`` for headquarters, ``/branches/{branch_id}`` for that branch (and
HQ), ``/dealers/{dealer_id}`` for that dealer, its branch and HQ, and
``/branches/{branch_id}/warehouses/{warehouse_code}`` for that warehouse's clerk, its branch
and HQ (under ``/branches``: ``/warehouses`` is the inventory API's). A route added under one
of them is scoped without anyone remembering to; the rule is the one every read and command
follows (``Principal.check_reads``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from projections.api.deps import CurrentPrincipal, ReadModels
from projections.lists.queries import warehouse_branch
from projections.receivables.queries import dealer_branch
from runtime.http.problems import Problem
from runtime.settings import BRANCH_ROLES, Role
from services.kernel.ownership import Ownership


async def _headquarters(principal: CurrentPrincipal) -> None:
    principal.require_hq()


async def _branch(branch_id: str, principal: CurrentPrincipal) -> None:
    principal.check_reads(Ownership.of(f"branch {branch_id}", branches=[branch_id]))


def _dealer(dealer_id: str, principal: CurrentPrincipal, engine: ReadModels) -> None:
    branch = None
    # whose branch the dealer is in, as the read side knows
    if principal.role in BRANCH_ROLES | {Role.REGION_MANAGER}:
        with engine.connect() as conn:
            branch = dealer_branch(conn, dealer_id)
    principal.check_reads(
        Ownership.of(f"dealer {dealer_id}", branches=[branch], dealers=[dealer_id])
    )


def _warehouse(
    branch_id: str, warehouse_code: str, principal: CurrentPrincipal, engine: ReadModels
) -> None:
    with engine.connect() as conn:  # whose branch the warehouse is in, as the read side knows
        branch = warehouse_branch(conn, warehouse_code)
    principal.check_reads(
        Ownership.of(f"warehouse {warehouse_code}", branches=[branch], warehouses=[warehouse_code])
    )
    if branch != branch_id:
        raise Problem(404, "unknown_warehouse", f"branch {branch_id} has no {warehouse_code}")


def headquarters_router() -> APIRouter:
    return APIRouter(prefix="/hq", tags=["headquarters"], dependencies=[Depends(_headquarters)])


def branch_router() -> APIRouter:
    return APIRouter(
        prefix="/branches/{branch_id}", tags=["branches"], dependencies=[Depends(_branch)]
    )


def dealer_router() -> APIRouter:
    return APIRouter(
        prefix="/dealers/{dealer_id}", tags=["dealers"], dependencies=[Depends(_dealer)]
    )


def warehouse_router() -> APIRouter:
    return APIRouter(
        prefix="/branches/{branch_id}/warehouses/{warehouse_code}",
        tags=["warehouses"],
        dependencies=[Depends(_warehouse)],
    )

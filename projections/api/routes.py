"""HQ and branch queries. A branch sees its own branch; headquarters everything."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from projections.api.deps import Consistency, CurrentPrincipal, MinPosition, ReadModels
from projections.sales.queries import (
    InvalidCursor,
    Period,
    SalesDimension,
    SalesFilter,
    sales_summary,
)
from runtime.http.problems import Problem

hq = APIRouter(prefix="/hq", tags=["headquarters"])
branches = APIRouter(prefix="/branches/{branch_id}", tags=["branches"])

Limit = Annotated[int, Query(ge=1, le=1000)]


def _sales(
    engine,
    *,
    by: SalesDimension,
    period: Period,
    where: SalesFilter,
    limit: int,
    cursor: str | None,
) -> dict:
    try:
        with engine.connect() as conn:
            rows, next_cursor = sales_summary(
                conn, by=by, period=period, where=where, limit=limit, cursor=cursor
            )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None
    return {"by": by, "period": period, "items": rows, "next_cursor": next_cursor}


@hq.get("/sales")
def national_sales(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    by: SalesDimension = SalesDimension.SKU,
    period: Period = Period.DAY,
    date_from: date | None = None,
    date_to: date | None = None,
    region: str | None = None,
    branch: str | None = None,
    dealer: str | None = None,
    sku: str | None = None,
    category: str | None = None,
    limit: Limit = 100,
    cursor: str | None = None,
    min_position: MinPosition = None,
) -> dict:
    """Ordered quantities and amounts by product, category, dealer, branch or region, per
    day, week or month."""
    if not principal.is_hq:
        raise Problem(403, "outside_scope", "national figures are for headquarters")
    consistency.wait("sales", min_position)
    where = SalesFilter(date_from, date_to, branch, region, dealer, sku, category)
    return _sales(engine, by=by, period=period, where=where, limit=limit, cursor=cursor)


@branches.get("/sales")
def branch_sales(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    by: SalesDimension = SalesDimension.SKU,
    period: Period = Period.DAY,
    date_from: date | None = None,
    date_to: date | None = None,
    dealer: str | None = None,
    sku: str | None = None,
    category: str | None = None,
    limit: Limit = 100,
    cursor: str | None = None,
    min_position: MinPosition = None,
) -> dict:
    """The same figures, for one branch office."""
    principal.require_branch(branch_id)
    consistency.wait("sales", min_position)
    where = SalesFilter(date_from, date_to, branch_id, None, dealer, sku, category)
    return _sales(engine, by=by, period=period, where=where, limit=limit, cursor=cursor)

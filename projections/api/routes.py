"""HQ and branch queries. A branch sees its own branch; headquarters everything."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from projections.api.deps import Consistency, CurrentPrincipal, ReadModels
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


class SalesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: SalesDimension = SalesDimension.SKU
    period: Period = Period.DAY
    date_from: date | None = None
    date_to: date | None = None
    region: str | None = None
    branch: str | None = None
    dealer: str | None = None
    sku: str | None = None
    category: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = Field(
        default=None,
        pattern=r"^[a-z]+:\d+$",
        description="a command's `position` (e.g. `orders:42`): wait until the read model "
        "has processed it, else 503",
    )

    def where(self) -> SalesFilter:
        return SalesFilter(
            self.date_from,
            self.date_to,
            self.branch,
            self.region,
            self.dealer,
            self.sku,
            self.category,
        )


def _sales(engine, consistency, params: SalesQuery) -> dict:
    consistency.wait("sales", params.min_position)
    try:
        with engine.connect() as conn:
            rows, next_cursor = sales_summary(
                conn,
                by=params.by,
                period=params.period,
                where=params.where(),
                limit=params.limit,
                cursor=params.cursor,
            )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None
    return {"by": params.by, "period": params.period, "items": rows, "next_cursor": next_cursor}


@hq.get("/sales")
def national_sales(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[SalesQuery, Query()],
) -> dict:
    """Ordered quantities and amounts by product, category, dealer, branch, region or the
    nation, per day, week or month."""
    if not principal.is_hq:
        raise Problem(403, "outside_scope", "national figures are for headquarters")
    return _sales(engine, consistency, params)


@branches.get("/sales")
def branch_sales(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[SalesQuery, Query()],
) -> dict:
    """The same figures, for one branch office."""
    principal.require_branch(branch_id)
    scoped = params.model_copy(update={"branch": branch_id, "region": None})
    return _sales(engine, consistency, scoped)

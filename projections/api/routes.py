"""HQ and branch queries. A branch sees its own branch; headquarters everything."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from projections.api.deps import Consistency, CurrentPrincipal, ReadModels
from projections.api.scopes import branch_router, dealer_router, headquarters_router
from projections.channel_health.projection import channel_health
from projections.channel_health.queries import (
    COLOURS,
    HealthFilter,
    colour_counts,
    dealer_health,
    rules_view,
)
from projections.inventory.projection import inventory
from projections.inventory.queries import (
    ConsignmentFilter,
    StockFilter,
    StockLevel,
    consignment_stock,
    stock_levels,
)
from projections.read_your_writes import position_field
from projections.receivables.projection import receivables
from projections.receivables.queries import (
    DealerFilter,
    Level,
    aging,
    open_invoices,
    rebate_pools,
    rebates_accrued,
    receivables_summary,
)
from projections.sales.projection import sales
from projections.sales.queries import (
    InvalidCursor,
    Period,
    SalesDimension,
    SalesFilter,
    sales_summary,
)
from runtime.http.problems import Problem
from runtime.http.schemas import IsoDate
from services.kernel.dates import business_today

hq = headquarters_router()
branches = branch_router()
dealers = dealer_router()


def _branch_scoped(params: BaseModel, branch_id: str):
    """A branch's query, filtered to the branch (the router checked the caller may ask)."""
    return params.model_copy(update={"branch": branch_id, "region": None})


class SalesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: SalesDimension = SalesDimension.SKU
    period: Period = Period.DAY
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    region: str | None = None
    branch: str | None = None
    dealer: str | None = None
    sku: str | None = None
    category: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = position_field(sales)

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
    """Sales by product, category, dealer, branch, region or the nation, per day, week or
    month: ordered (as placed), invoiced (on the invoice's date), credited (credit notes, on
    their own date) and net sales = invoiced - credited."""
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
    scoped = _branch_scoped(params, branch_id)
    return _sales(engine, consistency, scoped)


class InventoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: StockLevel = StockLevel.WAREHOUSE
    warehouse: str | None = None
    sku: str | None = None
    branch: str | None = None
    region: str | None = None
    below_safety: bool = Field(
        default=False, description="only SKUs whose available stock is below safety stock"
    )
    as_of: IsoDate | None = Field(
        default=None,
        description="stock as it stood at the end of this business date: receipts and "
        "shipments count from their own dates, reservations from the day they were made",
    )
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = position_field(inventory)

    def where(self) -> StockFilter:
        return StockFilter(self.warehouse, self.sku, self.branch, self.region, self.below_safety)


def _inventory(engine, consistency, params: InventoryQuery) -> dict:
    consistency.wait("inventory", params.min_position)
    try:
        with engine.connect() as conn:
            rows, next_cursor = stock_levels(
                conn,
                by=params.by,
                where=params.where(),
                as_of=params.as_of,
                limit=params.limit,
                cursor=params.cursor,
            )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None
    return {
        "by": params.by,
        "as_of": params.as_of.isoformat() if params.as_of else None,
        "items": rows,
        "next_cursor": next_cursor,
    }


class ConsignmentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealer: str | None = None
    branch: str | None = None
    region: str | None = None
    warehouse: str | None = None
    sku: str | None = None
    period_from: IsoDate | None = Field(
        default=None, description="sell-through of periods ending on or after this date"
    )
    period_to: IsoDate | None = Field(
        default=None, description="sell-through of periods starting on or before this date"
    )
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = position_field(inventory)


def _consignment(engine, consistency, params: ConsignmentQuery) -> dict:
    consistency.wait("inventory", params.min_position)
    where = ConsignmentFilter(
        params.dealer,
        params.branch,
        params.region,
        params.warehouse,
        params.sku,
        params.period_from,
        params.period_to,
    )
    try:
        with engine.connect() as conn:
            rows, next_cursor = consignment_stock(
                conn, where=where, limit=params.limit, cursor=params.cursor
            )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None
    return {"items": rows, "next_cursor": next_cursor}


@hq.get("/inventory/consignment")
def national_consignment(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ConsignmentQuery, Query()],
) -> dict:
    """寄售: stock held at dealers' consignment warehouses per warehouse and SKU (on hand,
    damaged, in transit to the dealer) and the dealer's reported sell-through per period."""
    return _consignment(engine, consistency, params)


@branches.get("/inventory/consignment")
def branch_consignment(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ConsignmentQuery, Query()],
) -> dict:
    """The same, at the consignment warehouses of one branch office's dealers."""
    scoped = _branch_scoped(params, branch_id)
    return _consignment(engine, consistency, scoped)


@dealers.get("/consignment")
def dealer_consignment(
    dealer_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ConsignmentQuery, Query()],
) -> dict:
    """The consignment stock a dealer holds for the brand, and its sell-through. A dealer
    sees its own, a branch its dealers', HQ all."""
    scoped = params.model_copy(update={"dealer": dealer_id, "branch": None, "region": None})
    return _consignment(engine, consistency, scoped)


@hq.get("/inventory")
def national_inventory(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[InventoryQuery, Query()],
) -> dict:
    """Stock per warehouse and SKU (on hand, reserved, damaged, available = on hand -
    reserved - damaged, in transit to it, safety stock), or rolled up by branch, region or
    the nation; `below_safety=true` lists what needs replenishing."""
    return _inventory(engine, consistency, params)


@branches.get("/inventory")
def branch_inventory(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[InventoryQuery, Query()],
) -> dict:
    """The same, for the warehouses of one branch office."""
    scoped = _branch_scoped(params, branch_id)
    return _inventory(engine, consistency, scoped)


class ReceivablesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Level = Level.DEALER
    as_of: IsoDate | None = Field(
        default=None,
        description="default today (CST). Invoices count from their issue date, receipts and "
        "credit notes from their own business dates, so a document posted late with an "
        "earlier date restates every as-of date from its date on",
    )
    dealer: str | None = None
    branch: str | None = None
    region: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = position_field(receivables)


class RebatesQuery(ReceivablesQuery):
    policy: str | None = Field(default=None, description="one rebate policy's code")


def _receivables(engine, consistency, params: ReceivablesQuery, query, **extra) -> dict:
    consistency.wait("receivables", params.min_position)
    as_of = params.as_of or business_today()
    try:
        with engine.connect() as conn:
            rows, next_cursor = query(
                conn,
                by=params.by,
                where=DealerFilter(params.dealer, params.branch, params.region),
                as_of=as_of,
                limit=params.limit,
                cursor=params.cursor,
                **extra,
            )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None
    return {"by": params.by, "as_of": as_of.isoformat(), "items": rows, "next_cursor": next_cursor}


@hq.get("/receivables")
def national_receivables(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ReceivablesQuery, Query()],
) -> dict:
    """应收账款: credit limit, invoiced, received, credited, receivables, reserved credit,
    exposure and utilisation per dealer, or rolled up by branch, region or the nation."""
    return _receivables(engine, consistency, params, receivables_summary)


@hq.get("/receivables/aging")
def national_aging(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ReceivablesQuery, Query()],
) -> dict:
    """账龄: open invoice amounts as of a date in buckets not yet due, 1-30, 31-60, 61-90 and
    over 90 days past due (as-of date minus due date), and unapplied cash."""
    return _receivables(engine, consistency, params, aging)


@branches.get("/receivables")
def branch_receivables(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ReceivablesQuery, Query()],
) -> dict:
    scoped = _branch_scoped(params, branch_id)
    return _receivables(engine, consistency, scoped, receivables_summary)


@branches.get("/receivables/aging")
def branch_aging(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ReceivablesQuery, Query()],
) -> dict:
    scoped = _branch_scoped(params, branch_id)
    return _receivables(engine, consistency, scoped, aging)


@hq.get("/rebates")
def national_rebates(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[RebatesQuery, Query()],
) -> dict:
    """返利: rebate accrued and settled per dealer (or branch, region, nation) and policy,
    with the net invoiced sales it was accrued on, up to `as_of`."""
    return _receivables(engine, consistency, params, rebates_accrued, policy=params.policy)


@hq.get("/rebates/pools")
def national_rebate_pools(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ReceivablesQuery, Query()],
) -> dict:
    """返利池: per dealer (or branch, region, nation) as of a date: rebate accrued, settled
    at period ends, claimed (awaiting a decision), credited against receivables, and
    available to claim (settled - claimed - credited)."""
    return _receivables(engine, consistency, params, rebate_pools)


@branches.get("/rebates")
def branch_rebates(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[RebatesQuery, Query()],
) -> dict:
    scoped = _branch_scoped(params, branch_id)
    return _receivables(engine, consistency, scoped, rebates_accrued, policy=params.policy)


@branches.get("/rebates/pools")
def branch_rebate_pools(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[ReceivablesQuery, Query()],
) -> dict:
    scoped = _branch_scoped(params, branch_id)
    return _receivables(engine, consistency, scoped, rebate_pools)


class StatementQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoDate | None = Field(default=None, description="default today (CST)")
    min_position: str | None = position_field(receivables)


@dealers.get("/statement")
def dealer_statement(
    dealer_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[StatementQuery, Query()],
) -> dict:
    """对账单: a dealer's account as of a date: credit, receivables, exposure, aging, the open
    invoices, rebate accrued and settled per policy, and the rebate pool. A dealer sees its
    own, a branch its dealers', HQ all."""
    consistency.wait("receivables", params.min_position)
    as_of = params.as_of or business_today()
    where = DealerFilter(dealer=dealer_id)
    with engine.connect() as conn:
        summary, _ = receivables_summary(
            conn, by=Level.DEALER, where=where, as_of=as_of, limit=1, cursor=None
        )
        if not summary:
            raise Problem(404, "unknown_dealer", f"no dealer {dealer_id}")
        buckets, _ = aging(conn, by=Level.DEALER, where=where, as_of=as_of, limit=1, cursor=None)
        rebates, _ = rebates_accrued(
            conn, by=Level.DEALER, where=where, as_of=as_of, limit=100, cursor=None
        )
        pools, _ = rebate_pools(
            conn, by=Level.DEALER, where=where, as_of=as_of, limit=1, cursor=None
        )
        invoices = open_invoices(conn, dealer=dealer_id, as_of=as_of)
    pool = (
        {k: v for k, v in pools[0].items() if k != "dealer"}
        if pools
        else {name: "0.00" for name in ("accrued", "settled", "claimed", "credited", "available")}
    )
    return {
        "as_of": as_of.isoformat(),
        **summary[0],
        "aging": {k: v for k, v in buckets[0].items() if k != "dealer"},
        "open_invoices": invoices,
        "rebates": [{k: v for k, v in r.items() if k != "dealer"} for r in rebates],
        "rebate_pool": pool,
    }


class HealthQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoDate | None = Field(default=None, description="default today (CST)")
    colour: Literal[COLOURS] | None = None  # type: ignore[valid-type]
    dealer: str | None = None
    branch: str | None = None
    region: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    min_position: str | None = position_field(channel_health, receivables)

    def where(self) -> HealthFilter:
        return HealthFilter(self.dealer, self.branch, self.region, self.colour)


class HealthCountsQuery(HealthQuery):
    by: Literal[Level.BRANCH, Level.REGION, Level.NATION] = Level.BRANCH


_HEALTH_READ_MODELS = ("channel_health", "receivables")


def _health(engine, consistency, params: HealthQuery) -> dict:
    consistency.wait(_HEALTH_READ_MODELS, params.min_position)
    as_of = params.as_of or business_today()
    try:
        with engine.connect() as conn:
            rows, next_cursor, rules = dealer_health(
                conn, where=params.where(), as_of=as_of, limit=params.limit, cursor=params.cursor
            )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None
    return {
        "as_of": as_of.isoformat(),
        "rules": rules_view(rules),
        "items": rows,
        "next_cursor": next_cursor,
    }


def _health_counts(engine, consistency, params: HealthCountsQuery) -> dict:
    consistency.wait(_HEALTH_READ_MODELS, params.min_position)
    as_of = params.as_of or business_today()
    with engine.connect() as conn:
        rows = colour_counts(conn, by=Level(params.by), where=params.where(), as_of=as_of)
    return {"by": params.by, "as_of": as_of.isoformat(), "items": rows}


@hq.get("/channel-health")
def national_channel_health(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[HealthQuery, Query()],
) -> dict:
    """渠道健康: per dealer a colour (green, yellow, red) and the reasons, from the rules
    headquarters set (finance `POST /accounts/health-rules`): credit utilisation,
    receivables over 90 days past due, shipments not confirmed delivered after N days."""
    return _health(engine, consistency, params)


@hq.get("/channel-health/counts")
def national_channel_health_counts(
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[HealthCountsQuery, Query()],
) -> dict:
    """How many dealers are green, yellow and red per branch, region or the nation."""
    return _health_counts(engine, consistency, params)


@branches.get("/channel-health")
def branch_channel_health(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[HealthQuery, Query()],
) -> dict:
    return _health(engine, consistency, _branch_scoped(params, branch_id))


@branches.get("/channel-health/counts")
def branch_channel_health_counts(
    branch_id: str,
    principal: CurrentPrincipal,
    engine: ReadModels,
    consistency: Consistency,
    params: Annotated[HealthCountsQuery, Query()],
) -> dict:
    return _health_counts(engine, consistency, _branch_scoped(params, branch_id))

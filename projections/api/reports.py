"""The monthly reports, scoped like every other query: ``/hq/reports/{kind}`` (the nation,
or a branch, region or dealer), ``/branches/{branch_id}/reports/{kind}`` (that branch) and
``/dealers/{dealer_id}/reports/{kind}`` (that dealer), for each kind (inventory,
receivables, sales, rebates), as JSON, CSV or XLSX (``format=`` or ``Accept``)."""

# No postponed annotations here: the routes are made per report kind, each with its own
# query model, and FastAPI must see those models themselves, not names it cannot resolve.
from typing import Annotated, Literal

from fastapi import Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import Connection

from projections.api.deps import Consistency, CurrentPrincipal, ReadModels
from projections.api.scopes import branch_router, dealer_router, headquarters_router
from projections.inventory.projection import inventory
from projections.read_your_writes import position_field
from projections.receivables.projection import receivables
from projections.reports.formats import (
    MEDIA_TYPES,
    ReportFormat,
    file_name,
    negotiated,
    to_csv,
    to_xlsx,
)
from projections.reports.monthly import (
    BUILDERS,
    READ_MODELS,
    ReportKind,
    Scope,
    known_branch,
    known_dealer,
    known_region,
)
from projections.sales.projection import sales
from projections.sales.queries import SalesDimension
from projections.targets.projection import targets
from runtime.http.openapi import ERRORS
from runtime.http.problems import PROBLEM_JSON, Problem
from runtime.http.schemas import MONTH_PATTERN, Code

hq = headquarters_router()
branches = branch_router()
dealers = dealer_router()


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, examples=["2026-11"])
    format: ReportFormat | None = Field(
        default=None, description="json, csv or xlsx; else as `Accept` asks, else json"
    )


class ScopeFilters(BaseModel):
    branch: Code | None = Field(default=None, description="one branch office's figures")
    region: Code | None = Field(default=None, description="one region's figures")
    dealer: Code | None = Field(default=None, description="one dealer's figures")


_PROJECTIONS = {p.name: p for p in (inventory, receivables, sales, targets)}


def _query_models(kind: ReportKind) -> tuple[type[ReportQuery], type[ReportQuery]]:
    """A report's query (the positions of the read models it reads; the sales report's
    breakdown) under a branch or dealer, and nationally (with the scope filters)."""
    read_models = [_PROJECTIONS[name] for name in READ_MODELS[kind]]
    fields: dict = {"min_position": (str | None, position_field(*read_models))}
    if kind == ReportKind.SALES:
        fields["by"] = (
            Literal["branch", "dealer", "category", "sku"],
            Field(
                default="branch", description="per branch (against target), dealer, category or SKU"
            ),
        )
    name = kind.value.title()
    scoped = create_model(f"{name}ReportQuery", __base__=ReportQuery, **fields)
    national = create_model(f"National{name}ReportQuery", __base__=(scoped, ScopeFilters))
    return scoped, national


_DOWNLOADS = {
    200: {
        "description": "the report: JSON, or a CSV or XLSX file with a last row of totals",
        "content": {MEDIA_TYPES[f].split(";")[0]: {} for f in ReportFormat},
    }
}
# Nationally a report names no object in its path, but may name an unknown branch, region or
# dealer in its query.
_NATIONAL_DOWNLOADS = {
    **_DOWNLOADS,
    404: {
        "description": ERRORS[404],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


def _check_known(conn: Connection, scope: Scope) -> None:
    for value, known, code in (
        (scope.branch, known_branch, "unknown_branch"),
        (scope.region, known_region, "unknown_region"),
        (scope.dealer, known_dealer, "unknown_dealer"),
    ):
        if value and not known(conn, value):
            raise Problem(404, code, f"no {code.removeprefix('unknown_')} {value}")


def _report(
    engine, consistency, kind: ReportKind, params: ReportQuery, scope: Scope, accept: str | None
) -> Response | dict:
    consistency.wait(READ_MODELS[kind], params.min_position)
    extra = {"by": SalesDimension(params.by)} if kind == ReportKind.SALES else {}
    with engine.connect() as conn:
        _check_known(conn, scope)
        report = BUILDERS[kind](conn, month=params.month, scope=scope, **extra)
    wanted = negotiated(params.format, accept)
    if wanted == ReportFormat.JSON:
        return report.as_json()
    body = to_csv(report) if wanted == ReportFormat.CSV else to_xlsx(report)
    disposition = f'attachment; filename="{file_name(report, wanted)}"'
    return Response(
        body, media_type=MEDIA_TYPES[wanted], headers={"Content-Disposition": disposition}
    )


_DESCRIPTIONS = {
    ReportKind.INVENTORY: "进销存月报 per warehouse and SKU: opening, received, shipped, "
    "transferred in and out, returned, damaged, written off, stocktake adjustments and closing, "
    "in units and at moving average cost (the closing value is the ERP's inventory at cost).",
    ReportKind.RECEIVABLES: "对账单 and 账龄 per dealer: receivables at the month's start, "
    "invoiced, cash received, credit notes, rebate credited, receivables at its end, and the "
    "open invoices by days past due at its end.",
    ReportKind.SALES: "销售月报: invoiced, credited and net sales per branch (against its "
    "floor, target and stretch), dealer, category or SKU (`by`).",
    ReportKind.REBATES: "返利池月报 per dealer: available at the start, accrued, settled, "
    "claimed (the change in claims awaiting a decision), credited, available at the end.",
}
_TOTALS = (
    " For a month (`YYYY-MM`); JSON, or CSV or XLSX (`format=` or `Accept`) with a last row "
    "of totals, which equal the query API's for the same scope and dates."
)


def _routes(kind: ReportKind) -> None:
    """The report's route under each audience (one path per report, as every query has)."""
    path, description = f"/reports/{kind.value}", _DESCRIPTIONS[kind] + _TOTALS
    scoped, national = _query_models(kind)

    @hq.get(path, responses=_NATIONAL_DOWNLOADS, description=description, name=f"national_{kind}")
    def national_report(
        principal: CurrentPrincipal,
        engine: ReadModels,
        consistency: Consistency,
        params: Annotated[national, Query()],
        accept: Annotated[str | None, Header()] = None,
    ):
        scope = Scope(branch=params.branch, region=params.region, dealer=params.dealer)
        return _report(engine, consistency, kind, params, scope, accept)

    @branches.get(path, responses=_DOWNLOADS, description=description, name=f"branch_{kind}")
    def branch_report(
        branch_id: str,
        principal: CurrentPrincipal,
        engine: ReadModels,
        consistency: Consistency,
        params: Annotated[scoped, Query()],
        accept: Annotated[str | None, Header()] = None,
    ):
        return _report(engine, consistency, kind, params, Scope(branch=branch_id), accept)

    @dealers.get(path, responses=_DOWNLOADS, description=description, name=f"dealer_{kind}")
    def dealer_report(
        dealer_id: str,
        principal: CurrentPrincipal,
        engine: ReadModels,
        consistency: Consistency,
        params: Annotated[scoped, Query()],
        accept: Annotated[str | None, Header()] = None,
    ):
        return _report(engine, consistency, kind, params, Scope(dealer=dealer_id), accept)


for _kind in ReportKind:
    _routes(_kind)

"""The dashboards: headquarters' (``/hq``) and a branch office's (``/branches/{branch}``), the
same panels over the query API's ``/hq/...`` or ``/branches/{branch}/...`` figures. Every
chart is drawn from the API's figures, with the same figures in a table one click away; the
console computes nothing and decides no scope (the API answers 403 outside it).

Each panel is declared once (what it asks, which filters the API takes, which figures its
table shows and its chart draws); the page asks the API for every panel at once."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.i18n import CHINA, translator
from console.web import Console, chart
from runtime.http.problems import Problem

AGING_BUCKETS = ("not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90")
COLOURS = ("green", "yellow", "red")
POOL_FIGURES = ("accrued", "settled", "claimed", "credited", "available")
LEVELS = ("floor", "target", "stretch")
# Lists that may be long on a national dataset: the panel shows their first page.
FIRST_PAGE = 50


@dataclass(frozen=True)
class Column:
    """One column of a panel's table: the API's field, its heading (a message key), how it
    is shown (money as ¥, count, ratio as %, a message key, text) and the data attribute
    that names it in the page (a row's key columns)."""

    field: str
    label: str
    kind: str = "money"
    attr: str = ""

    @property
    def name(self) -> str:
        return self.attr or self.field


@dataclass(frozen=True)
class Panel:
    name: str
    title: str
    path: str  # under /hq or /branches/{branch}
    keys: tuple[Column, ...]  # what a row is about
    figures: tuple[Column, ...]
    params: dict[str, str] = field(default_factory=dict)
    # The dashboard's filters the API takes here: region, branch, month (a required `month`
    # or a `date_from`/`date_to` range), as_of.
    filters: tuple[str, ...] = ("region", "branch", "as_of")
    month: str = ""  # "range" (sales) or "month" (planning)
    charted: tuple[str, ...] = ()  # bars per row of these figures; none: pivot keys[0] x keys[1]
    stacked: bool = False
    first_page_only: bool = False


@dataclass(frozen=True)
class Audience:
    """Whose dashboard: HQ's rolls money up by region and attainment by branch; a branch's
    shows its dealers and its salespeople. Region and branch filters are HQ's only."""

    title: str
    prefix: str
    level: str  # receivables, aging and rebate pools per region or per dealer
    sales_by: str
    people: str  # targets per branch or per salesperson
    plans_by: str  # demand plans per branch or per dealer
    scoped_filters: bool


def hq_audience() -> Audience:
    return Audience("dashboard", "/hq", "region", "region", "branch", "branch", True)


def branch_audience(branch: str) -> Audience:
    prefix = f"/branches/{branch}"
    return Audience("branch_dashboard", prefix, "dealer", "branch", "salesperson", "dealer", False)


def panels(audience: Audience) -> tuple[Panel, ...]:
    level = audience.level
    month_col = Column("period_start", "month", "month", attr="month")
    return (
        Panel(
            "sales",
            f"sales_by_month_{audience.sales_by}",
            "/sales",
            keys=(month_col, Column("key", audience.sales_by, "text", attr=audience.sales_by)),
            figures=(Column("net_sales", "net_sales"),),
            params={"by": audience.sales_by, "period": "month"},
            filters=("region", "branch"),
            month="range",
        ),
        Panel(
            "category",
            "sales_by_category",
            "/sales",
            keys=(month_col, Column("key", "category", "text", attr="category")),
            figures=(
                Column("net_sales", "net_sales"),
                Column("invoiced_quantity", "quantity", "count"),
            ),
            params={"by": "category", "period": "month"},
            filters=("region", "branch"),
            month="range",
        ),
        Panel(
            "receivables",
            f"receivables_by_{level}",
            "/receivables",
            keys=(Column(level, level, "text"),),
            figures=(
                Column("credit_limit", "credit_limit"),
                Column("receivables", "receivables"),
                Column("reserved", "reserved"),
                Column("exposure", "exposure"),
                Column("utilisation", "utilisation", "ratio"),
            ),
            params={"by": level},
            charted=("receivables", "reserved"),
            stacked=True,
        ),
        Panel(
            "aging",
            f"aging_by_{level}",
            "/receivables/aging",
            keys=(Column(level, level, "text"),),
            figures=(
                *(Column(b, b) for b in AGING_BUCKETS),
                Column("receivables", "receivable"),
            ),
            params={"by": level},
            charted=AGING_BUCKETS,
            stacked=True,
        ),
        Panel(
            "health",
            "channel_health",
            "/channel-health/counts",
            keys=(Column("branch", "branch", "text"),),
            figures=tuple(Column(c, c, "count") for c in COLOURS),
            params={"by": "branch"},
            charted=COLOURS,
            stacked=True,
        ),
        Panel(
            "safety",
            "below_safety",
            "/inventory",
            keys=(Column("warehouse", "warehouse", "text"), Column("sku", "sku", "text")),
            figures=(
                Column("on_hand", "on_hand", "count"),
                Column("reserved", "reserved_stock", "count"),
                Column("available", "available", "count"),
                Column("safety_stock", "safety_stock", "count"),
            ),
            params={"by": "warehouse", "below_safety": "true", "limit": str(FIRST_PAGE)},
            charted=("available", "safety_stock"),
            first_page_only=True,
        ),
        Panel(
            "pools",
            f"rebate_pools_by_{level}",
            "/rebates/pools",
            keys=(Column(level, level, "text"),),
            figures=tuple(Column(f, f"pool_{f}") for f in POOL_FIGURES),
            params={"by": level},
            charted=POOL_FIGURES,
        ),
        Panel(
            "targets",
            f"targets_by_{audience.people}",
            "/targets",
            keys=(Column("key", audience.people, "text", attr=audience.people),),
            figures=(
                Column("net_sales", "net_sales"),
                *(Column(n, n) for n in LEVELS),
                Column("target_ratio", "target_ratio", "ratio"),
                Column("reached", "reached", "message"),
            ),
            params={"by": audience.people},
            filters=("region", "branch"),
            month="month",
            charted=("net_sales", *LEVELS),
        ),
        Panel(
            "plans",
            f"demand_plans_by_{audience.plans_by}",
            "/demand-plans",
            keys=(Column("key", audience.plans_by, "text", attr=audience.plans_by),),
            figures=(
                Column("approved_quantity", "approved_quantity", "count"),
                Column("pending_quantity", "pending_quantity", "count"),
                Column("ordered_quantity", "ordered_quantity", "count"),
                Column("variance", "variance", "count"),
                Column("ordered_to_plan", "ordered_to_plan", "ratio"),
            ),
            params={"by": audience.plans_by},
            filters=("region", "branch"),
            month="month",
            charted=("approved_quantity", "pending_quantity", "ordered_quantity"),
        ),
    )


RED_DEALERS = Panel(
    "red",
    "red_dealers",
    "/channel-health",
    keys=(Column("dealer", "dealer", "text"),),
    figures=(),
    params={"colour": "red", "limit": str(FIRST_PAGE)},
    first_page_only=True,
)


def this_month() -> str:
    return datetime.now(CHINA).strftime("%Y-%m")


def month_range(month: str) -> dict[str, str]:
    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    return {"date_from": f"{month}-01", "date_to": f"{month}-{last:02d}"}


def request_params(panel: Panel, audience: Audience, filters: dict[str, str]) -> dict[str, str]:
    """What the panel asks the API: its own parameters and the filters the API takes."""
    params = dict(panel.params)
    for name in panel.filters:
        if name in ("region", "branch") and not audience.scoped_filters:
            continue
        params[name] = filters.get(name, "")
    if panel.month == "range" and filters.get("month"):
        params.update(month_range(filters["month"]))
    elif panel.month == "month":
        params["month"] = filters.get("month") or this_month()
    return params


def panel_chart(panel: Panel, rows: list[dict], t) -> dict:
    """The figures the chart draws, exactly those of the table (no arithmetic)."""
    if not panel.charted:  # a pivot: the first key across, one series per second key
        across, series_key = panel.keys
        value = panel.figures[0].field
        categories = sorted({_shown(across, r[across.field]) for r in rows})
        names = sorted({str(r[series_key.field]) for r in rows})
        cells = {
            (_shown(across, r[across.field]), str(r[series_key.field])): r[value] for r in rows
        }
        series = {n: [cells.get((c, n), "0") for c in categories] for n in names}
        return chart("bar", categories, series)
    categories = [" ".join(str(r[k.field] or "") for k in panel.keys) for r in rows]
    series = {name: [r[name] or "0" for r in rows] for name in panel.charted}
    labels = {c.field: t(c.label) for c in panel.figures}
    return chart("bar", categories, series, stacked=panel.stacked, labels=labels)


def _shown(column: Column, value) -> str:
    return str(value)[:7] if column.kind == "month" else str(value)


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    query = console.urls.query

    def dashboard(request: Request, audience: Audience, filters: dict[str, str]) -> Response:
        session, _ = console.signed_in(request)
        t = translator(console.language(request))
        if filters.get("month") and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", filters["month"]):
            raise Problem(422, "invalid_month", t("invalid_month"))
        shown = panels(audience)
        asks = {
            p.name: (f"{query}{audience.prefix}{p.path}", request_params(p, audience, filters))
            for p in (*shown, RED_DEALERS)
        }
        first_pages = {p.name for p in (*shown, RED_DEALERS) if p.first_page_only}

        def ask(name: str):
            url, params = asks[name]
            if name in first_pages:
                return console.call(session, "GET", url, params=params)
            if name == "health" or name == "targets":  # not paginated: one answer
                return {"items": console.call(session, "GET", url, params=params)["items"]}
            return {"items": console.every_page(session, url, params)}

        answers = console.at_once({name: (lambda n=name: ask(n)) for name in asks})
        for rows in (answers["sales"]["items"], answers["category"]["items"]):
            for row in rows:
                row["month"] = str(row["period_start"])[:7]
        return console.page(
            request,
            "dashboard.html",
            session=session,
            audience=audience,
            panels=shown,
            answers=answers,
            red=answers["red"],
            charts={p.name: panel_chart(p, answers[p.name]["items"], t) for p in shown},
            filters=filters,
            planning_month=filters.get("month") or this_month(),
        )

    @router.get("/hq", response_class=HTMLResponse)
    def national(
        request: Request, region: str = "", branch: str = "", month: str = "", as_of: str = ""
    ) -> Response:
        filters = {"region": region, "branch": branch, "month": month, "as_of": as_of}
        return dashboard(request, hq_audience(), filters)

    @router.get("/branches/{branch}", response_class=HTMLResponse)
    def of_branch(request: Request, branch: str, month: str = "", as_of: str = "") -> Response:
        return dashboard(request, branch_audience(branch), {"month": month, "as_of": as_of})

    return router

"""HQ's dashboard: every chart drawn from the query API's figures, with the same figures in
a table one click away."""

from __future__ import annotations

import calendar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.web import Console, chart

AGING_BUCKETS = ("not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90")
COLOURS = ("green", "yellow", "red")


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    query = console.urls.query

    @router.get("/hq", response_class=HTMLResponse)
    def dashboard(
        request: Request, region: str = "", branch: str = "", month: str = "", as_of: str = ""
    ) -> Response:
        session, _ = console.signed_in(request)
        scope = {"region": region, "branch": branch}
        sales_params = {"by": "region", "period": "month", **scope}
        if month:
            year, number = (int(part) for part in month.split("-"))
            last = calendar.monthrange(year, number)[1]
            sales_params.update(date_from=f"{month}-01", date_to=f"{month}-{last:02d}")
        sales = console.every_page(session, f"{query}/hq/sales", sales_params)
        for row in sales:
            row["month"] = str(row["period_start"])[:7]
        months = sorted({r["month"] for r in sales})
        regions = sorted({str(r["key"]) for r in sales})
        figures = {(r["month"], str(r["key"])): r["net_sales"] for r in sales}
        sales_chart = chart(
            "bar",
            months,
            {reg: [figures.get((m, reg), "0.00") for m in months] for reg in regions},
        )
        dated = {**scope, "as_of": as_of}
        aging = console.every_page(
            session, f"{query}/hq/receivables/aging", {"by": "region", **dated}
        )
        aging_chart = chart(
            "bar",
            [r["region"] for r in aging],
            {bucket: [r[bucket] for r in aging] for bucket in AGING_BUCKETS},
            stacked=True,
        )
        counts = console.call(
            session, "GET", f"{query}/hq/channel-health/counts", params={"by": "branch", **dated}
        )["items"]
        health_chart = chart(
            "bar",
            [r["branch"] for r in counts],
            {colour: [r[colour] for r in counts] for colour in COLOURS},
            stacked=True,
        )
        red = console.every_page(session, f"{query}/hq/channel-health", {"colour": "red", **dated})
        return console.page(
            request,
            "dashboard.html",
            session=session,
            sales=sales,
            aging=aging,
            counts=counts,
            red=red,
            buckets=AGING_BUCKETS,
            colours=COLOURS,
            charts={"sales": sales_chart, "aging": aging_chart, "health": health_chart},
            filters={"region": region, "branch": branch, "month": month, "as_of": as_of},
        )

    return router

"""Monthly reports (月报): 进销存, receivables (statement of account and aging), sales against
target and rebate pools, for a month and a scope the user may see, shown as a table with
links to download them as CSV or XLSX.

The query API decides the scope: a dealer's reports come from its own ``/dealers/...``, a
branch user's from its branch's (or one of its dealers'), HQ's from ``/hq`` (the nation or a
branch) or a dealer's. The download is the API's file, passed on as it came."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.i18n import translator
from console.web import Console, Who
from runtime.http.problems import Problem
from services.kernel.dates import business_today

KINDS = ("inventory", "receivables", "sales", "rebates")
SALES_DIMENSIONS = ("branch", "dealer", "category", "sku")
FORMATS = ("csv", "xlsx")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def report_path(who: Who, *, branch: str, dealer: str) -> tuple[str, dict[str, str]]:
    """Where the query API keeps the chosen scope's reports (its path and filters): the
    user's own dealer, a chosen dealer, the user's branch, a branch HQ chose, or the nation."""
    if who.dealer:
        return f"/dealers/{who.dealer}", {}
    if dealer:
        return f"/dealers/{dealer}", {}
    if who.branch:
        return f"/branches/{who.branch}", {}
    return "/hq", {"branch": branch}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    query = console.urls.query

    def chosen(request: Request, kind: str, month: str, by: str) -> tuple[str, str, str]:
        if kind not in KINDS:
            raise Problem(404, "not_found", "no such report")
        month = month or business_today().strftime("%Y-%m")
        if not MONTH.fullmatch(month):
            raise Problem(
                422, "invalid_month", translator(console.language(request))("invalid_month")
            )
        return kind, month, by if by in SALES_DIMENSIONS else "branch"

    @router.get("/reports", response_class=HTMLResponse)
    def reports(
        request: Request,
        kind: str = "inventory",
        month: str = "",
        branch: str = "",
        dealer: str = "",
        by: str = "branch",
    ) -> Response:
        session, who = console.signed_in(request)
        kind, month, by = chosen(request, kind, month, by)
        path, filters = report_path(who, branch=branch.strip(), dealer=dealer.strip())
        params = {"month": month, **filters, **({"by": by} if kind == "sales" else {})}
        calls: dict[str, Any] = {
            "report": lambda: console.call(
                session, "GET", f"{query}{path}/reports/{kind}", params=params
            )
        }
        if not who.branch and not who.dealer:  # HQ chooses among the branches it sees
            calls["branches"] = lambda: console.call(
                session, "GET", f"{query}/hq/receivables", params={"by": "branch", "limit": 1000}
            )
        answers = console.at_once(calls)
        branches = [row["branch"] for row in answers.get("branches", {}).get("items", [])]
        choice = {"kind": kind, "month": month, "branch": branch, "dealer": dealer, "by": by}
        return console.page(
            request,
            "reports.html",
            session=session,
            report=answers["report"],
            kinds=KINDS,
            dimensions=SALES_DIMENSIONS,
            branches=[b for b in branches if b],
            choice=choice,
            downloads={
                f: "/reports/download?" + urlencode({**choice, "format": f}) for f in FORMATS
            },
        )

    @router.get("/reports/download")
    def download(
        request: Request,
        kind: str = "inventory",
        month: str = "",
        branch: str = "",
        dealer: str = "",
        by: str = "branch",
        format: str = "csv",
    ) -> Response:
        session, who = console.signed_in(request)
        kind, month, by = chosen(request, kind, month, by)
        if format not in FORMATS:
            raise Problem(404, "not_found", "no such format")
        path, filters = report_path(who, branch=branch.strip(), dealer=dealer.strip())
        params = {"month": month, **filters, "format": format}
        if kind == "sales":
            params["by"] = by
        answer = console.fetch(session, "GET", f"{query}{path}/reports/{kind}", params=params)
        return Response(
            answer.content,
            media_type=answer.headers["content-type"],
            headers={"Content-Disposition": answer.headers["content-disposition"]},
        )

    return router

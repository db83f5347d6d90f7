"""Monthly reports (月报): 进销存, receivables (statement of account and aging), sales against
target and rebate pools, for a month and a scope the user may see, shown as a table with
links to download them as CSV or XLSX.

The query API decides the scope: a dealer's reports come from its own ``/dealers/...``, a
branch user's from its branch's (or one of its dealers'), HQ's from ``/hq`` (the nation or a
branch) or a dealer's. The download is the API's file, passed on as it came."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class Choice:
    """What the user chose: a report, a month, and a branch or dealer (or neither)."""

    kind: str
    month: str
    branch: str
    dealer: str
    by: str

    def where(self, who: Who) -> tuple[str, dict[str, str]]:
        """Where the query API keeps the chosen scope's report (its path) and its query:
        the user's own dealer, a chosen dealer, the user's branch, a branch HQ chose, or
        the nation."""
        if who.dealer:
            prefix, filters = f"/dealers/{who.dealer}", {}
        elif self.dealer:
            prefix, filters = f"/dealers/{self.dealer}", {}
        elif who.branch:
            prefix, filters = f"/branches/{who.branch}", {}
        else:
            prefix, filters = "/hq", {"branch": self.branch}
        if self.kind == "sales":
            filters["by"] = self.by
        return f"{prefix}/reports/{self.kind}", {"month": self.month, **filters}

    def link(self, **extra: str) -> str:
        return urlencode({**asdict(self), **extra})


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    query = console.urls.query

    def chosen(request: Request) -> Choice:
        """The choice in the page's query (report, month, branch, dealer, by)."""
        asked = request.query_params
        kind = asked.get("kind") or "inventory"
        if kind not in KINDS:
            raise Problem(404, "not_found", "no such report")
        month = asked.get("month") or business_today().strftime("%Y-%m")
        if not MONTH.fullmatch(month):
            t = translator(console.language(request))
            raise Problem(422, "invalid_month", t("invalid_month"))
        by = asked.get("by") if asked.get("by") in SALES_DIMENSIONS else "branch"
        branch, dealer = (asked.get(name, "").strip() for name in ("branch", "dealer"))
        return Choice(kind, month, branch, dealer, by)

    @router.get("/reports", response_class=HTMLResponse)
    def reports(request: Request) -> Response:
        session, who = console.signed_in(request)
        choice = chosen(request)
        path, params = choice.where(who)
        calls: dict[str, Any] = {
            "report": lambda: console.call(session, "GET", f"{query}{path}", params=params)
        }
        if not who.branch and not who.dealer:  # HQ chooses among the branches it sees
            calls["branches"] = lambda: console.call(
                session, "GET", f"{query}/hq/receivables", params={"by": "branch", "limit": 1000}
            )
        answers = console.at_once(calls)
        branches = [row["branch"] for row in answers.get("branches", {}).get("items", [])]
        return console.page(
            request,
            "reports.html",
            session=session,
            report=answers["report"],
            kinds=KINDS,
            dimensions=SALES_DIMENSIONS,
            branches=[b for b in branches if b],
            choice=choice,
            downloads={f: f"/reports/download?{choice.link(format=f)}" for f in FORMATS},
        )

    @router.get("/reports/download")
    def download(request: Request, format: str = "csv") -> Response:
        session, who = console.signed_in(request)
        choice = chosen(request)
        if format not in FORMATS:
            raise Problem(404, "not_found", "no such format")
        path, params = choice.where(who)
        answer = console.fetch(
            session, "GET", f"{query}{path}", params={**params, "format": format}
        )
        return Response(
            answer.content,
            media_type=answer.headers["content-type"],
            headers={"Content-Disposition": answer.headers["content-disposition"]},
        )

    return router

"""Dealers: the branch's (or the nation's) dealers, searched, each with its statement one
click away; a dealer's statement (limit, receivables, exposure), its aging buckets and its
open invoices, as of a date."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.pages.money import ISSUERS, RECORDERS
from console.web import Console

STATEMENT_MONEY = (
    "credit_limit",
    "invoiced",
    "received",
    "credited",
    "rebate_credited",
    "receivables",
    "reserved",
    "exposure",
)


def routes(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/dealers", response_class=HTMLResponse)
    def dealers(request: Request, q: str = "", cursor: str = "") -> Response:
        return console.list_page(
            request, "dealers.html", "dealers", params={"q": q.strip(), "cursor": cursor}, q=q
        )

    @router.get("/dealers/{dealer}/statement", response_class=HTMLResponse)
    def statement(
        request: Request, dealer: str, as_of: str = "", min_position: str = ""
    ) -> Response:
        session, _ = console.signed_in(request)
        answer = console.call(
            session,
            "GET",
            f"{console.urls.query}/dealers/{dealer}/statement",
            params={"as_of": as_of, "min_position": min_position},
        )
        return console.page(
            request,
            "statement.html",
            session=session,
            dealer=dealer,
            s=answer,
            money_fields=STATEMENT_MONEY,
            recorders=RECORDERS,
            issuers=ISSUERS,
        )

    return router

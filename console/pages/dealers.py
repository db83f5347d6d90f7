"""A dealer's account: its statement (limit, receivables, exposure) and aging."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

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

    @router.get("/dealers/{dealer}/statement", response_class=HTMLResponse)
    def statement(request: Request, dealer: str, as_of: str = "") -> Response:
        session, _ = console.signed_in(request)
        answer = console.call(
            session,
            "GET",
            f"{console.urls.query}/dealers/{dealer}/statement",
            params={"as_of": as_of},
        )
        return console.page(
            request,
            "statement.html",
            session=session,
            dealer=dealer,
            s=answer,
            money_fields=STATEMENT_MONEY,
        )

    return router

"""The warehouse clerk's home: what touches its warehouse (the query API's lists under
``/branches/{branch}/warehouses/{warehouse}``): approved orders to ship, shipments not yet
confirmed delivered, approved returns to receive, transfers at either end, stocktakes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.pages.returns import RECEIVERS
from console.pages.shipments import DISPATCHERS, TO_DISPATCH
from console.web import Console

SHOWN = 20  # the first rows of each list; each links to the whole


def routes(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/warehouse", response_class=HTMLResponse)
    def warehouse(request: Request) -> Response:
        session, who = console.signed_in(request)
        base = f"{console.urls.query}{who.lists_prefix}"

        def first(name: str, **params: str) -> dict:
            return console.call(session, "GET", f"{base}/{name}", params={**params, "limit": SHOWN})

        to_ship: list[dict] = []
        for status in TO_DISPATCH:
            to_ship += console.every_page(session, f"{base}/orders", {"status": status})
        to_ship.sort(key=lambda o: (o["business_date"], o["order_id"]))
        return console.page(
            request,
            "warehouse.html",
            session=session,
            orders=to_ship,
            undelivered=first("shipments", status="dispatched"),
            returns=first("returns", status="approved"),
            transfers=first("transfers"),
            stocktakes=first("stocktakes"),
            dispatchers=DISPATCHERS,
            receivers=RECEIVERS,
        )

    return router

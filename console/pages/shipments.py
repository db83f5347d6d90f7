"""Shipments (出库/发货): the list with a status filter, the approved orders still to ship,
the dispatch form (where the role may dispatch), delivery confirmation, and a shipment's page
with its lines and its invoice. The API decides who may do what: a refusal is shown by the
field, or as the 403 page."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import (
    ApiRefused,
    Console,
    ListParams,
    field_errors,
    form_lines,
    form_text,
    just_done,
)

SHIPMENT_STATUSES = ("dispatched", "delivered")
# Orders a warehouse ships against: approved, or shipped in part.
TO_DISPATCH = ("approved", "partly_shipped")
# Who may dispatch (inventory's POST /shipments) and confirm delivery (POST .../delivery):
# the console offers the buttons to them only; the API decides.
DISPATCHERS = ("warehouse_clerk", "hq_admin")
CONFIRMERS = ("dealer", "branch_clerk", "branch_manager", "hq_admin")
DISPATCH_RULES = {
    "unknown_order": "order_id",
    "invalid_transition": "order_id",
    "over_shipment": "lines",
    "insufficient_stock": "lines",
    "invalid_quantity": "lines",
    "outside_scope": "order_id",
}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    @router.get("/shipments", response_class=HTMLResponse)
    def shipments(request: Request, params: Annotated[ListParams, Depends()]) -> Response:
        return console.list_page(
            request,
            "shipments.html",
            "shipments",
            params=params,
            statuses=SHIPMENT_STATUSES,
            confirmers=CONFIRMERS,
        )

    @router.get("/shipments/to-dispatch", response_class=HTMLResponse)
    def to_dispatch(request: Request, min_position: str = "") -> Response:
        """Approved orders not yet shipped in full, of the user's warehouse (or branch)."""
        session, who = console.signed_in(request)
        orders: list[dict] = []
        for status in TO_DISPATCH:
            orders += console.every_page(
                session,
                f"{urls.query}{who.lists_prefix}/orders",
                {"status": status, "min_position": min_position},
            )
        orders.sort(key=lambda o: (o["business_date"], o["order_id"]))
        return console.page(
            request, "to_dispatch.html", session=session, orders=orders, dispatchers=DISPATCHERS
        )

    def dispatch_form(request, session, order_id: str, *, lines=None, status=200, problem=None):
        reservation = console.call(
            session, "GET", f"{urls.inventory}/stock/reservations/{order_id}"
        )
        typed = {line["sku"]: line.get("quantity") for line in lines or []}
        rows = [
            {**line, "quantity": typed.get(line["sku"], line["remaining"])}
            for line in reservation["lines"]
            if line["remaining"] > 0 or line["sku"] in typed
        ]
        return console.page(
            request,
            "shipment_form.html",
            status,
            session,
            reservation=reservation,
            rows=rows,
            errors=field_errors(problem, rules=DISPATCH_RULES) if problem else {},
        )

    @router.get("/shipments/new", response_class=HTMLResponse)
    def new_shipment(request: Request, order_id: uuid.UUID) -> Response:
        session, _ = console.signed_in(request)
        return dispatch_form(request, session, str(order_id))

    @router.post("/shipments")
    async def dispatch(request: Request) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        order_id = form_text(form, "order_id")
        lines = [
            line for line in form_lines(form, "sku", "quantity") if line["quantity"] not in (0, "")
        ]
        body = {"order_id": order_id, "lines": lines}
        if form_text(form, "ship_date"):
            body["ship_date"] = form_text(form, "ship_date")
        try:
            shipped = console.call(
                session, "POST", f"{urls.inventory}/shipments", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return dispatch_form(
                request,
                session,
                order_id,
                lines=lines,
                status=refused.status,
                problem=refused.problem,
            )
        query = just_done(shipped.get("position"), done=shipped["shipment_id"])
        return RedirectResponse(f"/shipments?{query}", status_code=303)

    @router.post("/shipments/{shipment_id}/delivery")
    async def confirm_delivery(request: Request, shipment_id: uuid.UUID) -> Response:
        session, _ = console.signed_in(request)
        await console.form(request, session)
        confirmed = console.call(
            session,
            "POST",
            f"{urls.inventory}/shipments/{shipment_id}/delivery",
            json={},
            idempotent=True,
        )
        query = just_done(confirmed.get("position"), done=str(shipment_id))
        return RedirectResponse(f"/shipments?{query}", status_code=303)

    @router.get("/shipments/{shipment_id}", response_class=HTMLResponse)
    def shipment(request: Request, shipment_id: uuid.UUID) -> Response:
        """Its lines (inventory) and its invoice (the query API's invoices list, which names
        each invoice's shipment and order), where the user may read invoices."""
        session, who = console.signed_in(request)
        shown = console.call(session, "GET", f"{urls.inventory}/shipments/{shipment_id}")
        try:
            invoices = console.call(
                session,
                "GET",
                f"{urls.query}{who.lists_prefix}/invoices",
                params={"shipment_id": str(shipment_id)},
            )["items"]
        except ApiRefused as refused:
            if refused.status not in (403, 404):
                raise
            invoices = None  # not the user's to read (a warehouse clerk)
        return console.page(
            request,
            "shipment.html",
            session=session,
            s=shown,
            invoices=invoices,
            confirmers=CONFIRMERS,
        )

    return router

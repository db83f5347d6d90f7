"""Orders: the list with status filters, the queue of orders awaiting a decision, the order
form, and the decisions (approve, reject, cancel). A command's answer (its position) is the
next page's `min_position`, so the list shows what was just done."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, Who, errors_by_line, form_lines
from runtime.http.console_session import ConsoleSession
from runtime.http.problems import Problem

# The order statuses the query API's orders list filters by (docs/queries.md); the console
# only offers them, the API decides what each means.
ORDER_STATUSES = (
    "placed",
    "credit_hold",
    "approved",
    "partly_shipped",
    "shipped",
    "delivered",
    "rejected",
    "cancelled",
)
# Orders a branch manager decides on: held for credit, or placed and not yet approved
# (above the approval threshold).
QUEUE_STATUSES = ("credit_hold", "placed")
DECISIONS = {"approve": "approval", "reject": "rejection", "cancel": "cancellation"}
# The rule a refusal names, as the field of the order form it is about.
ORDER_RULES = {"unknown_dealer": "dealer_code", "unknown_sku": "lines"}


def order_form_errors(problem: dict[str, Any]) -> dict[str, str]:
    """Errors by the order form's fields: a line's SKU or quantity by that line, anything
    else about the lines above them."""
    return errors_by_line(problem, rules=ORDER_RULES)


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    def orders_page(
        request: Request, session: ConsoleSession, who: Who, **params: Any
    ) -> HTMLResponse:
        placed = params.pop("placed", "")
        listing = console.call(
            session, "GET", f"{urls.query}{who.lists_prefix}/orders", params=params
        )
        return console.page(
            request,
            "orders.html",
            session=session,
            listing=listing,
            status=params.get("status", ""),
            statuses=ORDER_STATUSES,
            queue=QUEUE_STATUSES,
            placed=placed,
        )

    @router.get("/orders", response_class=HTMLResponse)
    def orders(
        request: Request,
        status: str = "",
        cursor: str = "",
        min_position: str = "",
        placed: str = "",
    ) -> Response:
        session, who = console.signed_in(request)
        return orders_page(
            request,
            session,
            who,
            status=status,
            cursor=cursor,
            min_position=min_position,
            placed=placed,
        )

    @router.get("/orders/queue", response_class=HTMLResponse)
    def queue(request: Request) -> Response:
        """What awaits a decision: orders on credit hold and orders placed but not approved
        (above the approval threshold)."""
        session, who = console.signed_in(request)
        items: list[dict] = []
        for status in QUEUE_STATUSES:
            items += console.every_page(
                session, f"{urls.query}{who.lists_prefix}/orders", {"status": status}
            )
        listing = {"items": items, "total": len(items), "next_cursor": None}
        return console.page(
            request,
            "orders.html",
            session=session,
            listing=listing,
            status="",
            statuses=ORDER_STATUSES,
            queue=QUEUE_STATUSES,
            heading="queue",
        )

    @router.get("/orders/new", response_class=HTMLResponse)
    def order_form(request: Request) -> Response:
        session, who = console.signed_in(request)
        return console.page(
            request, "order_form.html", session=session, form={"dealer": who.dealer}
        )

    @router.post("/orders")
    async def place_order(request: Request) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        lines = form_lines(form)
        body = {"dealer_code": str(form.get("dealer_code", "")).strip(), "lines": lines}
        try:
            placed = console.call(
                session, "POST", f"{urls.orders}/orders", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return console.page(
                request,
                "order_form.html",
                refused.status,
                session,
                form={"dealer": body["dealer_code"], "lines": lines},
                errors=order_form_errors(refused.problem),
                problem=refused.problem,
            )
        query = urlencode(
            {"min_position": placed.get("position") or "", "placed": placed["order_id"]}
        )
        return RedirectResponse(f"/orders?{query}", status_code=303)

    @router.post("/orders/{order_id}/{decision}")
    async def decide(request: Request, order_id: uuid.UUID, decision: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        if decision not in DECISIONS:
            raise Problem(404, "not_found", "no such action")
        body = None if decision == "approve" else {"reason": str(form.get("reason") or "")}
        decided = console.call(
            session,
            "POST",
            f"{urls.orders}/orders/{order_id}/{DECISIONS[decision]}",
            json=body,
            idempotent=True,
        )
        return RedirectResponse(
            f"/orders?min_position={decided.get('position', '')}", status_code=303
        )

    return router

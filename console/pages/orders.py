"""Orders: the list with status filters, the queue of orders awaiting a decision, the order
form with its price preview, and the decisions (approve, reject, cancel, credit override). A
command's answer (its position) is the next page's `min_position`, so the list shows what was
just done."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, Who, errors_by_line, form_lines, form_text
from runtime.http.console_session import ConsoleSession
from runtime.http.problems import Problem

# The order statuses the query API's orders list filters by (docs/queries.md); the console
# only offers them, the API decides what each means.
ORDER_STATUSES = (
    "placed",
    "credit_hold",
    "awaiting_approval",
    "approved",
    "partly_shipped",
    "shipped",
    "delivered",
    "rejected",
    "cancelled",
)
# Orders awaiting a person's decision: held for credit (a credit controller may override, a
# branch manager reject), or above the approval threshold (a branch manager approves).
QUEUE_STATUSES = ("credit_hold", "awaiting_approval")
DECISIONS = {"approve": "approval", "reject": "rejection", "cancel": "cancellation"}
# Which decisions carry the reason typed next to them (the API requires one for these).
WITH_REASON = ("reject", "cancel")
# The rule a refusal names, as the field of the order form it is about.
ORDER_RULES = {"unknown_dealer": "dealer_code", "unknown_sku": "lines"}


def order_form_errors(problem: dict[str, Any]) -> dict[str, str]:
    """Errors by the order form's fields: a line's SKU or quantity by that line, anything
    else about the lines above them."""
    return errors_by_line(problem, rules=ORDER_RULES)


def order_body(form) -> dict[str, Any]:
    """The order form as the body of `POST /orders` (and of its quote)."""
    return {
        "dealer_code": form_text(form, "dealer_code"),
        "lines": form_lines(form),
    }


def stock_answer(lines: list[dict], available: dict[str, int] | None) -> list[dict]:
    """Each line with the stock available for its SKU at the branch warehouse, and whether
    the order's lines of that SKU (a paid line and its gift) fit in it."""
    needed: dict[str, int] = {}
    for line in lines:
        needed[line["sku"]] = needed.get(line["sku"], 0) + line["quantity"]
    shown = []
    for line in lines:
        stock = None if available is None else available.get(line["sku"], 0)
        enough = None if stock is None else stock >= needed[line["sku"]]
        shown.append({**line, "available": stock, "enough": enough})
    return shown


def credit_answer(statement: dict | None, total: str) -> dict | None:
    """Available credit (limit - exposure, as the statement stands) against the order."""
    if statement is None:
        return None
    available = Decimal(statement["credit_limit"]) - Decimal(statement["exposure"])
    return {
        "credit_limit": statement["credit_limit"],
        "exposure": statement["exposure"],
        "available": f"{available:.2f}",
        "within": Decimal(total) <= available,
    }


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    def orders_page(
        request: Request, session: ConsoleSession, who: Who, **params: Any
    ) -> HTMLResponse:
        placed = params.pop("placed", "")
        refused = params.pop("refused", None)
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
            refused=refused,
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

    def queue_page(
        request: Request,
        session: ConsoleSession,
        who: Who,
        *,
        min_position: str = "",
        refused: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        items: list[dict] = []
        for status in QUEUE_STATUSES:
            items += console.every_page(
                session,
                f"{urls.query}{who.lists_prefix}/orders",
                {"status": status, "min_position": min_position},
            )
        listing = {"items": items, "total": len(items), "next_cursor": None}
        return console.page(
            request,
            "orders.html",
            status_code,
            session,
            listing=listing,
            status="",
            statuses=ORDER_STATUSES,
            queue=QUEUE_STATUSES,
            heading="queue",
            refused=refused,
        )

    @router.get("/orders/queue", response_class=HTMLResponse)
    def queue(request: Request, min_position: str = "") -> Response:
        """What awaits a decision: orders on credit hold and orders awaiting a branch
        manager's approval (above the approval threshold)."""
        session, who = console.signed_in(request)
        return queue_page(request, session, who, min_position=min_position)

    @router.get("/orders/new", response_class=HTMLResponse)
    def order_form(request: Request) -> Response:
        session, who = console.signed_in(request)
        return console.page(
            request, "order_form.html", session=session, form={"dealer": who.dealer}
        )

    def optional(session: ConsoleSession, url: str, params: dict | None = None) -> Any:
        """A figure the user's scope may not include (a dealer does not see its branch's
        warehouses): None when the API refuses it."""
        try:
            return console.call(session, "GET", url, params=params)
        except ApiRefused:
            return None

    def branch_stock(session: ConsoleSession, branch: str) -> dict[str, int] | None:
        """Available stock per SKU at the branch's warehouses (those that serve its orders),
        as the inventory read model stands; None if the user may not see it."""
        warehouses = optional(
            session, f"{urls.query}/branches/{branch}/warehouses", {"kind": "branch"}
        )
        if warehouses is None or not warehouses["items"]:
            return None  # not the user's to see, or no branch warehouse known yet
        available: dict[str, int] = {}
        for warehouse in warehouses["items"]:
            levels = optional(
                session,
                f"{urls.query}/branches/{branch}/inventory",
                {"warehouse": warehouse["code"], "limit": 1000},
            )
            if levels is None:
                return None
            for row in levels["items"]:
                available[row["sku"]] = available.get(row["sku"], 0) + row["available"]
        return available

    def preview_of(session: ConsoleSession, body: dict) -> dict[str, Any]:
        """The order as it would be booked (the orders API's quote, priced by the code that
        places orders) and the credit and stock answer as they stand (the query API)."""
        try:
            quote = console.call(session, "POST", f"{urls.orders}/orders/quote", json=body)
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return {"errors": order_form_errors(refused.problem), "problem": refused.problem}
        statement = optional(session, f"{urls.query}/dealers/{quote['dealer_code']}/statement")
        return {
            "quote": quote,
            "lines": stock_answer(quote["lines"], branch_stock(session, quote["branch"])),
            "credit": credit_answer(statement, quote["total"]),
        }

    @router.post("/orders/preview", response_class=HTMLResponse)
    async def preview(request: Request) -> Response:
        """The preview alone (for the form's script, as the lines change)."""
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        body = order_body(form)
        if not body["dealer_code"] or not body["lines"]:
            return console.page(request, "order_preview.html", session=session, preview=None)
        return console.page(
            request, "order_preview.html", session=session, preview=preview_of(session, body)
        )

    @router.post("/orders")
    async def place_order(request: Request) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        body = order_body(form)
        lines = body["lines"]
        if form.get("action") == "preview":
            shown = preview_of(session, body)
            return console.page(
                request,
                "order_form.html",
                session=session,
                form={"dealer": body["dealer_code"], "lines": lines},
                preview=shown,
                errors=shown.get("errors"),
            )
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
        """A decision from the list or the queue. A refusal other than scope (409: the order
        moved on, 422: no reason given) is shown by the order, on the page it came from."""
        session, who = console.signed_in(request)
        form = await console.form(request, session)
        if decision == "override":
            # 信用放行: finance lets this one order past the dealer's credit limit.
            dealer = str(form.get("dealer_code", ""))
            url = f"{urls.finance}/accounts/{dealer}/credit-overrides"
            body: dict | None = {"order_id": str(order_id)}
        elif decision in DECISIONS:
            url = f"{urls.orders}/orders/{order_id}/{DECISIONS[decision]}"
            body = {"reason": str(form.get("reason") or "")} if decision in WITH_REASON else None
        else:
            raise Problem(404, "not_found", "no such action")
        back = "/orders/queue" if form.get("back") == "queue" else "/orders"
        try:
            decided = console.call(session, "POST", url, json=body, idempotent=True)
        except ApiRefused as refused:
            if refused.status in (403, 404):
                raise
            problem = {**refused.problem, "order_id": str(order_id), "decision": decision}
            if back == "/orders/queue":
                return queue_page(
                    request, session, who, refused=problem, status_code=refused.status
                )
            return orders_page(request, session, who, refused=problem)
        return RedirectResponse(
            f"{back}?min_position={decided.get('position', '')}", status_code=303
        )

    return router

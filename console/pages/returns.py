"""Returns (退货): the list, a form to request a return against a delivered order (the
dealer, its branch, HQ admin), a return's page with approve/reject (branch manager, HQ
admin), and the goods receipt of a return (退货入库) where the warehouse counts it in, good
or damaged."""

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
from runtime.http.problems import Problem

RETURN_STATUSES = ("approved", "received")
REQUESTERS = ("dealer", "branch_clerk", "branch_manager", "hq_admin")
DECIDERS = ("branch_manager", "hq_admin")
RECEIVERS = ("warehouse_clerk", "branch_manager", "hq_admin")
DECISIONS = {"approve": "approval", "reject": "rejection"}
REQUEST_RULES = {
    "unknown_order": "order_id",
    "invalid_transition": "order_id",
    "return_exceeds_shipped": "lines",
    "unknown_sku": "lines",
    "invalid_quantity": "lines",
}
RECEIPT_RULES = {
    "return_over_receipt": "lines",
    "not_on_return": "lines",
    "invalid_quantity": "lines",
}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    @router.get("/returns", response_class=HTMLResponse)
    def returns(request: Request, params: Annotated[ListParams, Depends()]) -> Response:
        return console.list_page(
            request,
            "returns.html",
            "returns",
            params=params,
            statuses=RETURN_STATUSES,
            requesters=REQUESTERS,
            receivers=RECEIVERS,
        )

    def request_form(request, session, form: dict, *, status=200, problem=None):
        errors = field_errors(problem, rules=REQUEST_RULES) if problem else {}
        for name in list(errors):  # a line's SKU or quantity by that line, else above them
            parts = name.split(".")
            if parts[0] == "lines" and not (len(parts) == 3 and parts[2] in ("sku", "quantity")):
                errors.setdefault("lines", errors.pop(name))
        return console.page(request, "return_form.html", status, session, form=form, errors=errors)

    @router.get("/returns/new", response_class=HTMLResponse)
    def new_return(request: Request, order_id: str = "") -> Response:
        session, _ = console.signed_in(request)
        return request_form(request, session, {"order_id": order_id})

    @router.post("/returns")
    async def request_return(request: Request) -> Response:
        session, _ = console.signed_in(request)
        posted = await console.form(request, session)
        form = {
            "order_id": form_text(posted, "order_id"),
            "reason": form_text(posted, "reason"),
            "lines": form_lines(posted, "sku", "quantity"),
        }
        try:
            requested = console.call(
                session, "POST", f"{urls.orders}/returns", json=form, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return request_form(
                request, session, form, status=refused.status, problem=refused.problem
            )
        return RedirectResponse(f"/returns/{requested['return_id']}", status_code=303)

    @router.get("/returns/{return_id}", response_class=HTMLResponse)
    def dealer_return(request: Request, return_id: uuid.UUID) -> Response:
        """The return as orders holds it (requested, approved, rejected, received,
        credited), with the decisions the user's role may take."""
        session, _ = console.signed_in(request)
        shown = console.call(session, "GET", f"{urls.orders}/returns/{return_id}")
        return console.page(
            request,
            "return.html",
            session=session,
            r=shown,
            deciders=DECIDERS,
            receivers=RECEIVERS,
        )

    def receipt_form(request, session, return_id, *, typed=None, status=200, problem=None):
        expected = console.call(
            session, "GET", f"{urls.inventory}/goods-receipts/returns/{return_id}"
        )
        counted = {line["sku"]: line for line in typed or []}
        rows = [
            {**line, **counted.get(line["sku"], {"good": line["quantity"], "damaged": 0})}
            for line in expected["expected"]
        ]
        errors = field_errors(problem, rules=RECEIPT_RULES) if problem else {}
        return console.page(
            request, "return_receipt.html", status, session, r=expected, rows=rows, errors=errors
        )

    @router.get("/returns/{return_id}/receipt", response_class=HTMLResponse)
    def return_receipt(request: Request, return_id: uuid.UUID) -> Response:
        session, _ = console.signed_in(request)
        return receipt_form(request, session, return_id)

    @router.post("/returns/{return_id}/receipt")
    async def receive_return(request: Request, return_id: uuid.UUID) -> Response:
        session, _ = console.signed_in(request)
        posted = await console.form(request, session)
        lines = form_lines(posted, "sku", "good", "damaged")
        body = {"lines": lines}
        if form_text(posted, "received_on"):
            body["received_on"] = form_text(posted, "received_on")
        try:
            received = console.call(
                session,
                "POST",
                f"{urls.inventory}/goods-receipts/returns/{return_id}",
                json=body,
                idempotent=True,
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return receipt_form(
                request,
                session,
                return_id,
                typed=lines,
                status=refused.status,
                problem=refused.problem,
            )
        query = just_done(received.get("position"), done=str(return_id))
        return RedirectResponse(f"/returns?{query}", status_code=303)

    # After /receipt: a decision is any other last segment.
    @router.post("/returns/{return_id}/{decision}")
    async def decide(request: Request, return_id: uuid.UUID, decision: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        if decision not in DECISIONS:
            raise Problem(404, "not_found", "no such action")
        body = None if decision == "approve" else {"reason": form_text(form, "reason")}
        decided = console.call(
            session,
            "POST",
            f"{urls.orders}/returns/{return_id}/{DECISIONS[decision]}",
            json=body,
            idempotent=True,
        )
        query = just_done(decided.get("position"), done=str(return_id))
        return RedirectResponse(f"/returns?{query}", status_code=303)

    return router

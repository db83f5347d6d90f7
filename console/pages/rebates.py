"""Rebates (返利): the rebate pool (accrued, settled, claimed, credited, available; per policy
for a dealer) and the rebate claims, with the claim form and the managers' decisions.

A dealer sees its own pool (from its statement on the query API) and claims on it; a branch
its dealers' pools and claims, HQ all. Who may claim or decide is the finance API's rule (a
branch clerk, the dealer itself or HQ admin claims; the branch manager or HQ admin decides):
the console offers the forms, the API answers. A command's position is the next page's
`min_position`, so the list shows the claim just filed or decided."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, Who, field_errors
from runtime.http.console_session import ConsoleSession
from runtime.http.problems import Problem

CLAIM_STATUSES = ("filed", "rejected", "credited")
POOL_FIGURES = ("accrued", "settled", "claimed", "credited", "available")
# The rule a refusal names, as the field of the claim form it is about.
CLAIM_RULES = {
    "rebate_claim_exceeds_pool": "amount",
    "unknown_dealer": "dealer_code",
    "unknown_account": "dealer_code",
}
DECISIONS = {"approve": "approval", "reject": "rejection"}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    def rebates_page(
        request: Request,
        session: ConsoleSession,
        who: Who,
        *,
        status: str = "",
        min_position: str = "",
        done: str = "",
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        at = {"min_position": min_position}
        statement = None
        pools: list[dict] = []
        if who.dealer:
            statement = console.call(
                session, "GET", f"{urls.query}/dealers/{who.dealer}/statement", params=at
            )
        else:
            pools = console.every_page(session, f"{urls.query}{who.lists_prefix}/rebates/pools", at)
        claims = console.call(
            session,
            "GET",
            f"{urls.query}{who.lists_prefix}/rebate-claims",
            params={"status": status, **at},
        )
        return console.page(
            request,
            "rebates.html",
            status_code,
            session,
            statement=statement,
            pools=pools,
            pool_figures=POOL_FIGURES,
            claims=claims,
            status=status,
            statuses=CLAIM_STATUSES,
            done=done,
            form=form or {"dealer_code": who.dealer or ""},
            errors=errors or {},
        )

    @router.get("/rebates", response_class=HTMLResponse)
    def rebates(
        request: Request, status: str = "", min_position: str = "", done: str = ""
    ) -> Response:
        session, who = console.signed_in(request)
        return rebates_page(
            request, session, who, status=status, min_position=min_position, done=done
        )

    @router.post("/rebates/claims")
    async def file_claim(request: Request) -> Response:
        session, who = console.signed_in(request)
        form = await console.form(request, session)
        typed = {
            name: str(form.get(name, "")).strip() for name in ("dealer_code", "amount", "note")
        }
        body: dict[str, Any] = {
            "dealer_code": who.dealer or typed["dealer_code"],
            "amount": typed["amount"],
        }
        if typed["note"]:
            body["note"] = typed["note"]
        try:
            filed = console.call(
                session, "POST", f"{urls.finance}/rebate-claims", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return rebates_page(
                request,
                session,
                who,
                form=typed,
                errors=field_errors(refused.problem, rules=CLAIM_RULES),
                status_code=refused.status,
            )
        query = urlencode({"min_position": filed.get("position") or "", "done": filed["claim_id"]})
        return RedirectResponse(f"/rebates?{query}", status_code=303)

    @router.post("/rebates/claims/{claim_id}/{decision}")
    async def decide(request: Request, claim_id: uuid.UUID, decision: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        if decision not in DECISIONS:
            raise Problem(404, "not_found", "no such action")
        body = {} if decision == "approve" else {"reason": str(form.get("reason") or "")}
        decided = console.call(
            session,
            "POST",
            f"{urls.finance}/rebate-claims/{claim_id}/{DECISIONS[decision]}",
            json=body,
            idempotent=True,
        )
        query = urlencode({"min_position": decided.get("position") or "", "done": str(claim_id)})
        return RedirectResponse(f"/rebates?{query}", status_code=303)

    return router

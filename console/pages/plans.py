"""Demand plans (要货计划): the plans of a month, one plan with its lines against what was
ordered, the form to submit a plan, and revising, approving or returning it.

The dealer (or its branch's clerk, or HQ admin) submits and revises; the branch manager (or
HQ admin) approves or returns with the reason, which the dealer then sees on its plan: the
orders API's rules, which the console only offers. A command's position is the next page's
`min_position`, so the figures from the query API show what was just done."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, errors_by_line, form_lines
from runtime.http.console_session import ConsoleSession
from runtime.http.problems import Problem

PLAN_STATUSES = ("submitted", "approved", "returned")
# Blank line rows the forms offer beyond the plan's own lines.
SPARE_LINES = 3
PLAN_RULES = {
    "unknown_dealer": "dealer_code",
    "unknown_sku": "lines",
    "demand_plan_exists": "month",
    "invalid_transition": "form",
}
DECISIONS = {"approve": "approval", "return": "return"}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    @router.get("/plans", response_class=HTMLResponse)
    def plans(
        request: Request, month: str = "", status: str = "", min_position: str = ""
    ) -> Response:
        session, who = console.signed_in(request)
        listing = console.call(
            session,
            "GET",
            f"{urls.query}{who.lists_prefix}/demand-plans/list",
            params={"month": month, "status": status, "min_position": min_position},
        )
        return console.page(
            request,
            "plans.html",
            session=session,
            listing=listing,
            month=month,
            status=status,
            statuses=PLAN_STATUSES,
        )

    def plan_page(
        request: Request,
        session: ConsoleSession,
        dealer: str,
        month: str,
        *,
        min_position: str = "",
        done: str = "",
        lines: list[dict] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        plan = console.call(session, "GET", f"{urls.orders}/demand-plans/{dealer}/{month}")
        against = console.every_page(
            session,
            f"{urls.query}/dealers/{dealer}/demand-plans",
            {"month": month, "by": "sku", "min_position": min_position},
        )
        return console.page(
            request,
            "plan.html",
            status_code,
            session,
            plan=plan,
            against={row["key"]: row for row in against},
            done=done,
            lines=(lines if lines is not None else plan["lines"]) + [{}] * SPARE_LINES,
            errors=errors or {},
        )

    @router.get("/plans/new", response_class=HTMLResponse)
    def plan_form(request: Request, month: str = "") -> Response:
        session, who = console.signed_in(request)
        form = {"dealer_code": who.dealer or "", "month": month}
        return console.page(
            request,
            "plan_form.html",
            session=session,
            form=form,
            lines=[{}] * SPARE_LINES,
            errors={},
        )

    @router.post("/plans")
    async def submit(request: Request) -> Response:
        session, who = console.signed_in(request)
        form = await console.form(request, session)
        lines = form_lines(form)
        body = {
            "dealer_code": who.dealer or str(form.get("dealer_code", "")).strip(),
            "month": str(form.get("month", "")).strip(),
            "lines": lines,
        }
        try:
            plan = console.call(
                session, "POST", f"{urls.orders}/demand-plans", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return console.page(
                request,
                "plan_form.html",
                refused.status,
                session,
                form=body,
                lines=lines + [{}] * SPARE_LINES,
                errors=errors_by_line(refused.problem, rules=PLAN_RULES),
            )
        return _to_plan(plan, "submitted")

    @router.get("/plans/{dealer}/{month}", response_class=HTMLResponse)
    def plan(
        request: Request, dealer: str, month: str, min_position: str = "", done: str = ""
    ) -> Response:
        session, _ = console.signed_in(request)
        return plan_page(request, session, dealer, month, min_position=min_position, done=done)

    def change_plan(
        request: Request,
        session: ConsoleSession,
        dealer: str,
        month: str,
        *,
        action: str,
        body: dict[str, Any],
        done: str,
    ) -> Response:
        """One command on the plan: the plan at its position next, or the plan again with
        the refusal by the field (the lines as typed)."""
        try:
            plan = console.call(
                session,
                "POST",
                f"{urls.orders}/demand-plans/{dealer}/{month}/{action}",
                json=body,
                idempotent=True,
            )
        except ApiRefused as refused:
            if refused.status in (403, 404):
                raise
            return plan_page(
                request,
                session,
                dealer,
                month,
                lines=body.get("lines"),
                errors=errors_by_line(refused.problem, rules=PLAN_RULES),
                status_code=refused.status,
            )
        return _to_plan(plan, done)

    @router.post("/plans/{dealer}/{month}/revise")
    async def revise(request: Request, dealer: str, month: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        body = {"lines": form_lines(form)}
        return change_plan(
            request, session, dealer, month, action="revision", body=body, done="revised"
        )

    @router.post("/plans/{dealer}/{month}/{decision}")
    async def decide(request: Request, dealer: str, month: str, decision: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        if decision not in DECISIONS:
            raise Problem(404, "not_found", "no such action")
        comment = str(form.get("comment") or "").strip()
        body = {"comment": comment} if comment else {}
        return change_plan(
            request, session, dealer, month, action=DECISIONS[decision], body=body, done=decision
        )

    return router


def _to_plan(plan: dict, done: str) -> RedirectResponse:
    query = urlencode({"min_position": plan.get("position") or "", "done": done})
    return RedirectResponse(
        f"/plans/{plan['dealer_code']}/{plan['month']}?{query}", status_code=303
    )

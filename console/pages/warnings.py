"""Early warnings (预警): the signed-in user's warnings (those of its scope, or only its own
inbox: its level's and those assigned to it), filtered by status, severity and level; and a
warning's page with its reasons, its history and what people do with it: acknowledge,
comment, assign to a colleague, resolve with a note. The warnings API decides scope and
who may act; its refusals of a form's input are shown on that form."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, field_errors, form_text
from runtime.http.console_session import ConsoleSession
from runtime.http.problems import Problem

STATUSES = ("open", "resolved", "all")
SEVERITIES = ("critical", "high", "medium", "low")
LEVELS = ("branch_manager", "region", "hq_admin", "national")
BOXES = ("scope", "mine")
# The roles the warnings API lets act on a warning (others read it only).
ACTING_ROLES = ("hq_admin", "credit_controller", "region_manager", "branch_manager", "branch_clerk")
# What each form posts to the API: the command's path and its body from the form.
ACTIONS = {
    "acknowledge": ("acknowledgement", lambda form: {}),
    "comment": ("comments", lambda form: {"text": form_text(form, "text")}),
    "assign": ("assignment", lambda form: {"assignee": form_text(form, "assignee")}),
    "resolve": ("resolution", lambda form: {"note": form_text(form, "note")}),
}
# Refusals about what the user typed, shown on the form rather than as the 403 page.
FORM_REFUSALS = ("assignee_outside_scope", "unknown_user")


class WarningFilters:
    """The list's query: whose warnings (the user's scope, or its inbox) and which."""

    def __init__(
        self,
        box: str = "scope",
        status: str = "open",
        severity: str = "",
        level: str = "",
        cursor: str = "",
    ) -> None:
        self.box = box if box in BOXES else "scope"
        self.status = status if status in STATUSES else "open"
        self.severity = severity if severity in SEVERITIES else ""
        self.level = level if level in LEVELS else ""
        self.cursor = cursor


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    url = f"{console.urls.warnings}/warnings"

    @router.get("/warnings", response_class=HTMLResponse)
    def warnings(request: Request, chosen: Annotated[WarningFilters, Depends()]) -> Response:
        session, _ = console.signed_in(request)
        if chosen.box == "mine":  # the API's inbox: open ones at the user's level or its own
            listing = console.call(session, "GET", f"{url}/inbox", params={"cursor": chosen.cursor})
        else:
            params = {
                "status": chosen.status,
                "severity": chosen.severity,
                "level": chosen.level,
                "cursor": chosen.cursor,
            }
            listing = console.call(session, "GET", url, params=params)
        return console.page(
            request,
            "warnings.html",
            session=session,
            listing=listing,
            chosen=chosen,
            statuses=STATUSES,
            severities=SEVERITIES,
            levels=LEVELS,
        )

    def detail(
        request: Request,
        session: ConsoleSession,
        warning_id: uuid.UUID,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        typed: dict[str, str] | None = None,
        done: str = "",
    ) -> Response:
        shown = console.call(session, "GET", f"{url}/{warning_id}")
        return console.page(
            request,
            "warning.html",
            status,
            session,
            w=shown,
            acting_roles=ACTING_ROLES,
            errors=errors or {},
            typed=typed or {},
            done=done,
        )

    @router.get("/warnings/{warning_id}", response_class=HTMLResponse)
    def warning(request: Request, warning_id: uuid.UUID, done: str = "") -> Response:
        session, _ = console.signed_in(request)
        return detail(request, session, warning_id, done=done if done in ACTIONS else "")

    @router.post("/warnings/{warning_id}/{action}")
    async def act(request: Request, warning_id: uuid.UUID, action: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        if action not in ACTIONS:
            raise Problem(404, "not_found", "no such action")
        path, body_of = ACTIONS[action]
        body = body_of(form)
        try:
            console.call(session, "POST", f"{url}/{warning_id}/{path}", json=body, idempotent=True)
        except ApiRefused as refused:
            if refused.status == 403 and refused.problem.get("code") not in FORM_REFUSALS:
                raise
            message = "; ".join(dict.fromkeys(field_errors(refused.problem).values()))
            return detail(
                request,
                session,
                warning_id,
                status=refused.status,
                errors={action: message},
                typed={k: str(v) for k, v in body.items()},
            )
        return RedirectResponse(f"/warnings/{warning_id}?done={action}", status_code=303)

    return router

"""User administration (HQ admin): the users with their role, scope and state; creating a
user; resetting a password; changing the role and scope; disabling (with the reason) and
enabling; each user's history of changes (who, when); the user's API keys, issued (the key
shown on that answer's page only, never again) and revoked.

Identity decides who may (HQ admin only): anyone else gets its 403, which is the 403 page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, field_errors
from runtime.http.console_session import ConsoleSession
from runtime.http.problems import Problem

# The roles of API.md, offered by the forms (identity says which scope each needs).
ROLES = (
    "hq_admin",
    "hq_viewer",
    "credit_controller",
    "branch_manager",
    "branch_clerk",
    "region_manager",
    "warehouse_clerk",
    "dealer",
    "erp",
)
SCOPES = ("branch", "warehouse", "dealer", "region")
# identity tells its shapes of user apart by the scope a role needs: a schema error's path
# names that shape first (``body.branch.username``), which is no field of the form.
SHAPES = ("headquarters", "branch", "warehouse", "dealer", "region")
# A refusal about a field the form filled in is shown by that field (an unknown branch is a
# 404 from identity, but a typing error here, not a missing page).
USER_RULES = {
    "user_already_exists": "username",
    "weak_password": "password",
    "unknown_branch": "branch",
    "unknown_region": "region",
    "branch_not_in_region": "branches",
}


def is_about_the_form(refused: ApiRefused) -> bool:
    return refused.status != 403 and (
        refused.status != 404 or refused.problem.get("code") in USER_RULES
    )


CHANGES = {"password": "password", "role": "role", "disable": "disable", "enable": "enable"}


def user_form_errors(problem: dict[str, Any], role: str | None = None) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in field_errors(problem, rules=USER_RULES).items():
        parts = name.split(".")
        if len(parts) > 1 and parts[0] in SHAPES:
            parts = parts[1:]
        if parts[0] == "branches" or (role == "region_manager" and parts == ["branch"]):
            # One field holds a region manager's branches: its error, whichever was wrong.
            parts = ["branches"]
        errors.setdefault(".".join(parts), message)
    return errors


# A region manager's branches as typed: "CD, CQ", "CD CQ" or "CD、CQ".
BRANCH_SEPARATORS = re.compile(r"[\s,，、;；]+")


def role_and_scope(form) -> dict[str, Any]:
    """The role and the scope fields the form filled in (identity refuses what the role
    does not take, and asks for what it needs)."""
    chosen: dict[str, Any] = {"role": str(form.get("role", "")).strip()}
    for scope in SCOPES:
        value = str(form.get(scope, "")).strip()
        if value:
            chosen[scope] = value
    branches = [b for b in BRANCH_SEPARATORS.split(str(form.get("branches", ""))) if b]
    if branches:
        chosen["branches"] = branches
    return chosen


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    identity = console.urls.identity

    def users_page(
        request: Request,
        session: ConsoleSession,
        *,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        users = console.call(session, "GET", f"{identity}/users")["users"]
        return console.page(
            request,
            "users.html",
            status_code,
            session,
            users=users,
            roles=ROLES,
            form=form or {},
            errors=errors or {},
        )

    def user_page(
        request: Request,
        session: ConsoleSession,
        username: str,
        *,
        done: str = "",
        issued: dict | None = None,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        path = f"{identity}/users/{quote(username)}"
        user = console.call(session, "GET", path)
        history = console.call(session, "GET", f"{path}/history")["changes"]
        keys = [
            key
            for key in console.call(session, "GET", f"{identity}/api-keys")["api_keys"]
            if key["username"] == username
        ]
        return console.page(
            request,
            "user.html",
            status_code,
            session,
            user=user,
            history=list(reversed(history)),
            keys=keys,
            roles=ROLES,
            done=done,
            issued=issued,
            form=form or {},
            errors=errors or {},
        )

    @router.get("/users", response_class=HTMLResponse)
    def users(request: Request) -> Response:
        session, _ = console.signed_in(request)
        return users_page(request, session)

    @router.post("/users")
    async def create_user(request: Request) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        body: dict[str, Any] = {
            "username": str(form.get("username", "")).strip(),
            "name": str(form.get("name", "")).strip(),
            **role_and_scope(form),
        }
        password = str(form.get("password", ""))
        if password:
            body["password"] = password
        try:
            created = console.call(session, "POST", f"{identity}/users", json=body, idempotent=True)
        except ApiRefused as refused:
            if not is_about_the_form(refused):
                raise
            typed = {k: v for k, v in body.items() if k != "password"}
            errors = user_form_errors(refused.problem, body.get("role"))
            return users_page(
                request, session, form=typed, errors=errors, status_code=refused.status
            )
        return _to_user(created["username"], "created")

    @router.get("/users/{username}", response_class=HTMLResponse)
    def user(request: Request, username: str, done: str = "") -> Response:
        session, _ = console.signed_in(request)
        return user_page(request, session, username, done=done)

    @router.post("/users/{username}/api-keys")
    async def issue_key(request: Request, username: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        body = {"username": username, "label": str(form.get("label", "")).strip()}
        try:
            issued = console.call(
                session, "POST", f"{identity}/api-keys", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status in (403, 404):
                raise
            return user_page(
                request,
                session,
                username,
                form=body,
                errors=user_form_errors(refused.problem, body.get("role")),
                status_code=refused.status,
            )
        # The key is on this answer's page only: not in a redirect, a cookie or a log.
        return user_page(request, session, username, issued=issued, status_code=201)

    @router.post("/users/{username}/api-keys/{key_id}/revoke")
    async def revoke_key(request: Request, username: str, key_id: str) -> Response:
        session, _ = console.signed_in(request)
        await console.form(request, session)
        console.call(
            session,
            "POST",
            f"{identity}/api-keys/{quote(key_id)}/revocation",
            json={},
            idempotent=True,
        )
        return _to_user(username, "revoked")

    @router.post("/users/{username}/{change}")
    async def change_user(request: Request, username: str, change: str) -> Response:
        session, _ = console.signed_in(request)
        form = await console.form(request, session)
        if change not in CHANGES:
            raise Problem(404, "not_found", "no such change")
        bodies = {
            "password": lambda: {"password": str(form.get("password", ""))},
            "role": lambda: role_and_scope(form),
            "disable": lambda: {"reason": str(form.get("reason", "")).strip()},
            "enable": dict,
        }
        body = bodies[change]()
        try:
            console.call(
                session,
                "POST",
                f"{identity}/users/{quote(username)}/{CHANGES[change]}",
                json=body,
                idempotent=True,
            )
        except ApiRefused as refused:
            if not is_about_the_form(refused):
                raise
            typed = {k: v for k, v in body.items() if k != "password"}
            return user_page(
                request,
                session,
                username,
                form={"change": change, **typed},
                errors=user_form_errors(refused.problem, body.get("role")),
                status_code=refused.status,
            )
        return _to_user(username, change)

    return router


def _to_user(username: str, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"/users/{quote(username)}?{urlencode({'done': done})}", status_code=303
    )

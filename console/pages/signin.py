"""Signing in and out: identity checks the password and answers a signed session token,
which stays in the console; the browser gets only an opaque session id."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import Console, Who
from runtime.http.console_session import behind_tls, clear_session_cookie, set_session_cookie


def routes(console: Console) -> APIRouter:
    router = APIRouter()

    @router.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request) -> Response:
        return console.page(request, "signin.html")

    @router.post("/signin")
    def signin(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        answer = console.client.post(
            f"{console.urls.identity}/sessions", json={"username": username, "password": password}
        )
        if answer.status_code != 201:
            locked = answer.status_code == 429
            status = 429 if locked else 401
            return console.page(
                request, "signin.html", status, username=username, failed=True, locked=locked
            )
        body = answer.json()
        expires = datetime.fromisoformat(body["expires_at"]).timestamp()
        session = console.sessions.open(username=username, token=body["token"], expires_at=expires)
        who = Who(
            body["username"],
            body["name"],
            body["role"],
            body["branch"],
            body["dealer"],
            warehouse=body.get("warehouse"),
            region=body.get("region"),
            region_branches=tuple(body.get("region_branches") or ()),
        )
        if who.warehouse:  # its lists are under its warehouse's branch: inventory knows which
            warehouse = console.call(
                session, "GET", f"{console.urls.inventory}/warehouses/{who.warehouse}"
            )
            who = replace(who, warehouse_branch=warehouse["branch"])
        console.remember(session, who)
        response = RedirectResponse(who.home, status_code=303)
        set_session_cookie(response, session, secure=behind_tls(request))
        return response

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        session, _ = console.signed_in(request)
        await console.form(request, session)
        console.forget(session)
        response = RedirectResponse("/signin", status_code=303)
        clear_session_cookie(response, secure=behind_tls(request))
        return response

    @router.get("/")
    def home(request: Request) -> Response:
        _, who = console.signed_in(request)
        return RedirectResponse(who.home, status_code=303)

    return router

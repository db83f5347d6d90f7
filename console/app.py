"""The console process: FastAPI + Jinja2 pages over the platform's HTTP APIs.

Every call to the platform carries the signed-in user's session token as the bearer, so the
console shows and does exactly what the user's role and scope may through the API; it never
decides scope itself (a 403 from the API becomes the 403 page, with no data). The pages live
in console/pages/, one module per area; what they share is console/web.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console import assets
from console.i18n import (
    china_time,
    figure_name,
    health_reason,
    percent,
    warning_reason,
    yuan,
)
from console.pages import (
    dashboard,
    dealers,
    money,
    orders,
    plans,
    rebates,
    reports,
    returns,
    shipments,
    signin,
    users,
    warehouse,
    warnings,
)
from console.refusals import refusal_text
from console.web import LANGUAGE, ApiRefused, Console, SignedOut, Urls
from runtime.http.problems import Problem
from runtime.process import Process
from runtime.settings import Settings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PAGES = (
    signin,
    dashboard,
    orders,
    dealers,
    shipments,
    money,
    returns,
    warehouse,
    rebates,
    plans,
    reports,
    users,
    warnings,
)
# Every asset is the console's own (no CDN, no inline script): the pages say so to the browser.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def build(settings: Settings, *, urls: Urls | None = None) -> Process:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["yuan"] = yuan
    templates.env.filters["china_time"] = china_time
    templates.env.filters["percent"] = percent
    templates.env.filters["refusal"] = refusal_text  # {{ problem | refusal(lang) }}
    templates.env.filters["health_reason"] = health_reason
    templates.env.filters["figure_name"] = figure_name
    templates.env.filters["warning_reason"] = warning_reason
    console = Console(
        urls=urls or Urls.of(settings),
        secret=settings.session_signing_secret(),
        client=httpx.Client(timeout=settings.database_timeout_s + 10),
        templates=templates,
    )
    try:
        assets.install()
    except (OSError, assets.IntegrityMismatch) as error:
        # The pages still work (every chart's figures are in its table); only the charts
        # are missing until `python -m console.assets` succeeds.
        log.warning("console assets are not installed: %s", error)

    app = FastAPI(title="Console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        LANGUAGE.set(console.language(request))  # what refusals are said in
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path != "/static" and not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _: SignedOut) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(ApiRefused)
    async def _refused(request: Request, error: ApiRefused) -> Response:
        session = console.sessions.current(request)
        template = "forbidden.html" if error.status in (403, 404) else "error.html"
        return console.page(request, template, error.status, session, problem=error.problem)

    @app.exception_handler(Problem)
    async def _problem_page(request: Request, error: Problem) -> Response:
        session = console.sessions.current(request)
        problem = {"code": error.code, "detail": error.detail}
        return console.page(request, "error.html", error.status, session, problem=problem)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict:
        return {"status": "ready"}

    for pages in PAGES:
        app.include_router(pages.routes(console))
    return Process(name="console", api=app, on_close=[console.client.close, console.pool.shutdown])

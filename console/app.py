"""The console process: FastAPI + Jinja2 pages over the platform's HTTP APIs.

Every call to the platform carries the signed-in user's session token as the bearer, so the
console shows and does exactly what the user's role and scope may through the API; it never
decides scope itself (a 403 from the API becomes the 403 page, with no data).
"""

from __future__ import annotations

import calendar
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console import assets
from console.i18n import DEFAULT_LANGUAGE, LANGUAGES, china_time, percent, translator, yuan
from runtime.http.console_session import (
    ConsoleSession,
    ConsoleSessions,
    behind_tls,
    check_csrf,
    clear_session_cookie,
    csrf_token,
    set_session_cookie,
)
from runtime.http.problems import Problem
from runtime.process import Process
from runtime.settings import Settings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
LANG_COOKIE = "dist_lang"
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
# Every asset is the console's own (no CDN, no inline script): the pages say so to the browser.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
AGING_BUCKETS = ("not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90")
COLOURS = ("green", "yellow", "red")
STATEMENT_MONEY = (
    "credit_limit",
    "invoiced",
    "received",
    "credited",
    "rebate_credited",
    "receivables",
    "reserved",
    "exposure",
)


@dataclass(frozen=True)
class Who:
    username: str
    name: str
    role: str
    branch: str | None
    dealer: str | None

    @property
    def home(self) -> str:
        if self.role == "dealer":
            return f"/dealers/{self.dealer}/statement"
        if self.branch:
            return "/orders"
        return "/hq"

    @property
    def lists_prefix(self) -> str:
        if self.dealer:
            return f"/dealers/{self.dealer}"
        if self.branch:
            return f"/branches/{self.branch}"
        return "/hq"


class SignedOut(Exception):
    pass


class ApiRefused(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", ""))
        self.status = status
        self.problem = problem


@dataclass(frozen=True)
class Urls:
    query: str
    orders: str
    identity: str

    @classmethod
    def of(cls, settings: Settings) -> Urls:
        return cls(
            query=settings.url_of("query"),
            orders=settings.url_of("orders"),
            identity=settings.url_of("identity"),
        )


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def build(settings: Settings, *, urls: Urls | None = None) -> Process:
    urls = urls or Urls.of(settings)
    secret = settings.session_signing_secret()
    sessions = ConsoleSessions()
    who_of: dict[str, Who] = {}
    client = httpx.Client(timeout=settings.database_timeout_s + 10)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["yuan"] = yuan
    templates.env.filters["china_time"] = china_time
    templates.env.filters["percent"] = percent
    try:
        assets.install()
    except (OSError, assets.IntegrityMismatch) as error:
        # The pages still work (every chart's figures are in its table); only the charts
        # are missing until `python -m console.assets` succeeds.
        log.warning("console assets are not installed: %s", error)

    app = FastAPI(title="Console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def language(request: Request) -> str:
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE

    def page(
        request: Request,
        template: str,
        status_code: int = 200,
        session: ConsoleSession | None = None,
        **context: Any,
    ) -> HTMLResponse:
        lang = language(request)
        response = templates.TemplateResponse(
            request,
            template,
            {
                "t": translator(lang),
                "lang": lang,
                "other_lang": "en" if lang == "zh" else "zh",
                "who": who_of.get(session.session_id) if session else None,
                "csrf": csrf_token(session, secret=secret) if session else "",
                **context,
            },
            status_code=status_code,
        )
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", path="/")
        return response

    def signed_in(request: Request) -> tuple[ConsoleSession, Who]:
        session = sessions.current(request)
        if session is None or session.session_id not in who_of:
            raise SignedOut
        return session, who_of[session.session_id]

    def call(
        session: ConsoleSession,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {session.token}"}
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = client.request(method, url, params=params, json=json, headers=headers)
        if response.status_code == 401:
            sessions.close(session.session_id)
            raise SignedOut
        if response.status_code >= 400:
            raise ApiRefused(response.status_code, _problem(response))
        return response.json()

    @app.middleware("http")
    async def _headers(request: Request, call_next):
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
        session = sessions.current(request)
        template = "forbidden.html" if error.status in (403, 404) else "error.html"
        return page(request, template, error.status, session, problem=error.problem)

    @app.exception_handler(Problem)
    async def _problem_page(request: Request, error: Problem) -> Response:
        session = sessions.current(request)
        problem = {"code": error.code, "detail": error.detail}
        return page(request, "error.html", error.status, session, problem=problem)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict:
        return {"status": "ready"}

    @app.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request) -> Response:
        return page(request, "signin.html")

    @app.post("/signin")
    def signin(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        answer = client.post(
            f"{urls.identity}/sessions", json={"username": username, "password": password}
        )
        if answer.status_code != 201:
            return page(request, "signin.html", 401, username=username, failed=True)
        body = answer.json()
        expires = datetime.fromisoformat(body["expires_at"]).timestamp()
        session = sessions.open(username=username, token=body["token"], expires_at=expires)
        who = Who(body["username"], body["name"], body["role"], body["branch"], body["dealer"])
        who_of[session.session_id] = who
        if len(who_of) > sessions.max_sessions:  # forget whom expired or evicted sessions were
            for gone in [sid for sid in who_of if sessions.find(sid) is None]:
                who_of.pop(gone, None)
        response = RedirectResponse(who.home, status_code=303)
        set_session_cookie(response, session, secure=behind_tls(request))
        return response

    @app.post("/signout")
    def signout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        session, _ = signed_in(request)
        check_csrf(request, session, csrf_token, secret=secret)
        sessions.close(session.session_id)
        who_of.pop(session.session_id, None)
        response = RedirectResponse("/signin", status_code=303)
        clear_session_cookie(response, secure=behind_tls(request))
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        _, who = signed_in(request)
        return RedirectResponse(who.home, status_code=303)

    def every_page(session: ConsoleSession, url: str, params: dict) -> list[dict]:
        rows: list[dict] = []
        cursor = None
        while True:
            answer = call(session, "GET", url, params={**params, "limit": 200, "cursor": cursor})
            rows.extend(answer["items"])
            cursor = answer.get("next_cursor")
            if not cursor:
                return rows

    @app.get("/hq", response_class=HTMLResponse)
    def dashboard(
        request: Request, region: str = "", branch: str = "", month: str = "", as_of: str = ""
    ) -> Response:
        session, _ = signed_in(request)
        scope = {"region": region, "branch": branch}
        sales_params = {"by": "region", "period": "month", **scope}
        if month:
            year, number = (int(part) for part in month.split("-"))
            last = calendar.monthrange(year, number)[1]
            sales_params.update(date_from=f"{month}-01", date_to=f"{month}-{last:02d}")
        sales = every_page(session, f"{urls.query}/hq/sales", sales_params)
        for row in sales:
            row["month"] = str(row["period_start"])[:7]
        months = sorted({r["month"] for r in sales})
        regions = sorted({str(r["key"]) for r in sales})
        figures = {(r["month"], str(r["key"])): r["net_sales"] for r in sales}
        sales_chart = chart(
            "bar",
            months,
            {reg: [figures.get((m, reg), "0.00") for m in months] for reg in regions},
        )
        dated = {**scope, "as_of": as_of}
        aging = every_page(session, f"{urls.query}/hq/receivables/aging", {"by": "region", **dated})
        aging_chart = chart(
            "bar",
            [r["region"] for r in aging],
            {bucket: [r[bucket] for r in aging] for bucket in AGING_BUCKETS},
            stacked=True,
        )
        counts = call(
            session,
            "GET",
            f"{urls.query}/hq/channel-health/counts",
            params={"by": "branch", **dated},
        )["items"]
        health_chart = chart(
            "bar",
            [r["branch"] for r in counts],
            {colour: [r[colour] for r in counts] for colour in COLOURS},
            stacked=True,
        )
        red = every_page(session, f"{urls.query}/hq/channel-health", {"colour": "red", **dated})
        return page(
            request,
            "dashboard.html",
            session=session,
            sales=sales,
            aging=aging,
            counts=counts,
            red=red,
            buckets=AGING_BUCKETS,
            colours=COLOURS,
            charts={"sales": sales_chart, "aging": aging_chart, "health": health_chart},
            filters={"region": region, "branch": branch, "month": month, "as_of": as_of},
        )

    def orders_page(
        request: Request,
        session: ConsoleSession,
        who: Who,
        *,
        status: str,
        cursor: str,
        min_position: str,
        status_code: int = 200,
        **extra: Any,
    ) -> Response:
        listing = call(
            session,
            "GET",
            f"{urls.query}{who.lists_prefix}/orders",
            params={"status": status, "cursor": cursor, "min_position": min_position},
        )
        return page(
            request,
            "orders.html",
            status_code,
            session,
            listing=listing,
            status=status,
            statuses=ORDER_STATUSES,
            queue=QUEUE_STATUSES,
            **extra,
        )

    @app.get("/orders", response_class=HTMLResponse)
    def orders(
        request: Request,
        status: str = "",
        cursor: str = "",
        min_position: str = "",
        placed: str = "",
    ) -> Response:
        session, who = signed_in(request)
        return orders_page(
            request,
            session,
            who,
            status=status,
            cursor=cursor,
            min_position=min_position,
            placed=placed,
        )

    @app.get("/orders/queue", response_class=HTMLResponse)
    def queue(request: Request) -> Response:
        """What awaits a decision: orders on credit hold and orders placed but not approved
        (above the approval threshold), oldest decisions first to hand."""
        session, who = signed_in(request)
        items: list[dict] = []
        for status in QUEUE_STATUSES:
            items += every_page(
                session, f"{urls.query}{who.lists_prefix}/orders", {"status": status}
            )
        listing = {"items": items, "total": len(items), "next_cursor": None}
        return page(
            request,
            "orders.html",
            session=session,
            listing=listing,
            status="",
            statuses=ORDER_STATUSES,
            queue=QUEUE_STATUSES,
            heading="queue",
        )

    @app.get("/orders/new", response_class=HTMLResponse)
    def order_form(request: Request) -> Response:
        session, who = signed_in(request)
        return page(request, "order_form.html", session=session, form={"dealer": who.dealer})

    @app.post("/orders")
    async def place_order(request: Request) -> Response:
        session, _ = signed_in(request)
        form = await request.form()
        check_csrf(request, session, str(form.get("csrf_token", "")), secret=secret)
        skus = form.getlist("sku")
        quantities = form.getlist("quantity")
        lines = []
        for sku, quantity in zip(skus, quantities, strict=False):
            if str(sku).strip():
                text = str(quantity).strip()
                lines.append(
                    {
                        "sku": str(sku).strip(),
                        "quantity": int(text) if text.lstrip("-").isdigit() else text,
                    }
                )
        body = {"dealer_code": str(form.get("dealer_code", "")).strip(), "lines": lines}
        try:
            placed = call(session, "POST", f"{urls.orders}/orders", json=body, idempotent=True)
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return page(
                request,
                "order_form.html",
                refused.status,
                session,
                form={"dealer": body["dealer_code"], "lines": lines},
                errors=field_errors(refused.problem),
                problem=refused.problem,
            )
        query = urlencode(
            {"min_position": placed.get("position") or "", "placed": placed["order_id"]}
        )
        return RedirectResponse(f"/orders?{query}", status_code=303)

    @app.post("/orders/{order_id}/{decision}")
    async def decide(request: Request, order_id: uuid.UUID, decision: str) -> Response:
        session, _ = signed_in(request)
        form = await request.form()
        check_csrf(request, session, str(form.get("csrf_token", "")), secret=secret)
        paths = {"approve": "approval", "reject": "rejection", "cancel": "cancellation"}
        if decision not in paths:
            raise Problem(404, "not_found", "no such action")
        body = None if decision == "approve" else {"reason": str(form.get("reason") or "")}
        decided = call(
            session,
            "POST",
            f"{urls.orders}/orders/{order_id}/{paths[decision]}",
            json=body,
            idempotent=True,
        )
        return RedirectResponse(
            f"/orders?min_position={decided.get('position', '')}", status_code=303
        )

    @app.get("/dealers/{dealer}/statement", response_class=HTMLResponse)
    def statement(request: Request, dealer: str, as_of: str = "") -> Response:
        session, _ = signed_in(request)
        answer = call(
            session, "GET", f"{urls.query}/dealers/{dealer}/statement", params={"as_of": as_of}
        )
        return page(
            request,
            "statement.html",
            session=session,
            dealer=dealer,
            s=answer,
            money_fields=STATEMENT_MONEY,
        )

    return Process(name="console", api=app, on_close=[client.close])


def chart(kind: str, categories: list, series: dict[str, list], *, stacked: bool = False):
    """What a page's script hands ECharts: the same figures as the table beside it (money as
    the API's decimal strings; the script draws them, the tables show them exactly)."""
    return {
        "kind": kind,
        "stacked": stacked,
        "categories": categories,
        "series": [{"name": name, "data": [str(v) for v in data]} for name, data in series.items()],
    }


def field_errors(problem: dict[str, Any]) -> dict[str, str]:
    """The API's problem+json as messages per form field: a schema error names its path
    (``body.lines.0.quantity``), a rule names what it is about by its code."""
    errors: dict[str, str] = {}
    for item in problem.get("errors") or []:
        path = str(item.get("path", "")).split(".")
        field = "dealer_code" if "dealer_code" in path else path[-1] if path else ""
        if "lines" in path:
            index = path[path.index("lines") + 1] if len(path) > path.index("lines") + 1 else "0"
            field = f"lines.{index}.{path[-1]}" if path[-1] in ("sku", "quantity") else "lines"
        errors.setdefault(field, item.get("message", ""))
    code = problem.get("code", "")
    if code == "unknown_dealer":
        errors.setdefault("dealer_code", problem.get("detail", code))
    elif code == "unknown_sku":
        errors.setdefault("lines", problem.get("detail", code))
    if not errors:
        errors["form"] = problem.get("detail", code)
    return errors

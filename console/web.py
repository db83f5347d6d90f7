"""What every console page shares: the signed-in user, calls to the platform's APIs with the
user's token, and rendering a template in the user's language.

The pages (console/pages/) are thin: each asks the APIs, hands the answer to its template,
and turns a command's problem+json into errors by the field. The APIs decide scope; the
console never does (a 403 from an API becomes the 403 page, with no data)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from console.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from console.refusals import refusal_text, schema_error_text
from runtime.http.console_session import ConsoleSession, ConsoleSessions, check_csrf, csrf_token
from runtime.settings import Settings

LANG_COOKIE = "dist_lang"
# The language of the request being answered (set by the console's middleware): the
# language a refusal's messages are said in. Outside a request, the API's own words.
LANGUAGE: ContextVar[str] = ContextVar("console_language", default="en")
T = TypeVar("T")
# The nav's bell (open warnings in the user's scope) waits at most this long for its count,
# then the page shows without it: a slow or stopped warnings process never slows a page.
BELL_TIMEOUT_S = 0.3


@dataclass(frozen=True)
class Who:
    username: str
    name: str
    role: str
    branch: str | None
    dealer: str | None
    warehouse: str | None = None
    # The branch the warehouse clerk's warehouse belongs to (inventory's answer at sign-in).
    warehouse_branch: str | None = None
    # A region manager's region: it works its branches' warnings (docs/users.md), and reads
    # each of its branches' dashboards.
    region: str | None = None
    region_branches: tuple[str, ...] = ()

    @property
    def home(self) -> str:
        if self.role == "dealer":
            return f"/dealers/{self.dealer}/statement"
        if self.region:
            return "/warnings"
        if self.warehouse:
            return "/warehouse"
        if self.branch:
            return "/orders"
        return "/hq"

    @property
    def lists_prefix(self) -> str:
        """Where the query API keeps this user's lists: its dealer's, its warehouse's, its
        branch's, or HQ's."""
        if self.dealer:
            return f"/dealers/{self.dealer}"
        if self.warehouse:
            return f"/branches/{self.warehouse_branch}/warehouses/{self.warehouse}"
        if self.branch:
            return f"/branches/{self.branch}"
        return "/hq"


@dataclass(frozen=True)
class ListParams:
    """What a list page is asked (as a FastAPI dependency: its query parameters): a status
    filter, the next page's cursor, the position of a command just done and what it did."""

    status: str = ""
    cursor: str = ""
    min_position: str = ""
    done: str = ""


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
    inventory: str
    finance: str
    identity: str
    warnings: str

    @classmethod
    def of(cls, settings: Settings) -> Urls:
        return cls(
            query=settings.url_of("query"),
            orders=settings.url_of("orders"),
            inventory=settings.url_of("inventory"),
            finance=settings.url_of("finance"),
            identity=settings.url_of("identity"),
            warnings=settings.url_of("warnings"),
        )


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


@dataclass
class Console:
    urls: Urls
    secret: bytes
    client: httpx.Client
    templates: Jinja2Templates
    sessions: ConsoleSessions = field(default_factory=ConsoleSessions)
    # Who each open session's user is, as identity answered at sign-in.
    who_of: dict[str, Who] = field(default_factory=dict)
    # Threads for calls made side by side (at_once); shut down with the process.
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="console")
    )

    def language(self, request: Request) -> str:
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE

    def page(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        session: ConsoleSession | None = None,
        **context: Any,
    ) -> HTMLResponse:
        lang = self.language(request)
        who = self.who_of.get(session.session_id) if session else None
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "t": translator(lang),
                "lang": lang,
                "other_lang": "en" if lang == "zh" else "zh",
                "who": who,
                "csrf": csrf_token(session, secret=self.secret) if session else "",
                "bell": self.open_warnings(session, who) if session and who else None,
                **context,
            },
            status_code=status_code,
        )
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="lax", path="/")
        return response

    def open_warnings(self, session: ConsoleSession, who: Who) -> int | None:
        """The bell's figure: open warnings in the user's scope (the counts API, one small
        call), or None when the user is not told of warnings (dealers, warehouses) or the
        count does not come in time: the page is shown without it."""
        if who.dealer or who.warehouse:
            return None
        try:
            response = self.client.get(
                f"{self.urls.warnings}/warnings/counts",
                headers={"Authorization": f"Bearer {session.token}"},
                timeout=BELL_TIMEOUT_S,
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            total = response.json().get("total")
        except (ValueError, AttributeError):
            return None
        return total if isinstance(total, int) else None

    def signed_in(self, request: Request) -> tuple[ConsoleSession, Who]:
        session = self.sessions.current(request)
        if session is None or session.session_id not in self.who_of:
            raise SignedOut
        return session, self.who_of[session.session_id]

    def remember(self, session: ConsoleSession, who: Who) -> None:
        self.who_of[session.session_id] = who
        if len(self.who_of) > self.sessions.max_sessions:
            # Forget whom expired or evicted sessions were (bounded like the session store).
            for gone in [sid for sid in self.who_of if self.sessions.find(sid) is None]:
                self.who_of.pop(gone, None)

    def forget(self, session: ConsoleSession) -> None:
        self.sessions.close(session.session_id)
        self.who_of.pop(session.session_id, None)

    async def form(self, request: Request, session: ConsoleSession) -> FormData:
        """A posted form, refused (403) unless it carries the session's CSRF token."""
        form = await request.form()
        check_csrf(request, session, str(form.get("csrf_token", "")), secret=self.secret)
        return form

    def call(
        self, session: ConsoleSession, method: str, url: str, **options: Any
    ) -> dict[str, Any]:
        """One API call as the user (``params``, ``json``, ``idempotent`` as :meth:`fetch`
        takes them), its JSON answer."""
        response = self.fetch(session, method, url, **options)
        return response.json() if response.content else {}

    def fetch(
        self,
        session: ConsoleSession,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        """One API call as the user, its answer as it came (a file to pass on). A 401 signs
        the user out (a disabled user, a reset password); any other refusal is raised with
        its problem+json."""
        headers = {"Authorization": f"Bearer {session.token}"}
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = self.client.request(method, url, params=params, json=json, headers=headers)
        if response.status_code == 401:
            self.forget(session)
            raise SignedOut
        if response.status_code >= 400:
            raise ApiRefused(response.status_code, _problem(response))
        return response

    def list_page(
        self, request: Request, template: str, name: str, *, params: ListParams | dict, **context
    ) -> HTMLResponse:
        """A page of one of the query API's lists, the user's (its dealer's, warehouse's,
        branch's or HQ's), read at ``min_position`` when a command just ran; ``done`` marks
        the row of what it did."""
        session, who = self.signed_in(request)
        params = asdict(params) if isinstance(params, ListParams) else params
        shown = {k: v for k, v in params.items() if k != "done"}
        listing = self.call(
            session, "GET", f"{self.urls.query}{who.lists_prefix}/{name}", params=shown
        )
        return self.page(
            request,
            template,
            session=session,
            listing=listing,
            status=params.get("status", ""),
            done=params.get("done", ""),
            min_position=params.get("min_position", ""),
            **context,
        )

    def at_once(self, calls: dict[str, Callable[[], T]]) -> dict[str, T]:
        """Several API calls side by side (a dashboard's panels), each answer by its name;
        a refusal of any is raised as if the calls had been made one by one."""
        futures = {name: self.pool.submit(call) for name, call in calls.items()}
        return {name: future.result() for name, future in futures.items()}

    def every_page(self, session: ConsoleSession, url: str, params: dict) -> list[dict]:
        """Every row of a paginated list (for a chart's figures, which are few)."""
        rows: list[dict] = []
        cursor = None
        while True:
            answer = self.call(
                session, "GET", url, params={**params, "limit": 200, "cursor": cursor}
            )
            rows.extend(answer["items"])
            cursor = answer.get("next_cursor")
            if not cursor:
                return rows


def chart(
    kind: str,
    categories: list,
    series: dict[str, list],
    *,
    stacked: bool = False,
    labels: dict[str, str] | None = None,
):
    """What a page's script hands ECharts: the same figures as the table beside it (money as
    the API's decimal strings; the script draws them, the tables show them exactly). Each
    series keeps its key (the API's field, a colour) and shows its label."""
    return {
        "kind": kind,
        "stacked": stacked,
        "categories": categories,
        "series": [
            {"key": key, "name": (labels or {}).get(key, key), "data": [str(v) for v in data]}
            for key, data in series.items()
        ],
    }


def field_errors(problem: dict[str, Any], *, rules: dict[str, str] | None = None) -> dict[str, str]:
    """The API's problem+json as messages per form field, in the request's language
    (console/refusals.py): a schema error names its path (``body.lines.0.quantity`` becomes
    ``lines.0.quantity``), a rule names what it is about by its code (``rules`` maps a code
    to the field it concerns). What names no field is the form's."""
    lang = LANGUAGE.get()
    errors: dict[str, str] = {}
    for item in problem.get("errors") or []:
        path = [part for part in str(item.get("path", "")).split(".") if part]
        if path and path[0] in ("body", "query", "path"):
            path = path[1:]
        errors.setdefault(".".join(path) or "form", schema_error_text(item, lang))
    field_of_rule = (rules or {}).get(problem.get("code", ""))
    if field_of_rule:
        errors.setdefault(field_of_rule, refusal_text(problem, lang))
    if not errors:
        errors["form"] = refusal_text(problem, lang)
    return errors


def form_text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def typed_count(text: str) -> int | str:
    """A quantity typed in a form: a whole number as such, anything else as typed (the API
    answers what is wrong with it, by the field)."""
    return int(text) if text.lstrip("-").isdigit() else text


def form_lines(form: FormData, *names: str) -> list[dict[str, Any]]:
    """The lines of a form (repeated fields: ``sku``, ``quantity`` by default), those with a
    SKU; every field but the SKU a count."""
    names = names or ("sku", "quantity")
    columns = [form.getlist(name) for name in names]
    lines = []
    for values in zip(*columns, strict=False):
        sku = str(values[0]).strip()
        if sku:
            counts = {
                n: typed_count(str(v).strip()) for n, v in zip(names[1:], values[1:], strict=True)
            }
            lines.append({names[0]: sku, **counts})
    return lines


def just_done(position: str | None, **shown: str) -> str:
    """The query of the page after a command: the command's position as ``min_position``
    (the list shows what was just done) and what to mark in it."""
    return urlencode({"min_position": position or "", **shown})


def errors_by_line(problem: dict[str, Any], *, rules: dict[str, str]) -> dict[str, str]:
    """Errors of a form with line rows: a line's SKU or quantity by that line, anything else
    about the lines above them."""
    errors: dict[str, str] = {}
    for name, message in field_errors(problem, rules=rules).items():
        parts = name.split(".")
        if parts[0] == "lines" and not (len(parts) == 3 and parts[2] in ("sku", "quantity")):
            name = "lines"
        errors.setdefault(name, message)
    return errors

"""Errors as application/problem+json with a machine-readable ``code``.

The mapping from error class to status is explicit and lives here only: domain NotFound ->
404, RuleViolation -> 409, OutsideScope -> 403, schema errors -> 422 with field paths, a
request-wide check that no schema states (a model validator of the body) -> 409, the
database unreachable (whichever driver noticed) -> 503 ``database_unavailable``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import eventsourcing.persistence
import psycopg2
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime.deadline import DatabaseUnavailable
from runtime.http.schemas import PATTERN_NAMES, READABLE_PATTERNS
from services.kernel.errors import DomainError, NotFound, OutsideScope, RuleViolation

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answered as problem+json by the edge."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra


def problem_body(problem: Problem) -> dict[str, Any]:
    return {
        "type": f"https://docs.dist.example/problems/{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        **problem.extra,
    }


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem_body(problem), problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


# What the event store (eventsourcing, psycopg 3), the read models (SQLAlchemy, psycopg2) and
# the request deadline raise when the database cannot be reached, or cannot answer in time
# (a statement or lock timeout). Integrity and programming errors stay 500: they are bugs.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
)


def database_unavailable(timeout_s: float) -> Problem:
    return Problem(
        503,
        "database_unavailable",
        f"the database did not answer within {timeout_s:g} s; nothing of this request is "
        "being written any more. Retry with the same Idempotency-Key: should the database "
        "have committed it as the connection broke, the retry answers the first answer",
        headers={"Retry-After": str(max(1, math.ceil(timeout_s / 2)))},
    )


def status_of(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, OutsideScope):
        return 403
    if isinstance(error, RuleViolation):
        return 409
    raise TypeError(f"no status mapped for {type(error).__name__}")


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, error: Problem) -> JSONResponse:
        return problem_response(error)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        return problem_response(Problem(status_of(error), error.code, error.detail, **error.extra))

    async def _database(request: Request, _: Exception) -> JSONResponse:
        settings = getattr(request.app.state, "settings", None)
        return problem_response(database_unavailable(getattr(settings, "database_timeout_s", 5)))

    for error_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_class, _database)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        rules = [item for item in error.errors() if _is_rule(item)]
        if rules and len(rules) == len(error.errors()):
            detail = "; ".join(str(item.get("ctx", {}).get("error", item["msg"])) for item in rules)
            return problem_response(Problem(409, "request_rule_violated", detail))
        errors = [
            {
                "path": ".".join(str(part) for part in item["loc"]),
                "message": _message(item),
                "type": item["type"],
                **_figures(item),
            }
            for item in error.errors()
        ]
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        return problem_response(Problem(422, "invalid_request", detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path with
            # a GET and a POST route allows both.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(
            Problem(error.status_code, code, str(error.detail), headers=headers)
        )


def _is_rule(item: dict[str, Any]) -> bool:
    """A check of the request as a whole (each SKU once, a period's end after its start):
    pydantic runs it only once every field matched the schema, so it is a rule that no
    JSON Schema states, answered like the domain's rules (409), not a schema error (422)."""
    return tuple(item["loc"]) == ("body",) and item["type"] == "value_error"


def allowed_methods(request: Request) -> list[str]:
    """The methods the app's OpenAPI document names for the request's path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        for method, operation in operations.items():
            if _path_matches(template, operation, request.url.path):
                methods.add(method.upper())
    return sorted(methods)


_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


# The figures of a constraint a client may want to say in its own words (`context`).
_CONTEXT_KEYS = (
    "gt",
    "ge",
    "lt",
    "le",
    "min_length",
    "max_length",
    "max_digits",
    "decimal_places",
    "expected",
)


def _figures(item: dict[str, Any]) -> dict[str, Any]:
    """What a schema error adds to its path, message and type: the constraint's figures
    (``context``: ``{"gt": 0}``), and the name of a pattern the platform names (``format``:
    ``month``), so that a client (the console, in Chinese) can say it without parsing."""
    ctx = item.get("ctx") or {}
    found: dict[str, Any] = {}
    context = {
        key: value if isinstance(value, int | float | bool) else str(value)
        for key, value in ctx.items()
        if key in _CONTEXT_KEYS
    }
    if context:
        found["context"] = context
    name = (
        PATTERN_NAMES.get(ctx.get("pattern", ""))
        if item["type"] == "string_pattern_mismatch"
        else None
    )
    if name:
        found["format"] = name
    return found


def _message(item: dict[str, Any]) -> str:
    """Pydantic's message, but a pattern the platform names is said in words."""
    if item["type"] == "string_pattern_mismatch":
        readable = READABLE_PATTERNS.get(item.get("ctx", {}).get("pattern", ""))
        if readable is not None:
            return f"should be {readable}"
    return item["msg"]


def _segment_pattern(schema: dict[str, Any]) -> str:
    if "pattern" in schema:
        return schema["pattern"]
    return _UUID if schema.get("format") == "uuid" else "[^/]+"


def _path_matches(template: str, operation: dict[str, Any], path: str) -> bool:
    """Whether ``path`` is one of the operation's: each parameter of its path template
    matches the parameter's documented pattern or format (a UUID's: so `/orders/quote` is not
    `/orders/{order_id}`), any segment where it has neither."""
    patterns = {
        parameter["name"]: _segment_pattern(parameter.get("schema", {}))
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    }
    regex = "".join(
        f"({patterns.get(part[1:-1], '[^/]+').removeprefix('^').removesuffix('$')})"
        if part.startswith("{")
        else re.escape(part)
        for part in re.split(r"(\{[^}]+\})", template)
    )
    return re.fullmatch(regex, path) is not None

"""The OpenAPI document tells the truth about errors: every status a route can answer besides
its success, each as application/problem+json with the one Problem schema, generated here
for every route of every app (FastAPI alone documents a 422 in its own JSON shape, which the
apps never serve, and nothing else).

Which errors an operation documents follows from what it is: anything can be malformed
(400) or have a URL or headers over the edge's limits (414, 431); what takes parameters or a
body can be invalid (422); what needs a key can be refused (401, 403) and can wait on a
dependency or a read model (503); what names an object can miss it (404); a POST can break a
rule or reuse an Idempotency-Key (409), and its body can be too large (413) or too slow (408).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from runtime.http.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details with a machine-readable `code`",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["credit_limit_exceeded"]},
        "errors": {
            "type": "array",
            "description": "schema errors (422): where and what",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {
                    "path": {"type": "string", "examples": ["body.lines.0.quantity"]},
                    "message": {"type": "string"},
                    "type": {"type": "string", "examples": ["greater_than"]},
                    "context": {
                        "type": "object",
                        "description": 'the constraint\'s figures, e.g. {"gt": 0}',
                    },
                    "format": {
                        "type": "string",
                        "description": "the pattern a text should match, by name",
                        "enum": ["code", "money", "month", "not_blank", "position", "username"],
                    },
                },
            },
        },
    },
    "additionalProperties": True,
}

ERRORS = {
    400: "Malformed HTTP request",
    401: "No API key, or one that is not known (`Authorization: Bearer <api key>`)",
    403: "The caller's role or scope does not allow it",
    404: "An id or code the request names is not known",
    408: "The request body did not arrive in time",
    409: "A business rule or state transition refuses it, or the Idempotency-Key was used "
    "for a different request",
    413: "The request body is over the configured limit",
    414: "The URL (path and query string) is over the configured limit",
    422: "The request does not match this document (field paths in `errors`)",
    431: "The request's headers are over the configured limit",
    503: "A dependency is down, or the read model has not reached `min_position` yet; "
    "retry after `Retry-After` seconds",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# pydantic names a constraint it could not place on a validated type inside an Optional
# (`Count | None = Field(ge=1)`) by its own name; JSON Schema knows it as this.
_CONSTRAINTS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
}


def spell_constraints(node: Any) -> None:
    """Numeric bounds under their JSON Schema names, so that a client or fuzzer reading the
    document knows them; a string's (a ratio's bounds are in its pattern) are dropped."""
    if isinstance(node, dict):
        for name, keyword in _CONSTRAINTS.items():
            if name in node and "type" in node:
                value = node.pop(name)
                if node["type"] in ("integer", "number"):
                    node[keyword] = value
        for child in node.values():
            spell_constraints(child)
    elif isinstance(node, list):
        for child in node:
            spell_constraints(child)


def document_errors(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    spell_constraints(components)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
                    # Optional to FastAPI so that its absence gets its own code
                    # (`idempotency_key_required`), but required of every command.
                    parameter["required"] = True
            responses = operation.setdefault("responses", {})
            for status in errors_of(method, operation):
                response: dict[str, Any] = {
                    "description": ERRORS[status],
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
                if status == 503:
                    response["headers"] = RETRY_AFTER
                responses[str(status)] = response


def errors_of(method: str, operation: dict[str, Any]) -> list[int]:
    parameters = operation.get("parameters", [])
    secured = bool(operation.get("security"))
    post = method.lower() == "post"
    names_an_object = post or any(p["in"] == "path" for p in parameters)
    statuses = [400, 414, 431]  # the edge answers these before any route is chosen
    if parameters or "requestBody" in operation:
        statuses.append(422)
    if secured:
        statuses += [401, 403, 503]
        if names_an_object:
            statuses.append(404)
    if post:
        statuses += [408, 409, 413]
    return sorted(statuses)

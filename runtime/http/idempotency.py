"""Idempotent commands: the same Idempotency-Key with the same body returns the first answer;
with a different body it is refused with 409 ``idempotency_key_reused``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError
from fastapi import Request
from fastapi.responses import JSONResponse

from runtime.eventstore import (
    CommandResult,
    IdempotencyKey,
    IdempotencyKeyConflict,
    ServiceApplication,
)
from runtime.http.auth import Principal
from runtime.http.problems import Problem
from services.kernel.errors import DomainError

MAX_KEY_LENGTH = 200
CONFLICT_ATTEMPTS = 20


async def idempotency_key(
    request: Request, principal: Principal, key: str | None
) -> IdempotencyKey:
    """``key``: the header as validated by the route's parameter (visible ASCII, at most
    MAX_KEY_LENGTH characters), None when absent."""
    if not key:
        raise Problem(
            422,
            "idempotency_key_required",
            "every command needs an Idempotency-Key header",
            errors=[{"path": "header.Idempotency-Key", "message": "Field required"}],
        )
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(request.method.encode() + request.url.path.encode() + canonical)
    return IdempotencyKey(scope=principal.name, key=key, fingerprint=digest.hexdigest())


def position_token(service: str, position: int | None) -> str | None:
    return f"{service}:{position}" if position is not None else None


def _answer(
    service: str, status: int, body: dict[str, Any], position: int | None, replayed: bool
) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(
        {**body, "position": position_token(service, position)}, status, headers=headers
    )


def execute(
    app: ServiceApplication,
    key: IdempotencyKey,
    command: Callable[[IdempotencyKey], CommandResult],
) -> CommandResult:
    """Run the command, storing its answer with its events under the key. A retry either
    fails to store its answer (the key is taken: a concurrent or later retry) or fails a rule
    because the first attempt already happened (e.g. "already registered"); either way it
    answers with the first answer (``replayed``). The common case, a first attempt, costs no
    extra query. Shared by the routes and the bulk import (services/imports)."""
    for _attempt in range(CONFLICT_ATTEMPTS):
        try:
            return command(key)
        except IntegrityError:
            # A concurrent command changed an aggregate this one read (optimistic
            # concurrency): nothing was written, so decide again on fresh state.
            continue
        except (IdempotencyKeyConflict, DomainError):
            stored = app.find_answer(key)
            if stored is None:
                raise
            if stored.fingerprint != key.fingerprint:
                raise Problem(
                    409,
                    "idempotency_key_reused",
                    f"Idempotency-Key {key.key!r} was used for a different request",
                ) from None
            return CommandResult(stored.status_code, stored.body, stored.position, replayed=True)
    raise Problem(
        409,
        "concurrent_update",
        "the records this command changes are being changed by others; try again",
        headers={"Retry-After": "1"},
    )


def run_command(
    app: ServiceApplication,
    key: IdempotencyKey,
    command: Callable[[IdempotencyKey], CommandResult],
) -> JSONResponse:
    """The command's answer (see ``execute``) as the route's response."""
    result = execute(app, key, command)
    return _answer(app.service, result.status_code, result.body, result.position, result.replayed)

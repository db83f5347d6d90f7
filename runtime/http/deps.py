"""Dependencies every API shares, as named aliases. FastAPI's security and header parameters
put the bearer scheme and the Idempotency-Key header in every app's OpenAPI document; the
checks themselves stay ours, so that their errors are problem+json with their own codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from runtime.eventstore import IdempotencyKey
from runtime.http.auth import ApiKeys, Principal, WouldWait
from runtime.http.idempotency import MAX_KEY_LENGTH, idempotency_key

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer <credential>`: a configured API key, an API key "
    "issued by identity (`dk_<key id>_<secret>`, `POST /api-keys`) or a session token "
    "(`POST /sessions`). Each maps to a role and, where the role needs one, a branch, "
    "warehouse or dealer.",
)


async def _principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    # On the event loop when that is immediate (nearly every request): a sync dependency
    # costs each request a hand-over to a worker thread and back. Only what would block
    # (argon2, a replica catching up) goes to one.
    keys: ApiKeys = request.app.state.api_keys
    try:
        return keys.authenticate(request, wait=False)
    except WouldWait:
        return await run_in_threadpool(keys.authenticate, request)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


async def _idempotency(
    request: Request,
    principal: CurrentPrincipal,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=r"^[!-~]+$",
            description="Required of every command: the same key with the same body returns "
            "the first answer; with a different body, 409 `idempotency_key_reused`.",
            examples=["2026-11-23-cd-0001"],
        ),
    ] = None,
) -> IdempotencyKey:
    return await idempotency_key(request, principal, key)


Idempotency = Annotated[IdempotencyKey, Depends(_idempotency)]

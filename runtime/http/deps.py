"""Dependencies every API shares, as named aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from runtime.eventstore import IdempotencyKey
from runtime.http.auth import Principal
from runtime.http.idempotency import idempotency_key


def _principal(request: Request) -> Principal:
    return request.app.state.api_keys.authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


async def _idempotency(request: Request, principal: CurrentPrincipal) -> IdempotencyKey:
    return await idempotency_key(request, principal)


Idempotency = Annotated[IdempotencyKey, Depends(_idempotency)]

"""Routes of the identity API: users, API keys (HQ admin only) and sign-in (anyone with a
user name and password). Routes translate and delegate; rules live in the application and
the aggregates."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from runtime.eventstore import IdempotencyKey, Provenance
from runtime.http.auth import Principal
from runtime.http.credentials import read_session
from runtime.http.deps import CurrentPrincipal
from runtime.http.deps import Idempotency as RequestKey
from runtime.http.idempotency import run_command
from runtime.http.problems import PROBLEM_JSON, Problem
from runtime.settings import Role
from services.identity.api.schemas import (
    ApiKeyCreate,
    ApiKeyIssuedRead,
    ApiKeyList,
    ApiKeyRead,
    PasswordReset,
    RoleChange,
    SessionCreate,
    SessionRead,
    UserCreate,
    UserDisable,
    UserEnable,
    UserHistory,
    UserList,
    Username,
    UserRead,
)
from services.identity.application import (
    CreateUser,
    IdentityApplication,
    InvalidCredentials,
    IssuedKey,
    api_key_view,
    user_view,
    who_view,
)
from services.identity.throttle import SignInThrottle, TooManyAttempts

users = APIRouter(prefix="/users", tags=["users"])
api_keys = APIRouter(prefix="/api-keys", tags=["API keys"])
sessions = APIRouter(prefix="/sessions", tags=["sessions"])

CREATED = {201: {"description": "created"}, 409: {"description": "rule violated"}}
CHANGED = {409: {"description": "rule violated"}}


async def _identity(request: Request) -> IdentityApplication:
    return request.app.state.application


IdentityApp = Annotated[IdentityApplication, Depends(_identity)]


async def _sealed(request: Request, key: RequestKey) -> IdempotencyKey:
    """The client's key with its request's fingerprint keyed by the session secret: a body
    may hold a password, and the stored fingerprint (a fast hash) must not let anyone who
    reads the table test guesses of it."""
    secret = request.app.state.settings.session_signing_secret().encode()
    sealed = hmac.new(secret, key.fingerprint.encode(), hashlib.sha256).hexdigest()
    return IdempotencyKey(scope=key.scope, key=key.key, fingerprint=sealed)


Idempotency = Annotated[IdempotencyKey, Depends(_sealed)]


def _admin(principal: CurrentPrincipal, key: IdempotencyKey | None = None) -> Provenance:
    """User management is headquarters' administrators' alone; the provenance says who."""
    principal.require(Role.HQ_ADMIN)
    return principal.provenance(causation_id=key.key if key else None)


def _admin_reads(principal: Principal) -> None:
    principal.require(Role.HQ_ADMIN)


# -- users -------------------------------------------------------------------------------------
@users.post("", status_code=201, response_model=UserRead, responses=CREATED)
def create_user(
    body: UserCreate, principal: CurrentPrincipal, app: IdentityApp, key: Idempotency
) -> JSONResponse:
    """A user with a role and scope; with a password it may sign in to the console."""
    _admin(principal)
    cmd = CreateUser(username=body.username, grant=body.grant(body.name), password=body.password)
    return run_command(
        app, key, lambda k: app.create_user(cmd, by=_admin(principal, k), idempotency=k)
    )


@users.get("", response_model=UserList)
def list_users(principal: CurrentPrincipal, app: IdentityApp) -> dict:
    _admin_reads(principal)
    return {"users": [user_view(user) for user in app.list_users()]}


@users.get("/{username}", response_model=UserRead)
def get_user(username: Username, principal: CurrentPrincipal, app: IdentityApp) -> dict:
    _admin_reads(principal)
    return user_view(app.get_user(username))


@users.get("/{username}/history", response_model=UserHistory)
def get_user_history(username: Username, principal: CurrentPrincipal, app: IdentityApp) -> dict:
    """Every change to the user, oldest first: created, password reset, role changed,
    disabled (with the reason), enabled; each with when and who made it."""
    _admin_reads(principal)
    return {"username": username, "changes": app.user_history(username)}


@users.post("/{username}/password", response_model=UserRead, responses=CHANGED)
def reset_password(
    username: Username,
    body: PasswordReset,
    principal: CurrentPrincipal,
    app: IdentityApp,
    key: Idempotency,
) -> JSONResponse:
    """A new password; the user's sessions from before it end."""
    _admin(principal)
    return run_command(
        app,
        key,
        lambda k: app.reset_password(
            username, body.password, by=_admin(principal, k), idempotency=k
        ),
    )


@users.post("/{username}/role", response_model=UserRead, responses=CHANGED)
def change_role(
    username: Username,
    body: RoleChange,
    principal: CurrentPrincipal,
    app: IdentityApp,
    key: Idempotency,
) -> JSONResponse:
    """A new role or scope; the user's sessions from before it end, its keys follow it."""
    _admin(principal)
    return run_command(
        app,
        key,
        lambda k: app.change_role(
            username,
            body.grant(app.get_user(username).grant.name),
            by=_admin(principal, k),
            idempotency=k,
        ),
    )


@users.post("/{username}/disable", response_model=UserRead, responses=CHANGED)
def disable_user(
    username: Username,
    body: UserDisable,
    principal: CurrentPrincipal,
    app: IdentityApp,
    key: Idempotency,
) -> JSONResponse:
    """The user may no longer sign in; its sessions and API keys are refused everywhere as
    soon as each service has read the change (a moment)."""
    _admin(principal)
    return run_command(
        app,
        key,
        lambda k: app.disable_user(username, body.reason, by=_admin(principal, k), idempotency=k),
    )


@users.post("/{username}/enable", response_model=UserRead, responses=CHANGED)
def enable_user(
    username: Username,
    body: UserEnable,
    principal: CurrentPrincipal,
    app: IdentityApp,
    key: Idempotency,
) -> JSONResponse:
    _admin(principal)
    return run_command(
        app, key, lambda k: app.enable_user(username, by=_admin(principal, k), idempotency=k)
    )


# -- API keys ----------------------------------------------------------------------------------
@api_keys.post("", status_code=201, response_model=ApiKeyIssuedRead, responses=CREATED)
def issue_api_key(
    body: ApiKeyCreate, principal: CurrentPrincipal, app: IdentityApp, key: Idempotency
) -> JSONResponse:
    """An API key acting as the user, for an integration. The key is in this answer only."""
    _admin(principal)
    issued: list[IssuedKey] = []

    def issue(k: IdempotencyKey):
        issued.append(
            app.issue_api_key(body.username, body.label, by=_admin(principal, k), idempotency=k)
        )
        return issued[-1].result

    response = run_command(app, key, issue)
    if not issued or response.headers.get("Idempotent-Replayed"):
        return response
    answer = json.loads(response.body)
    return JSONResponse({**answer, "api_key": issued[-1].token}, response.status_code)


@api_keys.get("", response_model=ApiKeyList)
def list_api_keys(principal: CurrentPrincipal, app: IdentityApp) -> dict:
    _admin_reads(principal)
    return {"api_keys": [api_key_view(key) for key in app.list_api_keys()]}


@api_keys.post("/{key_id}/revocation", response_model=ApiKeyRead, responses=CHANGED)
def revoke_api_key(
    key_id: str, principal: CurrentPrincipal, app: IdentityApp, key: Idempotency
) -> JSONResponse:
    """The key is refused from now on, everywhere, as soon as each service has read it."""
    _admin(principal)
    return run_command(
        app, key, lambda k: app.revoke_api_key(key_id, by=_admin(principal, k), idempotency=k)
    )


# -- sign-in -----------------------------------------------------------------------------------
REFUSED = {
    401: {
        "description": "the user name and password do not match a user who may sign in "
        "(which part was wrong is not said)",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
    429: {
        "description": "too many wrong passwords for this user name lately: try again after "
        "Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


@sessions.post("", status_code=201, response_model=SessionRead, responses=REFUSED)
def sign_in(body: SessionCreate, app: IdentityApp, request: Request) -> dict:
    """Sign in with user name and password: a signed session token carrying the user's role
    and scope until it expires. Every service accepts it as a bearer credential. After a
    few wrong passwords for a user name it is refused for a while (429, Retry-After)."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    try:
        throttle.check(body.username)
    except TooManyAttempts as locked:
        raise Problem(
            429,
            "too_many_sign_in_attempts",
            str(locked),
            headers={"Retry-After": str(locked.retry_after_s)},
        ) from None
    try:
        user, token = app.sign_in(body.username, body.password)
    except InvalidCredentials:
        throttle.failed(body.username)
        raise Problem(401, "invalid_credentials", "user name or password is wrong") from None
    throttle.succeeded(body.username)
    session = read_session(token, secret=app.settings.session_signing_secret())
    assert session is not None
    return {
        **who_view(user),
        "token": token,
        "token_type": "Bearer",
        "expires_at": datetime.fromtimestamp(session.expires_ms / 1000, UTC).isoformat(),
    }

"""Routes of the warnings API: the inbox and the warnings in the caller's scope, counts for
the dashboard, people's commands on a warning, and the rules' thresholds (HQ admin only).
Routes translate and delegate; rules live in the application and the aggregates."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from runtime.eventstore import Provenance
from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.problems import Problem
from runtime.settings import BRANCH_ROLES, Role
from services.kernel.ownership import Ownership
from services.warnings.api.schemas import (
    Acknowledgement,
    Assignment,
    Comment,
    DeliveryList,
    LevelName,
    Resolution,
    RuleChange,
    RuleChanged,
    RuleCode,
    RuleList,
    RuleRead,
    SeverityName,
    WarningChanged,
    WarningCounts,
    WarningPage,
    WarningPosition,
    WarningRead,
    WebhookCreate,
    WebhookList,
    WebhookRegistered,
)
from services.warnings.application import WarningsApplication, rule_view, warning_view
from services.warnings.board import Board, Filters
from services.warnings.domain import EarlyWarning, rule_spec
from services.warnings.webhooks import deliveries_of, webhooks_listed

warnings = APIRouter(prefix="/warnings", tags=["warnings"])
warning_rules = APIRouter(prefix="/warning-rules", tags=["warning rules"])
webhooks = APIRouter(prefix="/webhooks", tags=["webhooks"])

CHANGED = {409: {"description": "rule violated (e.g. `warning_resolved`)"}}

# Who acts on warnings: the roles a warning can be responsible with, and their colleagues.
ACTING_ROLES = (
    Role.HQ_ADMIN,
    Role.CREDIT_CONTROLLER,
    Role.REGION_MANAGER,
    Role.BRANCH_MANAGER,
    Role.BRANCH_CLERK,
)
# The levels whose warnings are in a role's inbox: a branch manager's and a region manager's
# own level, in their branches. The national level has no platform role yet, and not every
# region has a manager signed up: headquarters' administrators still see the region level.
INBOX_LEVELS: dict[Role, tuple[str, ...]] = {
    Role.BRANCH_MANAGER: ("branch_manager",),
    Role.REGION_MANAGER: ("region",),
    Role.HQ_ADMIN: ("region", "hq_admin", "national"),
}


async def _application(request: Request) -> WarningsApplication:
    return request.app.state.application


async def _board(request: Request) -> Board:
    return request.app.state.board


WarningsApp = Annotated[WarningsApplication, Depends(_application)]
WarningBoard = Annotated[Board, Depends(_board)]


def owner(warning: EarlyWarning) -> Ownership:
    return Ownership.of(f"warning {warning.id}", branches=[warning.branch])


def _readable(principal: Principal, app: WarningsApplication, warning_id: UUID) -> EarlyWarning:
    warning = app.get_warning(warning_id)
    principal.check_reads(owner(warning))
    return warning


def _actor(principal: Principal, app: WarningsApplication, warning_id: UUID) -> Provenance:
    """The caller may act on the warning: it is in scope (403 otherwise), and the role is
    one that acts on warnings (read-only roles: 403)."""
    _readable(principal, app, warning_id)
    principal.require(*ACTING_ROLES)
    return principal.provenance()


def _branches(principal: Principal) -> frozenset[str] | None:
    if principal.is_hq:
        return None
    if principal.role in BRANCH_ROLES and principal.grant.branch:
        return frozenset({principal.grant.branch})
    if principal.role == Role.REGION_MANAGER:
        return principal.grant.region_branches
    return frozenset()  # warehouses and dealers are not told of warnings


def _wait(request: Request, board: Board, min_position: str | None) -> None:
    if min_position is None:
        return
    position = int(min_position.split(":", 1)[1])
    timeout = request.app.state.settings.read_your_writes_timeout_s
    if not board.wait_for(position, timeout_s=timeout):
        raise Problem(
            503,
            "not_caught_up",
            f"the warnings board has not reached {min_position} yet",
            headers={"Retry-After": "1"},
        )


def _cursor_of(warning: EarlyWarning) -> str:
    raw = f"{(warning.raised_at or warning.since).isoformat()}|{warning.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, UUID] | None:
    if cursor is None:
        return None
    try:
        raised, _, warning_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(raised), UUID(warning_id)
    except ValueError:
        raise Problem(422, "invalid_cursor", "the cursor is not one this API gave") from None


def _page(app: WarningsApplication, board: Board, filters: Filters, limit: int, cursor: str | None):
    ids = board.list(filters, limit=limit + 1, after=_after(cursor))
    found = app.get_many(ids[:limit])
    page = [found[i] for i in ids[:limit] if i in found]
    more = len(ids) > limit and page
    return {
        "warnings": [warning_view(w) for w in page],
        "next_cursor": _cursor_of(page[-1]) if more else None,
    }


Cursor = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,200}={0,2}$")]
Limit = Annotated[int, Query(ge=1, le=200)]


# -- reads -------------------------------------------------------------------------------------
@warnings.get("", response_model=WarningPage)
def list_warnings(
    request: Request,
    principal: CurrentPrincipal,
    app: WarningsApp,
    board: WarningBoard,
    status: Annotated[str, Query(pattern=r"^(open|resolved|watching|all)$")] = "open",
    level: LevelName | None = None,
    severity: SeverityName | None = None,
    rule: RuleCode | None = None,
    branch: Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    min_position: Annotated[WarningPosition | None, Query()] = None,
) -> dict:
    """The warnings in the caller's scope (a branch its own, a region manager its region's
    branches', HQ all), every level, newest raised first.
    ``status=watching``: conditions that began but have not lasted the rule's delay yet."""
    _wait(request, board, min_position)
    branches = _branches(principal)
    if branch is not None:
        principal.require_branch(branch)
        branches = frozenset({branch})
    filters = Filters(
        branches=branches,
        status=None if status == "all" else status,
        levels=(level,) if level else (),
        severity=severity,
        rule=rule,
    )
    return _page(app, board, filters, limit, cursor)


@warnings.get("/inbox", response_model=WarningPage)
def inbox(
    request: Request,
    principal: CurrentPrincipal,
    app: WarningsApp,
    board: WarningBoard,
    limit: Limit = 50,
    cursor: Cursor = None,
    min_position: Annotated[WarningPosition | None, Query()] = None,
) -> dict:
    """The caller's open warnings: those at the level its role answers for (a branch
    manager's branch level; a region manager's region level in its region's branches; HQ
    admin's region, HQ and national levels), and those assigned
    to it, within its scope."""
    _wait(request, board, min_position)
    filters = Filters(
        branches=_branches(principal),
        levels=INBOX_LEVELS.get(principal.role, ()),
        either_assignee=principal.name,
    )
    return _page(app, board, filters, limit, cursor)


@warnings.get("/counts", response_model=WarningCounts)
def counts(
    request: Request,
    principal: CurrentPrincipal,
    board: WarningBoard,
    min_position: Annotated[WarningPosition | None, Query()] = None,
) -> dict:
    """Open warnings in the caller's scope by level and severity (the dashboard's bell)."""
    _wait(request, board, min_position)
    rows = board.counts(Filters(branches=_branches(principal)))
    by_level: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for level, severity, count in rows:
        by_level[level] = by_level.get(level, 0) + count
        by_severity[severity] = by_severity.get(severity, 0) + count
    return {
        "counts": [{"level": lv, "severity": sv, "open": n} for lv, sv, n in rows],
        "by_level": by_level,
        "by_severity": by_severity,
        "total": sum(by_level.values()),
    }


@warnings.get("/{warning_id}", response_model=WarningRead)
def get_warning(warning_id: UUID, principal: CurrentPrincipal, app: WarningsApp) -> dict:
    """One warning with its reasons and its whole history."""
    return warning_view(_readable(principal, app, warning_id))


# -- people's commands -------------------------------------------------------------------------
@warnings.post("/{warning_id}/acknowledgement", response_model=WarningChanged, responses=CHANGED)
def acknowledge(
    warning_id: UUID,
    body: Acknowledgement,
    principal: CurrentPrincipal,
    app: WarningsApp,
    key: Idempotency,
) -> JSONResponse:
    """I have seen it. (It still escalates at its due time unless resolved.)"""
    by = _actor(principal, app, warning_id)
    return run_command(app, key, lambda k: app.acknowledge(warning_id, by=by, idempotency=k))


@warnings.post("/{warning_id}/comments", response_model=WarningChanged, responses=CHANGED)
def comment(
    warning_id: UUID,
    body: Comment,
    principal: CurrentPrincipal,
    app: WarningsApp,
    key: Idempotency,
) -> JSONResponse:
    by = _actor(principal, app, warning_id)
    return run_command(app, key, lambda k: app.comment(warning_id, body.text, by=by, idempotency=k))


@warnings.post(
    "/{warning_id}/assignment",
    response_model=WarningChanged,
    responses={
        **CHANGED,
        403: {"description": "the warning, or the assignee, is outside the caller's scope"},
        404: {"description": "unknown warning or user"},
    },
)
def assign(
    warning_id: UUID,
    body: Assignment,
    request: Request,
    principal: CurrentPrincipal,
    app: WarningsApp,
    key: Idempotency,
) -> JSONResponse:
    """Give the warning to a colleague: a user who may read it (the same scope). A user
    outside it is 403 ``assignee_outside_scope``: the caller may not hand the warning to
    someone who could not see it."""
    by = _actor(principal, app, warning_id)
    colleague = request.app.state.identity.users.get(body.assignee)
    if colleague is None or colleague.disabled:
        raise Problem(404, "unknown_user", f"no user {body.assignee}")
    warning = app.get_warning(warning_id)
    peer = Principal(grant=colleague.grant, correlation_id=principal.correlation_id)
    if not peer.may_read(owner(warning)):
        raise Problem(
            403, "assignee_outside_scope", f"{body.assignee} may not see warning {warning_id}"
        )
    return run_command(
        app, key, lambda k: app.assign(warning_id, body.assignee, by=by, idempotency=k)
    )


@warnings.post("/{warning_id}/resolution", response_model=WarningChanged, responses=CHANGED)
def resolve(
    warning_id: UUID,
    body: Resolution,
    principal: CurrentPrincipal,
    app: WarningsApp,
    key: Idempotency,
) -> JSONResponse:
    """Resolved, with a note: it stops escalating. Resolving it again is 409
    ``warning_resolved``."""
    by = _actor(principal, app, warning_id)
    return run_command(app, key, lambda k: app.resolve(warning_id, body.note, by=by, idempotency=k))


# -- rules -------------------------------------------------------------------------------------
@warning_rules.get("", response_model=RuleList)
def list_rules(principal: CurrentPrincipal, app: WarningsApp) -> dict:
    """Every rule with its threshold, its range and each level's allowance in force."""
    principal.require_hq()
    return {"rules": [rule_view(terms) for terms in app.list_rules()]}


@warning_rules.get("/{code}", response_model=RuleRead)
def get_rule(code: RuleCode, principal: CurrentPrincipal, app: WarningsApp) -> dict:
    principal.require_hq()
    return rule_view(app.rule_terms(code))


@warning_rules.post(
    "/{code}",
    response_model=RuleChanged,
    responses={404: {"description": "unknown rule"}, **CHANGED},
)
def change_rule(
    code: RuleCode,
    body: RuleChange,
    principal: CurrentPrincipal,
    app: WarningsApp,
    key: Idempotency,
) -> JSONResponse:
    """HQ sets the rule's threshold (422 `threshold_out_of_range` outside its range) and,
    optionally, each level's allowance: the rule's next version. Warnings raised before
    keep the version they were raised under."""
    principal.require(Role.HQ_ADMIN)
    spec = rule_spec(code)
    threshold = Decimal(body.threshold)
    if not spec.in_range(threshold):
        raise Problem(
            422,
            "threshold_out_of_range",
            f"{code}'s threshold ({spec.threshold_name}) is {spec.minimum} to {spec.maximum}",
            errors=[{"path": "body.threshold", "message": "out of the rule's range"}],
        )
    allowances: dict[str, Any] | None = (
        body.allowances_minutes.model_dump() if body.allowances_minutes else None
    )
    by = principal.provenance()
    return run_command(
        app,
        key,
        lambda k: app.change_rule(
            code, threshold=threshold, allowances=allowances, by=by, idempotency=k
        ),
    )


# -- webhooks ----------------------------------------------------------------------------------
@webhooks.post(
    "",
    status_code=201,
    response_model=WebhookRegistered,
    responses={409: {"description": "registered"}},
)
def register_webhook(
    body: WebhookCreate, principal: CurrentPrincipal, app: WarningsApp, key: Idempotency
) -> JSONResponse:
    """A URL told of every step of the warnings at the levels or severities named (none:
    all), each delivery signed (``X-Dist-Signature: sha256=<HMAC-SHA256 of the body under the
    secret>``), retried with back-off until it answers 2xx, identified by
    ``X-Dist-Delivery`` (the same on a retry)."""
    principal.require(Role.HQ_ADMIN)
    by = principal.provenance()
    return run_command(
        app,
        key,
        lambda k: app.register_webhook(
            url=body.url,
            secret=body.secret,
            levels=list(body.levels),
            severities=list(body.severities),
            by=by,
            idempotency=k,
        ),
    )


@webhooks.get("", response_model=WebhookList)
def list_webhooks(principal: CurrentPrincipal, board: WarningBoard) -> dict:
    principal.require_hq()
    return {"webhooks": webhooks_listed(board)}


@webhooks.get("/{webhook_id}/deliveries", response_model=DeliveryList)
def deliveries(
    webhook_id: UUID,
    principal: CurrentPrincipal,
    app: WarningsApp,
    board: WarningBoard,
    limit: Limit = 50,
) -> dict:
    """The webhook's deliveries, newest first, with their outcome: attempts, the last
    status or error, when delivered, when tried next."""
    principal.require_hq()
    app.get_webhook(webhook_id)
    return {"deliveries": deliveries_of(board, webhook_id, limit=limit)}

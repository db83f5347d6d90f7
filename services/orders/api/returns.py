"""Routes of dealer returns (退货, ``/returns``): request, a manager's decision, and the
return as it stands (received by the warehouse, credited by finance)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.http.idempotency import run_command
from runtime.http.schemas import Code, Count, IsoDate, Name
from runtime.settings import Role
from services.kernel.dates import business_today
from services.orders.api.deps import (
    CurrentPrincipal,
    Idempotency,
    OrdersApp,
    actor_of,
    check_sees_dealer,
)
from services.orders.application import RequestReturn, return_view

returns = APIRouter(prefix="/returns", tags=["returns"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReturnLineCreate(_Strict):
    sku: Code
    quantity: Count = Field(gt=0, le=1_000_000)


class ReturnCreate(_Strict):
    order_id: UUID
    business_date: IsoDate | None = Field(default=None, description="default today (CST)")
    lines: list[ReturnLineCreate] = Field(min_length=1, max_length=200)
    reason: Name = Field(examples=["12 bottles arrived with broken seals"])

    @model_validator(mode="after")
    def distinct_skus(self) -> ReturnCreate:
        if len({line.sku for line in self.lines}) != len(self.lines):
            raise ValueError("each SKU once: add up its quantities")
        return self


class ReturnDecision(_Strict):
    reason: Name


class ReturnLineRead(BaseModel):
    sku: str
    quantity: int


class ReceivedRead(BaseModel):
    sku: str
    good: int = Field(description="back to available stock")
    damaged: int = Field(description="to damaged stock, not for sale")


class ReturnRead(BaseModel):
    return_id: str
    order_id: str
    dealer_code: str
    branch: str
    warehouse_code: str
    business_date: IsoDate
    status: str = Field(description="requested, approved, rejected, received, credited")
    reason: str
    decision: str | None = Field(description="why a manager rejected it")
    lines: list[ReturnLineRead]
    received_on: IsoDate | None
    received: list[ReceivedRead]
    credit_note_id: str | None
    credited: str | None = Field(description="the credit note's amount, at the order's prices")
    position: str | None = None


DECIDED = {200: {"description": "the return as it now stands"}, 409: {"description": "invalid"}}


@returns.post("", status_code=201, response_model=ReturnRead, responses=DECIDED)
def request_return(
    body: ReturnCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """A dealer, its branch or HQ asks to return goods shipped on an order (at most what
    shipped, less what other returns take back)."""
    principal.require(Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.DEALER, Role.HQ_ADMIN)
    cmd = RequestReturn(
        order_id=body.order_id,
        business_date=body.business_date or business_today(),
        lines={line.sku: line.quantity for line in body.lines},
        reason=body.reason,
    )
    return run_command(
        app, key, lambda k: app.request_return(cmd, actor=actor_of(principal, k), idempotency=k)
    )


@returns.get("/{return_id}", response_model=ReturnRead)
def get_return(return_id: UUID, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    dealer_return = app.get_return(return_id)
    check_sees_dealer(principal, app, dealer_return.dealer_code)
    return return_view(dealer_return)


@returns.post("/{return_id}/approval", response_model=ReturnRead, responses=DECIDED)
def approve_return(
    return_id: UUID, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """A branch manager of the order's branch (or HQ) approves: the warehouse may receive."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.decide_return(
            return_id, "approve", reason="", actor=actor_of(principal, k), idempotency=k
        ),
    )


@returns.post("/{return_id}/rejection", response_model=ReturnRead, responses=DECIDED)
def reject_return(
    return_id: UUID,
    body: ReturnDecision,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.decide_return(
            return_id, "reject", reason=body.reason, actor=actor_of(principal, k), idempotency=k
        ),
    )

"""Routes of opening balances at the cut-over (期初) on a dealer's account: headquarters
brings in the invoices still open in the brand's former system, one document at a time,
before the dealer's business starts on the platform, and may reopen the dealer's cut-over."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.schemas import Code, IsoDate, Money
from runtime.settings import Role
from services.finance.api.routes import FinanceApp
from services.finance.application import (
    RecordOpeningCash,
    RecordOpeningInvoice,
    RecordOpeningRebatePool,
)

opening_balances = APIRouter(prefix="/accounts", tags=["opening balances"])

RULES = {
    201: {"description": "recorded"},
    409: {"description": "document already recorded, or business already started (cut-over)"},
}


class OpeningInvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_number: Code = Field(examples=["INV-2026-09-0117"])
    issue_date: IsoDate
    due_date: IsoDate
    open_amount: Money = Field(description="what is still owed on it at the cut-over")
    cut_over_date: IsoDate


class OpeningInvoiceRead(BaseModel):
    invoice_id: str
    invoice_number: str
    dealer_code: str
    issue_date: IsoDate
    due_date: IsoDate
    open_amount: str
    cut_over_date: IsoDate
    receivables: str
    exposure: str
    position: str | None = None


class OpeningCashCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_number: Code = Field(examples=["OB-CASH-CD-001"])
    amount: Money = Field(description="cash on the dealer's account, applied to no invoice")
    cut_over_date: IsoDate


class OpeningCashRead(BaseModel):
    document_id: str
    document_number: str
    dealer_code: str
    amount: str
    cut_over_date: IsoDate
    receivables: str
    exposure: str
    position: str | None = None


class OpeningRebatePoolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_number: Code = Field(examples=["OB-REBATE-CD-001"])
    policy_code: Code = Field(examples=["TIER1-2026"])
    amount: Money = Field(description="settled rebate not yet credited, claimable")
    cut_over_date: IsoDate


class OpeningRebatePoolRead(BaseModel):
    document_id: str
    document_number: str
    dealer_code: str
    policy_code: str
    amount: str
    cut_over_date: IsoDate
    rebate_pool: dict
    position: str | None = None


class CutOverReopened(BaseModel):
    dealer_code: str
    cut_over_reopened: bool
    position: str | None = None


@opening_balances.post(
    "/{dealer_code}/opening-invoices",
    status_code=201,
    response_model=OpeningInvoiceRead,
    responses=RULES,
)
def record_opening_invoice(
    dealer_code: Code,
    body: OpeningInvoiceCreate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """期初应收: an invoice still open at the cut-over, with its own number, date and due
    date: it ages from them, receipts (oldest first or named) pay it and credit notes credit
    it, and it counts in exposure. After the dealer's first ordinary transaction, 409
    ``cut_over_closed`` unless headquarters reopened the cut-over; the same number again,
    409 ``opening_already_recorded``."""
    principal.require(Role.HQ_ADMIN)
    cmd = RecordOpeningInvoice(
        dealer_code=dealer_code,
        number=body.invoice_number,
        issue_date=body.issue_date,
        due_date=body.due_date,
        open_amount=body.open_amount,
        cut_over_date=body.cut_over_date,
    )
    return run_command(
        app,
        key,
        lambda k: app.record_opening_invoice(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@opening_balances.post(
    "/{dealer_code}/opening-cash", status_code=201, response_model=OpeningCashRead, responses=RULES
)
def record_opening_cash(
    dealer_code: Code,
    body: OpeningCashCreate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """期初预收: cash the dealer had on account at the cut-over; it lowers receivables and
    exposure like a receipt's unapplied cash. Refused like any opening balance after the
    dealer's first ordinary transaction (409 ``cut_over_closed``)."""
    principal.require(Role.HQ_ADMIN)
    cmd = RecordOpeningCash(
        dealer_code=dealer_code,
        number=body.document_number,
        amount=body.amount,
        cut_over_date=body.cut_over_date,
    )
    return run_command(
        app,
        key,
        lambda k: app.record_opening_cash(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@opening_balances.post(
    "/{dealer_code}/opening-rebate-pools",
    status_code=201,
    response_model=OpeningRebatePoolRead,
    responses=RULES,
)
def record_opening_rebate_pool(
    dealer_code: Code,
    body: OpeningRebatePoolCreate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """期初返利池: the dealer's rebate pool under a (defined) policy at the cut-over, claimable
    like settled rebate. Refused like any opening balance after the dealer's first ordinary
    transaction (409 ``cut_over_closed``); an unknown policy is 404 ``unknown_rebate_policy``."""
    principal.require(Role.HQ_ADMIN)
    cmd = RecordOpeningRebatePool(
        dealer_code=dealer_code,
        number=body.document_number,
        policy_code=body.policy_code,
        amount=body.amount,
        cut_over_date=body.cut_over_date,
    )
    return run_command(
        app,
        key,
        lambda k: app.record_opening_rebate_pool(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@opening_balances.post("/{dealer_code}/cut-over/reopening", response_model=CutOverReopened)
def reopen_cut_over(
    dealer_code: Code, principal: CurrentPrincipal, app: FinanceApp, key: Idempotency
) -> JSONResponse:
    """Headquarters lets opening balances in after the dealer's business has started."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.reopen_cut_over(
            dealer_code, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )

"""Routes of the finance API (port 8103): dealer accounts and credit, invoices, receipts,
credit notes, rebate policies and their settlement, and rebate claims."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.types import DealerGradeName
from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal, Idempotency
from runtime.http.idempotency import run_command
from runtime.http.problems import Problem
from runtime.http.schemas import Code, Count, IsoDate, Money, Name, RebateRate, Utilisation
from runtime.settings import Role
from services.finance.application import (
    ApplyCash,
    FileRebateClaim,
    FinanceApplication,
    IssueCreditNote,
    RecordReceipt,
    SetCreditTerms,
    SettleRebatePolicy,
    account_view,
    claim_view,
    health_rules_view,
    invoice_view,
    policy_view,
)
from services.finance.domain import RebatePolicy
from services.kernel.dates import business_today
from services.kernel.ownership import Ownership


async def _finance(request: Request) -> FinanceApplication:
    return request.app.state.application


FinanceApp = Annotated[FinanceApplication, Depends(_finance)]


class CreditTermsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_limit: Money
    payment_terms_days: Count = Field(ge=0, le=365)


class CreditOverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: UUID


class AllocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: UUID
    amount: Money


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealer_code: Code
    amount: Money
    received_on: IsoDate | None = Field(default=None, description="default: today (CST)")
    allocations: list[AllocationCreate] | None = Field(
        default=None,
        max_length=500,
        description="name the invoices to pay; without, the oldest open invoices come first",
    )

    @model_validator(mode="after")
    def distinct_invoices(self) -> ReceiptCreate:
        if self.allocations and len({a.invoice_id for a in self.allocations}) != len(
            self.allocations
        ):
            raise ValueError("an invoice may be named once per receipt")
        return self


class CashApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allocations: list[AllocationCreate] = Field(
        min_length=1, max_length=500, description="the invoices to pay, and how much of each"
    )
    applied_on: IsoDate | None = Field(default=None, description="default: today (CST)")

    @model_validator(mode="after")
    def distinct_invoices(self) -> CashApplicationCreate:
        if len({a.invoice_id for a in self.allocations}) != len(self.allocations):
            raise ValueError("an invoice may be named once per application")
        return self


class CashApplicationSettingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_apply: bool = Field(
        description="apply cash and credit held on account to the oldest open invoices as "
        "each invoice is issued (on by default)"
    )


class ReturnedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    quantity: Count = Field(gt=0, le=1_000_000)


class CreditNoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: UUID
    amount: Money
    reason: Name
    issued_on: IsoDate | None = Field(default=None, description="default: today (CST)")
    returned_lines: list[ReturnedLine] | None = Field(
        default=None,
        max_length=500,
        description="goods returned (a return's credit note): their paid units give back "
        "their per-unit rebate; leave out for a price correction",
    )

    @model_validator(mode="after")
    def distinct_skus(self) -> CreditNoteCreate:
        if self.returned_lines and len({line.sku for line in self.returned_lines}) != len(
            self.returned_lines
        ):
            raise ValueError("a SKU may be named once per credit note")
        return self


class UnitRebateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    amount: Money


class RebatePolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_code: Code
    grade: DealerGradeName | None = Field(default=None, description="a dealer grade, or:")
    dealer_code: Code | None = Field(default=None, description="one dealer")
    rate: RebateRate = Field(
        default=Decimal("0"),
        ge=0,
        le=Decimal("0.5"),
        examples=["0.0200"],
        description="on the period's net invoiced sales above `threshold`",
    )
    threshold: Money = Field(
        default=Decimal("0.00"), description="net sales in the period the rate does not apply to"
    )
    unit_rebates: list[UnitRebateCreate] = Field(
        default_factory=list,
        max_length=500,
        description="CNY per unit of a SKU invoiced at a price (gift lines earn nothing)",
    )
    valid_from: IsoDate
    valid_to: IsoDate

    @model_validator(mode="after")
    def distinct_skus(self) -> RebatePolicyCreate:
        if len({u.sku for u in self.unit_rebates}) != len(self.unit_rebates):
            raise ValueError("a SKU may be named once per policy")
        return self


class RebateSettlementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealer_code: Code | None = Field(
        default=None, description="one dealer; without, every dealer that accrued under it"
    )
    settled_on: IsoDate | None = Field(
        default=None,
        description="the settlement's business date: after the period's end (else 409 "
        "`rebate_period_not_ended`), not after today (else 422 `settled_on_in_future`); "
        "default: today (CST). A brand loading its history names the day it settled.",
    )


class RebateClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealer_code: Code
    amount: Money
    salesperson: Name | None = Field(default=None, description="default: the caller's name")
    note: Name | None = None
    filed_on: IsoDate | None = Field(default=None, description="default: today (CST)")


class RebateClaimApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credited_on: IsoDate | None = Field(
        default=None, description="the credit's business date; default: today (CST)"
    )


class RebateClaimRejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Name


class HealthRulesUpdate(BaseModel):
    """Fields left out keep their current value."""

    model_config = ConfigDict(extra="forbid")

    utilisation_yellow: Utilisation | None = Field(default=None, gt=0, le=10, examples=["0.80"])
    utilisation_red: Utilisation | None = Field(default=None, gt=0, le=10)
    over_90_yellow: Money | None = None
    over_90_red: Money | None = None
    undelivered_after_days: Count | None = Field(default=None, ge=1, le=365)
    undelivered_yellow: Count | None = Field(default=None, ge=1, le=10_000)
    undelivered_red: Count | None = Field(default=None, ge=1, le=10_000)


def _branch_scope(principal: Principal) -> str | None:
    return None if principal.is_hq else principal.grant.branch


accounts = APIRouter(prefix="/accounts", tags=["accounts"])
invoices = APIRouter(prefix="/invoices", tags=["receivables"])
receipts = APIRouter(prefix="/receipts", tags=["receivables"])
credit_notes = APIRouter(prefix="/credit-notes", tags=["receivables"])
rebate_policies = APIRouter(prefix="/rebate-policies", tags=["rebates"])
rebate_claims = APIRouter(prefix="/rebate-claims", tags=["rebates"])


# Before /{dealer_code}: a literal segment, not a dealer.
@accounts.get("/health-rules")
def get_health_rules(principal: CurrentPrincipal, app: FinanceApp) -> dict:
    """渠道健康 rules in force: thresholds that turn a dealer yellow or red."""
    principal.require_hq()
    return health_rules_view(app.health_rules())


@accounts.post("/health-rules", status_code=200)
def set_health_rules(
    body: HealthRulesUpdate, principal: CurrentPrincipal, app: FinanceApp, key: Idempotency
) -> JSONResponse:
    """Set the channel-health rules (HQ). The query API colours dealers by the latest."""
    principal.require(Role.HQ_ADMIN)

    def command(k):
        changes = {name: getattr(body, name) for name in body.model_fields_set}
        changes = {name: value for name, value in changes.items() if value is not None}
        rules = replace(app.health_rules(), **changes)
        return app.set_health_rules(
            rules, by=principal.provenance(causation_id=k.key), idempotency=k
        )

    return run_command(app, key, command)


@accounts.get("/{dealer_code}")
def get_account(dealer_code: str, principal: CurrentPrincipal, app: FinanceApp) -> dict:
    """Credit limit, exposure, receivables, open invoices and orders on credit hold."""
    account = app.get_account(dealer_code)
    principal.check_reads(app.account_ownership(dealer_code))
    return account_view(account)


@accounts.post("/{dealer_code}/credit-terms", status_code=200)
def set_credit_terms(
    dealer_code: Code,
    body: CreditTermsUpdate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """信用额度: headquarters sets the dealer's credit limit and payment terms."""
    principal.require(Role.HQ_ADMIN, Role.CREDIT_CONTROLLER)
    cmd = SetCreditTerms(dealer_code, body.credit_limit, body.payment_terms_days)
    return run_command(
        app,
        key,
        lambda k: app.set_credit_terms(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@accounts.post("/{dealer_code}/credit-overrides", status_code=201)
def override_credit(
    dealer_code: str,
    body: CreditOverrideCreate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """A credit controller lets one order on credit hold past the limit."""
    principal.require(Role.CREDIT_CONTROLLER)
    return run_command(
        app,
        key,
        lambda k: app.override_credit(
            dealer_code,
            str(body.order_id),
            by=principal.provenance(causation_id=k.key),
            idempotency=k,
        ),
    )


CASH_APPLICATION_ERRORS = {
    404: {"description": "unknown dealer, or an invoice that is not the dealer's"},
    409: {
        "description": "`cash_application_exceeds_open` (more than an invoice has open), "
        "`cash_application_exceeds_on_account` (more than the account holds), "
        "`invalid_business_date` (before what is held was received)"
    },
}


@accounts.post(
    "/{dealer_code}/cash-applications", status_code=201, responses=CASH_APPLICATION_ERRORS
)
def apply_cash(
    dealer_code: Code,
    body: CashApplicationCreate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """核销: apply cash and credit held on the dealer's account (overpayments, returns'
    credit on paid invoices, rebate credited beyond the open invoices, opening cash) to the
    invoices named, each at most what it has open, in all at most what the account holds."""
    principal.require(Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = ApplyCash(
        dealer_code=dealer_code,
        applied_on=body.applied_on or business_today(),
        allocations={str(a.invoice_id): a.amount for a in body.allocations},
    )
    return run_command(
        app,
        key,
        lambda k: app.apply_cash(
            cmd,
            by=principal.provenance(causation_id=k.key),
            branch_scope=_branch_scope(principal),
            idempotency=k,
        ),
    )


@accounts.post("/{dealer_code}/cash-application-setting", status_code=200)
def set_cash_application(
    dealer_code: Code,
    body: CashApplicationSettingUpdate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """Whether what the dealer holds on account is applied automatically, to the oldest open
    invoices, whenever an invoice is issued (HQ finance, or the dealer's branch manager)."""
    principal.require(Role.HQ_ADMIN, Role.CREDIT_CONTROLLER, Role.BRANCH_MANAGER)
    return run_command(
        app,
        key,
        lambda k: app.set_cash_application(
            dealer_code,
            body.auto_apply,
            by=principal.provenance(causation_id=k.key),
            branch_scope=_branch_scope(principal),
            idempotency=k,
        ),
    )


@invoices.get("/{invoice_id}")
def get_invoice(invoice_id: UUID, principal: CurrentPrincipal, app: FinanceApp) -> dict:
    invoice = app.get_invoice(invoice_id)
    principal.check_reads(app.account_ownership(invoice.dealer_code, f"invoice {invoice_id}"))
    account = app.find_account(invoice.dealer_code)
    return invoice_view(invoice, account)


@receipts.post("", status_code=201)
def record_receipt(
    body: ReceiptCreate, principal: CurrentPrincipal, app: FinanceApp, key: Idempotency
) -> JSONResponse:
    """回款: cash from a dealer, to the named invoices or the oldest open ones."""
    principal.require(Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    cmd = RecordReceipt(
        dealer_code=body.dealer_code,
        amount=body.amount,
        received_on=body.received_on or business_today(),
        allocations={str(a.invoice_id): a.amount for a in body.allocations}
        if body.allocations
        else None,
    )
    return run_command(
        app,
        key,
        lambda k: app.record_receipt(
            cmd,
            by=principal.provenance(causation_id=k.key),
            branch_scope=_branch_scope(principal),
            idempotency=k,
        ),
    )


@credit_notes.post("", status_code=201)
def issue_credit_note(
    body: CreditNoteCreate, principal: CurrentPrincipal, app: FinanceApp, key: Idempotency
) -> JSONResponse:
    principal.require(Role.HQ_ADMIN, Role.CREDIT_CONTROLLER)
    cmd = IssueCreditNote(
        invoice_id=body.invoice_id,
        amount=body.amount,
        issued_on=body.issued_on or business_today(),
        reason=body.reason,
        returned={line.sku: line.quantity for line in body.returned_lines}
        if body.returned_lines
        else None,
    )
    return run_command(
        app,
        key,
        lambda k: app.issue_credit_note(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@rebate_policies.post("", status_code=201)
def define_rebate_policy(
    body: RebatePolicyCreate, principal: CurrentPrincipal, app: FinanceApp, key: Idempotency
) -> JSONResponse:
    """返利政策 for a grade or one dealer over a period: a rate on the period's net invoiced
    sales above a threshold, and/or an amount per paid unit of given SKUs."""
    principal.require(Role.HQ_ADMIN)
    policy = RebatePolicy(
        code=body.policy_code,
        grade=body.grade,
        dealer_code=body.dealer_code,
        rate=body.rate,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        threshold=body.threshold,
        unit_amounts={u.sku: u.amount for u in body.unit_rebates},
    )
    return run_command(
        app,
        key,
        lambda k: app.define_rebate_policy(
            policy, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@rebate_policies.get("")
def list_rebate_policies(principal: CurrentPrincipal, app: FinanceApp) -> dict:
    """The rebate policies the caller may read: HQ all; a branch the grades' policies and its
    own dealers'; a dealer its grade's and its own."""
    book = app.find_policy_book()
    readable = [
        policy
        for policy in (book.all() if book else [])
        if principal.may_read(app.policy_ownership(policy, principal.grant.dealer))
    ]
    return {"items": [policy_view(p) for p in readable]}


@rebate_policies.get("/{policy_code}")
def get_rebate_policy(policy_code: str, principal: CurrentPrincipal, app: FinanceApp) -> dict:
    policy = app.get_policy(policy_code)
    principal.check_reads(app.policy_ownership(policy, principal.grant.dealer))
    return policy_view(policy)


@rebate_policies.post("/{policy_code}/settlements", status_code=201)
def settle_rebate_policy(
    policy_code: str,
    body: RebateSettlementCreate,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """Period-end settlement (HQ), once the period is over: per dealer, what the policy
    accrued less what earlier settlements settled (negative: a claw-back). 409
    `nothing_to_settle` when nothing is new, `rebate_period_not_ended` before the end; 422
    `settled_on_in_future` for a `settled_on` after today."""
    principal.require(Role.HQ_ADMIN)
    today = business_today()
    settled_on = body.settled_on or today
    if settled_on > today:
        raise Problem(
            422,
            "settled_on_in_future",
            f"a settlement is dated today ({today}) or earlier, not {settled_on}",
            errors=[{"path": "body.settled_on", "message": "after today", "type": "after_today"}],
        )
    cmd = SettleRebatePolicy(policy_code, settled_on, body.dealer_code)
    return run_command(
        app,
        key,
        lambda k: app.settle_rebate_policy(
            cmd, by=principal.provenance(causation_id=k.key), idempotency=k
        ),
    )


@rebate_claims.post("", status_code=201)
def file_rebate_claim(
    body: RebateClaimCreate, principal: CurrentPrincipal, app: FinanceApp, key: Idempotency
) -> JSONResponse:
    """返利申请: a salesperson (a branch clerk of the dealer's branch), or the dealer itself
    on its own pool, claims settled, unclaimed rebate; 409 `rebate_claim_exceeds_pool`
    beyond what is available. The dealer's branch manager (or HQ) decides."""
    principal.require(Role.BRANCH_CLERK, Role.DEALER, Role.HQ_ADMIN)
    cmd = FileRebateClaim(
        dealer_code=body.dealer_code,
        amount=body.amount,
        salesperson=body.salesperson or principal.name,
        filed_on=body.filed_on or business_today(),
        note=body.note,
    )
    return run_command(
        app,
        key,
        lambda k: app.file_rebate_claim(
            cmd,
            by=principal.provenance(causation_id=k.key),
            branch_scope=_branch_scope(principal),
            dealer_scope=principal.grant.dealer if principal.role == Role.DEALER else None,
            idempotency=k,
        ),
    )


@rebate_claims.get("/{claim_id}")
def get_rebate_claim(claim_id: UUID, principal: CurrentPrincipal, app: FinanceApp) -> dict:
    claim = app.get_claim(claim_id)
    principal.check_reads(
        Ownership.of(
            f"rebate claim {claim_id}", branches=[claim.branch], dealers=[claim.dealer_code]
        )
    )
    return claim_view(claim)


@rebate_claims.post("/{claim_id}/approval", status_code=200)
def approve_rebate_claim(
    claim_id: UUID,
    body: RebateClaimApproval,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """A manager (the dealer's branch manager, or HQ) approves: the rebate is credited
    against the dealer's receivables (oldest open invoices first, the rest on account)."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    credited_on = body.credited_on or business_today()
    return run_command(
        app,
        key,
        lambda k: app.approve_rebate_claim(
            claim_id,
            credited_on,
            by=principal.provenance(causation_id=k.key),
            branch_scope=_branch_scope(principal),
            idempotency=k,
        ),
    )


@rebate_claims.post("/{claim_id}/rejection", status_code=200)
def reject_rebate_claim(
    claim_id: UUID,
    body: RebateClaimRejection,
    principal: CurrentPrincipal,
    app: FinanceApp,
    key: Idempotency,
) -> JSONResponse:
    """A manager turns the claim down: its amount is back in the dealer's pool."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.reject_rebate_claim(
            claim_id,
            business_today(),
            body.reason,
            by=principal.provenance(causation_id=k.key),
            branch_scope=_branch_scope(principal),
            idempotency=k,
        ),
    )

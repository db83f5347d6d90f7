"""Integration events published by the finance service on ``<namespace>.finance.events``,
keyed by the aggregate id (a dealer's account, an invoice, a receipt, a credit note)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import IntegrationEvent
from contracts.types import Money, OrderLine


class CreditTermsSet(IntegrationEvent):
    """Headquarters set a dealer's credit limit and payment terms."""

    service = "finance"
    event_name = "CreditTermsSet"
    version = 1

    dealer_code: str
    credit_limit: Money
    payment_terms_days: int


class CreditReserved(IntegrationEvent):
    """An order's total is reserved against the dealer's credit limit."""

    service = "finance"
    event_name = "CreditReserved"
    version = 1

    order_id: str
    dealer_code: str
    amount: Money
    exposure: Money = Field(description="exposure after the reservation")
    credit_limit: Money
    override: bool = Field(description="a credit controller's override let it past the limit")


class CreditRefused(IntegrationEvent):
    """The order would take the dealer past its credit limit."""

    service = "finance"
    event_name = "CreditRefused"
    version = 1

    order_id: str
    dealer_code: str
    amount: Money
    exposure: Money = Field(description="exposure before the order")
    credit_limit: Money
    shortfall: Money = Field(description="exposure + amount - limit")


class CreditReleased(IntegrationEvent):
    """Credit still reserved for an order (rejected or cancelled) is free again."""

    service = "finance"
    event_name = "CreditReleased"
    version = 1

    order_id: str
    dealer_code: str
    amount: Money


class InvoiceIssued(IntegrationEvent):
    """An invoice for what a shipment dispatched, at the order's prices."""

    service = "finance"
    event_name = "InvoiceIssued"
    version = 1

    invoice_id: str
    invoice_number: str
    dealer_code: str
    order_id: str
    shipment_id: str
    issue_date: date
    due_date: date
    lines: list[OrderLine] = Field(min_length=1)
    total: Money


class OpeningInvoiceRecorded(IntegrationEvent):
    """期初应收: an invoice of the brand's former system still open at the cut-over, with its
    own number, date and due date, brought in at what is still open on it. From then on it
    is a receivable like any invoice (receipts and credit notes name its ``invoice_id``); it
    is not a sale of the platform's (its sales are history) and accrues no rebate."""

    service = "finance"
    event_name = "OpeningInvoiceRecorded"
    version = 1

    invoice_id: str
    invoice_number: str = Field(description="its number in the former system")
    dealer_code: str
    issue_date: date
    due_date: date
    open_amount: Money = Field(description="what is still owed on it at the cut-over")
    cut_over_date: date


class OpeningCashRecorded(IntegrationEvent):
    """期初预收: cash a dealer had on account at the cut-over in the brand's former system
    (received, applied to no invoice), one document at a time. It lowers the dealer's
    receivables like unapplied cash of a receipt."""

    service = "finance"
    event_name = "OpeningCashRecorded"
    version = 1

    document_id: str
    document_number: str = Field(description="the opening document's own number")
    dealer_code: str
    amount: Money
    cut_over_date: date


class OpeningRebatePoolRecorded(IntegrationEvent):
    """期初返利池: rebate a dealer's pool held under a policy at the cut-over (settled in the
    brand's former system, not yet credited), one document at a time. It may be claimed and
    credited like settled rebate; a read model counts it as settled from the cut-over date."""

    service = "finance"
    event_name = "OpeningRebatePoolRecorded"
    version = 1

    document_id: str
    document_number: str = Field(description="the opening document's own number")
    dealer_code: str
    policy_code: str
    amount: Money
    cut_over_date: date


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_id: str
    amount: Money


class ReceiptRecorded(IntegrationEvent):
    """回款: cash received from a dealer, allocated to open invoices; the rest on account."""

    service = "finance"
    event_name = "ReceiptRecorded"
    version = 1

    receipt_id: str
    dealer_code: str
    amount: Money
    received_on: date
    allocations: list[Allocation]
    unapplied: Money


class CashApplied(IntegrationEvent):
    """核销: cash and credit held on a dealer's account (receipts beyond what was owed,
    returns' credit on paid invoices, rebate credited beyond the open invoices, opening cash)
    applied to open invoices: automatically to the oldest when an invoice is issued (the
    dealer's setting, on by default), or to the invoices a clerk named. Each invoice's open
    amount falls by its allocation from ``applied_on``, and what is held on account by
    ``amount``; receivables stay as they were (they were net of it already)."""

    service = "finance"
    event_name = "CashApplied"
    version = 1

    application_id: str
    dealer_code: str
    applied_on: date = Field(description="the business date it counts from")
    amount: Money = Field(description="the sum of the allocations")
    allocations: list[Allocation] = Field(min_length=1)
    automatic: bool = Field(
        description="applied as an invoice was issued (the dealer's setting); false: named "
        "by a clerk"
    )
    on_account: Money = Field(description="what the account still holds after it")


class CreditedLine(BaseModel):
    """Goods a credit note takes back, at the price the invoice charged for them (a gift
    unit at zero)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    category: str
    quantity: int = Field(gt=0)
    unit_price: Money
    amount: Money = Field(description="quantity x unit_price, to the fen")


class CreditNoteIssued(IntegrationEvent):
    """A credit note reduces what a dealer owes: a price correction on an invoice, or goods
    a dealer returned (``return_id``), credited at the price the invoice charged for them.
    What the invoice still had open takes it (``allocations``); the rest stays on account
    (``unapplied``), like cash received before anything was owed. Counts from
    ``issued_on``.

    v2 (superseding v1) carries the returned goods, the allocation and the part on account:
    a return's credit is issued even when its invoice was paid already."""

    service = "finance"
    event_name = "CreditNoteIssued"
    version = 2

    credit_note_id: str
    dealer_code: str
    invoice_id: str = Field(description="the invoice it credits")
    amount: Money
    issued_on: date
    reason: str
    return_id: str | None = Field(description="the dealer's return it credits, if any")
    lines: list[CreditedLine] = Field(description="the goods taken back; none: a price correction")
    allocations: list[Allocation] = Field(description="what the invoice's open amount took")
    unapplied: Money = Field(description="the rest, held on the dealer's account")


class CreditNoteIssuedV1(IntegrationEvent):
    """A credit note against one invoice, as published before returns: all of it reduced
    that invoice's open amount. Superseded by v2."""

    service = "finance"
    event_name = "CreditNoteIssued"
    version = 1

    credit_note_id: str
    dealer_code: str
    invoice_id: str
    amount: Money
    issued_on: date
    reason: str

    def upcast(self) -> CreditNoteIssued:
        """v2: no goods, all of it allocated to its invoice."""
        return CreditNoteIssued(
            credit_note_id=self.credit_note_id,
            dealer_code=self.dealer_code,
            invoice_id=self.invoice_id,
            amount=self.amount,
            issued_on=self.issued_on,
            reason=self.reason,
            return_id=None,
            lines=[],
            allocations=[Allocation(invoice_id=self.invoice_id, amount=self.amount)],
            unapplied=Decimal("0.00"),
        )


class UnitRebate(BaseModel):
    """A per-unit rebate: so much per paid unit of a SKU invoiced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    amount: Money = Field(description="CNY per unit invoiced at a price (gift lines earn none)")


class RebatePolicyDefined(IntegrationEvent):
    """Headquarters defined a rebate policy for a dealer grade or one dealer, over a period
    (by the documents' business dates): a rate on the period's net invoiced sales above a
    threshold, and/or an amount per paid unit of given SKUs. What a dealer earns under it is
    rate x max(0, net sales - threshold) + sum(amount x net paid units), to the fen.

    v2 (superseding v1) adds the threshold and the per-unit amounts."""

    service = "finance"
    event_name = "RebatePolicyDefined"
    version = 2

    policy_code: str
    grade: str | None
    dealer_code: str | None
    rate: Decimal = Field(ge=0, le=1, decimal_places=4)
    threshold: Money = Field(
        default=Decimal("0.00"), description="net sales in the period the rate does not apply to"
    )
    unit_rebates: list[UnitRebate] = Field(default_factory=list)
    valid_from: date
    valid_to: date


class RebatePolicyDefinedV1(IntegrationEvent):
    """A rebate policy as published before thresholds and per-unit amounts: a rate on all net
    invoiced sales within a period. Superseded by v2."""

    service = "finance"
    event_name = "RebatePolicyDefined"
    version = 1

    policy_code: str
    grade: str | None
    dealer_code: str | None
    rate: Decimal = Field(ge=0, le=1, decimal_places=4)
    valid_from: date
    valid_to: date

    def upcast(self) -> RebatePolicyDefined:
        """v2 with no threshold and no per-unit amounts (what v1 meant)."""
        return RebatePolicyDefined(
            policy_code=self.policy_code,
            grade=self.grade,
            dealer_code=self.dealer_code,
            rate=self.rate,
            threshold=Decimal("0.00"),
            unit_rebates=[],
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


class RebateAccrued(IntegrationEvent):
    """返利: rebate earned on an invoice (positive) or given back by a credit note
    (negative) under one policy."""

    service = "finance"
    event_name = "RebateAccrued"
    version = 1

    dealer_code: str
    policy_code: str
    document_id: str = Field(description="the invoice or credit note")
    business_date: date
    base: Money = Field(description="net sales this document adds (negative: a credit note)")
    amount: Money


class RebateSettled(IntegrationEvent):
    """At period end headquarters settled a dealer's rebate under one policy: ``amount`` =
    what the policy accrued for the period so far - what earlier settlements of it settled
    (negative: a claw-back, after credit notes took sales back). The settled amount is what
    the dealer's rebate pool may be claimed from."""

    service = "finance"
    event_name = "RebateSettled"
    version = 1

    settlement_id: str
    dealer_code: str
    policy_code: str
    period_from: date
    period_to: date
    settled_on: date = Field(description="the business date of the settlement")
    accrued: Money = Field(description="accrued under the policy when settled")
    previously_settled: Money
    amount: Money = Field(description="accrued - previously settled; negative: a claw-back")


class RebateClaimFiled(IntegrationEvent):
    """A salesperson filed a claim against a dealer's settled, unclaimed rebate (its pool)."""

    service = "finance"
    event_name = "RebateClaimFiled"
    version = 1

    claim_id: str
    dealer_code: str
    amount: Money
    salesperson: str
    filed_on: date
    note: str | None = None


class RebateClaimRejected(IntegrationEvent):
    """A manager turned a rebate claim down: its amount is back in the dealer's pool."""

    service = "finance"
    event_name = "RebateClaimRejected"
    version = 1

    claim_id: str
    dealer_code: str
    amount: Money
    rejected_on: date
    reason: str


class RebateCredited(IntegrationEvent):
    """A manager approved a rebate claim and the rebate is credited against the dealer's
    receivables (a credit note): allocated to the open invoices oldest first, the rest held
    on account as unapplied credit. Counts from ``credited_on``."""

    service = "finance"
    event_name = "RebateCredited"
    version = 1

    claim_id: str
    dealer_code: str
    amount: Money
    credited_on: date
    allocations: list[Allocation]
    unapplied: Money = Field(description="credit held on account, not applied to an invoice")


class ChannelHealthRulesSet(IntegrationEvent):
    """Headquarters set the channel-health rules (渠道健康): each rule turns a dealer yellow or
    red when its figure reaches the threshold; the dealer's colour is the worst of them. The
    latest event is in force (one aggregate, so one partition, in order)."""

    service = "finance"
    event_name = "ChannelHealthRulesSet"
    version = 1

    # The defaults are the rules in force until headquarters sets any.
    utilisation_yellow: Decimal = Field(
        default=Decimal("0.80"), gt=0, decimal_places=4, description="exposure / credit limit"
    )
    utilisation_red: Decimal = Field(default=Decimal("1.00"), gt=0, decimal_places=4)
    over_90_yellow: Money = Field(
        default=Decimal("0.01"), description="receivables more than 90 days past due"
    )
    over_90_red: Money = Decimal("50000.00")
    undelivered_after_days: int = Field(
        default=14, ge=1, description="a shipment not confirmed delivered this long counts"
    )
    undelivered_yellow: int = Field(
        default=1, ge=1, description="this many such shipments turn a dealer yellow"
    )
    undelivered_red: int = Field(default=3, ge=1)

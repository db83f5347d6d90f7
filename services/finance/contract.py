"""Translation of the finance service's domain events into its integration events."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts import finance as published
from contracts.envelope import IntegrationEvent
from contracts.types import OrderLine
from services.finance.domain import (
    ChannelHealthRules,
    CreditNote,
    DealerAccount,
    Invoice,
    OpeningCash,
    OpeningInvoice,
    OpeningRebatePool,
    RebateClaim,
    RebatePolicyBook,
    Receipt,
)


def allocations(parts: dict) -> list[published.Allocation]:
    """A document's allocations (invoice id -> amount) as published."""
    return [published.Allocation(invoice_id=i, amount=a) for i, a in parts.items()]


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    if isinstance(event, DealerAccount.CreditTermsSet):
        return published.CreditTermsSet(
            dealer_code=event.dealer_code,
            credit_limit=event.credit_limit,
            payment_terms_days=event.terms_days,
        )
    if isinstance(event, DealerAccount.CreditReserved):
        return published.CreditReserved(
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            amount=event.amount,
            exposure=event.exposure,
            credit_limit=event.credit_limit,
            override=event.override,
        )
    if isinstance(event, DealerAccount.CreditRefused):
        return published.CreditRefused(
            order_id=event.order_id,
            dealer_code=event.dealer_code,
            amount=event.amount,
            exposure=event.exposure,
            credit_limit=event.credit_limit,
            shortfall=event.shortfall,
        )
    if isinstance(event, DealerAccount.CreditReleased):
        return published.CreditReleased(
            order_id=event.order_id, dealer_code=event.dealer_code, amount=event.amount
        )
    if isinstance(event, DealerAccount.RebateAccrued):
        return published.RebateAccrued(
            dealer_code=event.dealer_code,
            policy_code=event.policy_code,
            document_id=event.document_id,
            business_date=event.business_date,
            base=event.base,
            amount=event.amount,
        )
    if isinstance(event, DealerAccount.CashApplied):
        return published.CashApplied(
            application_id=event.application_id,
            dealer_code=event.dealer_code,
            applied_on=event.applied_on,
            amount=event.amount,
            allocations=allocations(event.allocations),
            automatic=event.automatic,
            on_account=event.on_account,
        )
    if isinstance(event, OpeningCash.Recorded):
        return published.OpeningCashRecorded(
            document_id=str(event.originator_id),
            document_number=event.number,
            dealer_code=event.dealer_code,
            amount=event.amount,
            cut_over_date=event.cut_over_date,
        )
    if isinstance(event, OpeningRebatePool.Recorded):
        return published.OpeningRebatePoolRecorded(
            document_id=str(event.originator_id),
            document_number=event.number,
            dealer_code=event.dealer_code,
            policy_code=event.policy_code,
            amount=event.amount,
            cut_over_date=event.cut_over_date,
        )
    if isinstance(event, OpeningInvoice.Recorded):
        return published.OpeningInvoiceRecorded(
            invoice_id=str(event.originator_id),
            invoice_number=event.number,
            dealer_code=event.dealer_code,
            issue_date=event.issue_date,
            due_date=event.due_date,
            open_amount=event.total,
            cut_over_date=event.cut_over_date,
        )
    if isinstance(event, Invoice.Issued):
        return published.InvoiceIssued(
            invoice_id=str(event.originator_id),
            invoice_number=event.number,
            dealer_code=event.dealer_code,
            order_id=event.order_id,
            shipment_id=event.shipment_id,
            issue_date=event.issue_date,
            due_date=event.due_date,
            lines=[OrderLine(**line) for line in event.lines],
            total=event.total,
        )
    if isinstance(event, Receipt.Recorded):
        return published.ReceiptRecorded(
            receipt_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            amount=event.amount,
            received_on=event.received_on,
            allocations=allocations(event.allocations),
            unapplied=event.unapplied,
        )
    if isinstance(event, CreditNote.Issued):
        return published.CreditNoteIssued(
            credit_note_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            invoice_id=event.invoice_id,
            amount=event.amount,
            issued_on=event.issued_on,
            reason=event.reason,
            return_id=event.return_id,
            lines=[published.CreditedLine(**line) for line in event.lines],
            allocations=allocations(event.allocations),
            unapplied=event.unapplied,
        )
    if isinstance(event, ChannelHealthRules.RulesSet):
        return published.ChannelHealthRulesSet(
            utilisation_yellow=event.utilisation_yellow,
            utilisation_red=event.utilisation_red,
            over_90_yellow=event.over_90_yellow,
            over_90_red=event.over_90_red,
            undelivered_after_days=event.undelivered_after_days,
            undelivered_yellow=event.undelivered_yellow,
            undelivered_red=event.undelivered_red,
        )
    if isinstance(event, RebatePolicyBook.PolicyDefined):
        return published.RebatePolicyDefined(
            policy_code=event.code,
            grade=event.grade,
            dealer_code=event.dealer_code,
            rate=event.rate,
            threshold=event.threshold,
            unit_rebates=[
                published.UnitRebate(sku=sku, amount=amount)
                for sku, amount in sorted((event.unit_amounts or {}).items())
            ],
            valid_from=event.valid_from,
            valid_to=event.valid_to,
        )
    if isinstance(event, DealerAccount.RebateSettled):
        return published.RebateSettled(
            settlement_id=event.settlement_id,
            dealer_code=event.dealer_code,
            policy_code=event.policy_code,
            period_from=event.period_from,
            period_to=event.period_to,
            settled_on=event.settled_on,
            accrued=event.accrued,
            previously_settled=event.previously_settled,
            amount=event.amount,
        )
    if isinstance(event, RebateClaim.Filed):
        return published.RebateClaimFiled(
            claim_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            amount=event.amount,
            salesperson=event.salesperson,
            filed_on=event.filed_on,
            note=event.note,
        )
    if isinstance(event, RebateClaim.Credited):
        return published.RebateCredited(
            claim_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            amount=event.amount,
            credited_on=event.credited_on,
            allocations=allocations(event.allocations),
            unapplied=event.unapplied,
        )
    if isinstance(event, RebateClaim.Rejected):
        return published.RebateClaimRejected(
            claim_id=str(event.originator_id),
            dealer_code=event.dealer_code,
            amount=event.amount,
            rejected_on=event.rejected_on,
            reason=event.reason,
        )
    return None

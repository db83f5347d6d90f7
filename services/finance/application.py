"""The finance application: command handlers (credit terms, overrides, receipts, credit
notes, rebate policies) and the policies of its process manager (accounts opened for new
dealers, credit reserved or refused for placed orders and released for ended ones, invoices
issued for shipments, with their rebate)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from contracts import inventory as inventory_events
from contracts import orders as orders_events
from contracts.envelope import Envelope
from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from runtime.process_manager import Policy, Unit
from services.finance.contract import to_integration_event
from services.finance.domain import (
    ZERO,
    ChannelHealthRules,
    CreditNote,
    DealerAccount,
    HealthRules,
    Invoice,
    OrderBilling,
    RebatePolicy,
    RebatePolicyBook,
    Receipt,
    UnknownAccount,
    UnknownInvoice,
    check_amount,
)
from services.kernel.errors import OutsideScope
from services.kernel.money import cny


@dataclass(frozen=True)
class SetCreditTerms:
    dealer_code: str
    credit_limit: Decimal
    payment_terms_days: int


@dataclass(frozen=True)
class RecordReceipt:
    dealer_code: str
    amount: Decimal
    received_on: date
    allocations: dict[str, Decimal] | None


@dataclass(frozen=True)
class IssueCreditNote:
    invoice_id: UUID
    amount: Decimal
    issued_on: date
    reason: str


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def account_view(account: DealerAccount) -> dict[str, Any]:
    return {
        "dealer_code": account.dealer_code,
        "branch": account.branch,
        "region": account.region,
        "grade": account.grade,
        "credit_limit": money(account.credit_limit),
        "payment_terms_days": account.terms_days,
        "receivables": money(account.receivables),
        "reserved": money(account.reserved_total),
        "exposure": money(account.exposure),
        "available_credit": money(account.credit_limit - account.exposure),
        "unapplied_cash": money(account.unapplied),
        "invoiced": money(account.invoiced),
        "invoices_posted": account.invoices_posted,
        "received": money(account.received),
        "credited": money(account.credited),
        "orders_on_credit_hold": [
            {"order_id": order_id, "amount": money(amount)}
            for order_id, amount in sorted(account.held.items())
        ],
        "open_invoices": [
            {
                "invoice_id": item.invoice_id,
                "issue_date": item.issue_date.isoformat(),
                "due_date": item.due_date.isoformat(),
                "open": money(item.open),
            }
            for item in account.open_items()
        ],
        "rebate_accrued": {code: money(v) for code, v in sorted(account.rebate_accrued.items())},
    }


def invoice_view(invoice: Invoice, account: DealerAccount | None = None) -> dict[str, Any]:
    open_item = account.open_invoices.get(str(invoice.id)) if account else None
    return {
        "invoice_id": str(invoice.id),
        "number": invoice.number,
        "dealer_code": invoice.dealer_code,
        "order_id": invoice.order_id,
        "shipment_id": invoice.shipment_id,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "lines": [
            {**line, "unit_price": money(line["unit_price"]), "amount": money(line["amount"])}
            for line in invoice.lines
        ],
        "total": money(invoice.total),
        "credited": money(invoice.credited),
        "open": money(open_item["open"]) if open_item else money(ZERO),
    }


def policy_view(policy: RebatePolicy) -> dict[str, Any]:
    return {
        "policy_code": policy.code,
        "grade": policy.grade,
        "dealer_code": policy.dealer_code,
        "rate": str(policy.rate),
        "valid_from": policy.valid_from.isoformat(),
        "valid_to": policy.valid_to.isoformat(),
    }


class FinanceApplication(ServiceApplication):
    service = "finance"
    name = "finance"
    contract = staticmethod(to_integration_event)
    # A dealer's account changes with every order, invoice, receipt and credit note.
    snapshotting_intervals: ClassVar[dict[type, int]] = {DealerAccount: 50, RebatePolicyBook: 50}

    # -- accounts ----------------------------------------------------------------------------
    def find_account(self, dealer_code: str) -> DealerAccount | None:
        try:
            return self.repository.get(DealerAccount.create_id(dealer_code))
        except AggregateNotFoundError:
            return None

    def get_account(self, dealer_code: str) -> DealerAccount:
        account = self.find_account(dealer_code)
        if account is None:
            raise UnknownAccount(f"no account for dealer {dealer_code}")
        return account

    def set_credit_terms(
        self, cmd: SetCreditTerms, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """HQ sets a dealer's credit limit and payment terms (opening its account if the
        dealer's registration has not reached finance yet)."""
        account = self.find_account(cmd.dealer_code) or DealerAccount(
            dealer_code=cmd.dealer_code, grade=None, branch=None, region=None
        )
        account.set_terms(cmd.credit_limit, cmd.payment_terms_days, by)
        return self.save_command(
            account, status_code=200, body=account_view(account), idempotency=idempotency
        )

    def override_credit(
        self,
        dealer_code: str,
        order_id: str,
        *,
        by: Provenance,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        account = self.get_account(dealer_code)
        account.override(order_id, by)
        body = {"dealer_code": dealer_code, "order_id": order_id, **account_view(account)}
        return self.save_command(account, status_code=201, body=body, idempotency=idempotency)

    # -- receivables -------------------------------------------------------------------------
    def get_invoice(self, invoice_id: UUID) -> Invoice:
        try:
            invoice = self.repository.get(invoice_id)
        except AggregateNotFoundError:
            invoice = None
        if not isinstance(invoice, Invoice):
            raise UnknownInvoice(f"no invoice {invoice_id}")
        return invoice

    def record_receipt(
        self,
        cmd: RecordReceipt,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        check_amount(cmd.amount, "a receipt")
        account = self.get_account(cmd.dealer_code)
        if branch_scope is not None and account.branch != branch_scope:
            raise OutsideScope(f"dealer {cmd.dealer_code} belongs to branch {account.branch}")
        allocations = account.allocate(cmd.amount, cmd.allocations)
        unapplied = cmd.amount - sum(allocations.values(), ZERO)
        receipt = Receipt(
            dealer_code=cmd.dealer_code,
            amount=cmd.amount,
            received_on=cmd.received_on,
            allocations=allocations,
            unapplied=unapplied,
            by=by,
        )
        account.apply_receipt(
            receipt_id=str(receipt.id),
            amount=cmd.amount,
            received_on=cmd.received_on,
            allocations=allocations,
        )
        body = {
            "receipt_id": str(receipt.id),
            "dealer_code": cmd.dealer_code,
            "amount": money(cmd.amount),
            "received_on": cmd.received_on.isoformat(),
            "allocations": [{"invoice_id": i, "amount": money(a)} for i, a in allocations.items()],
            "unapplied": money(unapplied),
            "receivables": money(account.receivables),
            "exposure": money(account.exposure),
        }
        return self.save_command(
            receipt, account, status_code=201, body=body, idempotency=idempotency
        )

    def issue_credit_note(
        self, cmd: IssueCreditNote, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        invoice = self.get_invoice(cmd.invoice_id)
        account = self.get_account(invoice.dealer_code)
        account.check_credit_note(str(invoice.id), cmd.amount)
        note = CreditNote(
            dealer_code=invoice.dealer_code,
            invoice_id=str(invoice.id),
            amount=cmd.amount,
            issued_on=cmd.issued_on,
            reason=cmd.reason,
            by=by,
        )
        account.apply_credit_note(
            credit_note_id=str(note.id),
            invoice_id=str(invoice.id),
            amount=cmd.amount,
            issued_on=cmd.issued_on,
        )
        invoice.credit(credit_note_id=str(note.id), amount=cmd.amount)
        book = self.find_policy_book()
        if book is not None:
            # The credit note gives back its share of what the invoice accrued.
            for policy in book.all():
                if policy.code in invoice.rebate_policies:
                    account.accrue_rebate(policy, str(note.id), cmd.issued_on, -cmd.amount)
        body = {
            "credit_note_id": str(note.id),
            "invoice_id": str(invoice.id),
            "dealer_code": invoice.dealer_code,
            "amount": money(cmd.amount),
            "issued_on": cmd.issued_on.isoformat(),
            "reason": cmd.reason,
            "receivables": money(account.receivables),
        }
        return self.save_command(
            note, account, invoice, status_code=201, body=body, idempotency=idempotency
        )

    # -- rebate policies ---------------------------------------------------------------------
    def find_policy_book(self) -> RebatePolicyBook | None:
        try:
            return self.repository.get(RebatePolicyBook.create_id())
        except AggregateNotFoundError:
            return None

    def define_rebate_policy(
        self, policy: RebatePolicy, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        book = self.find_policy_book() or RebatePolicyBook()
        book.define(policy, by)
        return self.save_command(
            book, status_code=201, body=policy_view(policy), idempotency=idempotency
        )

    # -- channel health rules ----------------------------------------------------------------
    def health_rules(self) -> HealthRules:
        try:
            return self.repository.get(ChannelHealthRules.create_id()).rules
        except AggregateNotFoundError:
            return HealthRules()

    def set_health_rules(
        self, rules: HealthRules, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        try:
            book = self.repository.get(ChannelHealthRules.create_id())
        except AggregateNotFoundError:
            book = ChannelHealthRules()
        book.set(rules, by)
        return self.save_command(
            book, status_code=200, body=health_rules_view(book.rules), idempotency=idempotency
        )


def health_rules_view(rules: HealthRules) -> dict:
    """Ratios to four places, money to the fen (as the query API shows them)."""
    return {
        name: (f"{value:.2f}" if name.startswith("over_90") else f"{value:.4f}")
        if isinstance(value, Decimal)
        else value
        for name, value in asdict(rules).items()
    }


# -- the process manager's policies ----------------------------------------------------------
def open_account(unit: Unit, envelope: Envelope, dealer: orders_events.DealerRegistered) -> None:
    account = unit.find(DealerAccount.create_id(dealer.dealer_code))
    if account is None:
        unit.save(
            DealerAccount(
                dealer_code=dealer.dealer_code,
                grade=dealer.grade,
                branch=dealer.branch,
                region=dealer.region,
            )
        )
    elif account.grade is None:
        # Terms were set before the registration arrived: complete the account.
        account.describe(grade=dealer.grade, branch=dealer.branch, region=dealer.region)
        unit.save(account)


def reserve_credit(unit: Unit, envelope: Envelope, placed: orders_events.OrderPlaced) -> None:
    """An order was placed: reserve its total against the dealer's limit, or refuse."""
    billing_id = OrderBilling.create_id(placed.order_id)
    if unit.find(billing_id) is not None:
        return
    account = unit.find(DealerAccount.create_id(placed.dealer_code)) or DealerAccount(
        dealer_code=placed.dealer_code,
        grade=None,
        branch=placed.branch,
        region=placed.region,
    )
    account.request_credit(placed.order_id, placed.total)
    billing = OrderBilling(
        order_id=placed.order_id,
        dealer_code=placed.dealer_code,
        lines=[
            {
                "sku": line.sku,
                "category": line.category,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "gift": line.gift,
            }
            for line in placed.lines
        ],
        total=placed.total,
    )
    unit.save(account, billing)


def release_credit(unit: Unit, envelope: Envelope, ended: Any) -> None:
    account = unit.find(DealerAccount.create_id(ended.dealer_code))
    if account is None:
        return
    account.release(ended.order_id, reason=getattr(ended, "reason", ""))
    unit.save(account)  # nothing is written if nothing was held for the order


def issue_invoice(
    unit: Unit, envelope: Envelope, shipped: inventory_events.ShipmentDispatched
) -> None:
    """A shipment left: invoice what shipped at the order's prices, due after the dealer's
    terms; the receivable replaces that much reserved credit; rebate accrues."""
    invoice_id = Invoice.create_id(shipped.shipment_id)
    if unit.find(invoice_id) is not None:
        return  # invoiced already: a shipment is invoiced exactly once
    billing = unit.get(OrderBilling.create_id(shipped.order_id))
    account = unit.get(DealerAccount.create_id(shipped.dealer_code))
    filled = billing.invoice_lines({line.sku: line.quantity for line in shipped.lines})
    lines = [
        {
            "sku": line["sku"],
            "category": line["category"],
            "quantity": quantity,
            "unit_price": line["unit_price"],  # as placed: after promotion, zero for a gift
            "amount": cny(line["unit_price"] * quantity),
        }
        for _index, line, quantity in filled
    ]
    total = cny(sum((line["amount"] for line in lines), ZERO))
    issue_date = shipped.ship_date
    due_date = issue_date + timedelta(days=account.terms_days)
    book = unit.find(RebatePolicyBook.create_id())
    policies = book.covering(account, issue_date) if book else []
    invoice = Invoice(
        number=f"INV-{issue_date:%Y%m%d}-{str(invoice_id)[:8].upper()}",
        dealer_code=shipped.dealer_code,
        order_id=shipped.order_id,
        shipment_id=shipped.shipment_id,
        issue_date=issue_date,
        due_date=due_date,
        lines=lines,
        total=total,
        rebate_policies=[policy.code for policy in policies],
    )
    account.post_invoice(
        invoice_id=str(invoice_id),
        order_id=shipped.order_id,
        amount=total,
        issue_date=issue_date,
        due_date=due_date,
    )
    for policy in policies:
        account.accrue_rebate(policy, str(invoice_id), issue_date, total)
    billing.record_invoice(
        shipment_id=shipped.shipment_id,
        invoice_id=str(invoice_id),
        lines={str(index): quantity for index, _line, quantity in filled},
    )
    unit.save(invoice, account, billing)


POLICIES: dict[str, Policy] = {
    str(orders_events.DealerRegistered.event_type()): open_account,
    str(orders_events.OrderPlaced.event_type()): reserve_credit,
    str(orders_events.OrderRejected.event_type()): release_credit,
    str(orders_events.OrderCancelled.event_type()): release_credit,
    str(inventory_events.ShipmentDispatched.event_type()): issue_invoice,
}

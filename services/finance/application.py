"""The finance application: command handlers (credit terms, overrides, receipts, credit
notes, rebate policies, their settlement, rebate claims and their approval) and the policies
of its process manager (dealers and products known from orders' registry and catalogue,
accounts opened for new dealers, credit reserved or refused for placed orders and released
for ended ones, invoices issued for shipments, with their rebate). Commands naming a dealer
or SKU that registry or catalogue does not hold are refused (404 ``unknown_dealer`` /
``unknown_sku``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts import inventory as inventory_events
from contracts import orders as orders_events
from contracts.envelope import Envelope
from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from runtime.process_manager import Policy, Unit, reads
from services.finance.contract import to_integration_event
from services.finance.domain import (
    ZERO,
    ChannelHealthRules,
    CreditNote,
    DealerAccount,
    HealthRules,
    InvalidBusinessDate,
    Invoice,
    NothingToSettle,
    OpeningAlreadyRecorded,
    OpeningCash,
    OpeningInvoice,
    OpeningRebatePool,
    OrderBilling,
    RebateClaim,
    RebateEnrolment,
    RebatePolicy,
    RebatePolicyBook,
    Receipt,
    UnknownAccount,
    UnknownClaim,
    UnknownInvoice,
    UnknownOrder,
    UnknownPolicy,
    check_amount,
)
from services.kernel.errors import OutsideScope
from services.kernel.money import cny
from services.kernel.ownership import Ownership
from services.masterdata import replica
from services.masterdata.replica import KnowsMasterData


@dataclass(frozen=True)
class RecordOpeningInvoice:
    dealer_code: str
    number: str
    issue_date: date
    due_date: date
    open_amount: Decimal
    cut_over_date: date


@dataclass(frozen=True)
class RecordOpeningCash:
    dealer_code: str
    number: str
    amount: Decimal
    cut_over_date: date


@dataclass(frozen=True)
class RecordOpeningRebatePool:
    dealer_code: str
    number: str
    policy_code: str
    amount: Decimal
    cut_over_date: date


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
class ApplyCash:
    """核销: apply what the dealer holds on account to the invoices named (id -> amount)."""

    dealer_code: str
    applied_on: date
    allocations: dict[str, Decimal]


@dataclass(frozen=True)
class IssueCreditNote:
    invoice_id: UUID
    amount: Decimal
    issued_on: date
    reason: str
    # Goods taken back, units per SKU (a return); None for a price correction. Paid units
    # among them give back their per-unit rebate (see Invoice.record_return).
    returned: dict[str, int] | None = None


@dataclass(frozen=True)
class SettleRebatePolicy:
    policy_code: str
    settled_on: date
    dealer_code: str | None = None  # None: every dealer that accrued under the policy


@dataclass(frozen=True)
class FileRebateClaim:
    dealer_code: str
    amount: Decimal
    salesperson: str
    filed_on: date
    note: str | None = None


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
        "auto_apply_cash": account.auto_apply,
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
        "rebate_pool": rebate_pool_view(account),
    }


def rebate_pool_view(account: DealerAccount) -> dict[str, Any]:
    """返利池: accrued (all policies, net of credit notes), settled at period ends, claimed
    (filed, awaiting a decision), credited against receivables, and available to claim."""
    return {
        "accrued": money(sum(account.rebate_accrued.values(), ZERO)),
        "settled": money(account.rebate_settled_total),
        "claimed": money(account.rebate_claimed),
        "credited": money(account.rebate_credited),
        "available": money(account.rebate_available),
        "settled_by_policy": {code: money(v) for code, v in sorted(account.rebate_settled.items())},
        "opening_by_policy": {code: money(v) for code, v in sorted(account.rebate_opening.items())},
        "pending_claims": [
            {"claim_id": claim_id, "amount": money(amount)}
            for claim_id, amount in sorted(account.rebate_claims.items())
        ],
    }


def claim_view(claim: RebateClaim) -> dict[str, Any]:
    return {
        "claim_id": str(claim.id),
        "dealer_code": claim.dealer_code,
        "branch": claim.branch,
        "amount": money(claim.amount),
        "salesperson": claim.salesperson,
        "filed_on": claim.filed_on.isoformat(),
        "note": claim.note,
        "status": claim.status,
        "decided_on": claim.decided_on.isoformat() if claim.decided_on else None,
        "decided_by": claim.decided_by,
        "reason": claim.reason,
        "allocations": [
            {"invoice_id": i, "amount": money(a)} for i, a in claim.allocations.items()
        ],
        "unapplied": money(claim.unapplied),
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
        "rate": f"{policy.rate:.4f}",
        "threshold": money(policy.threshold),
        "unit_rebates": [
            {"sku": sku, "amount": money(amount)}
            for sku, amount in sorted(policy.unit_amounts.items())
        ],
        "valid_from": policy.valid_from.isoformat(),
        "valid_to": policy.valid_to.isoformat(),
    }


def credit_invoice(
    account: DealerAccount,
    invoice: Invoice,
    book: RebatePolicyBook | None,
    *,
    credit_note_id: str,
    amount: Decimal,
    issued_on: date,
    returned: dict[str, int] | None,
) -> None:
    """What a credit note does to the account and the invoice it credits (for a command or
    a process manager's policy alike): the invoice's open amount falls, and every policy the
    invoice accrued under gives back its share: the credited amount off the net sales it
    covers and, for goods returned, the paid units off its per-unit counts."""
    account.check_credit_note(str(invoice.id), amount)
    paid_back = invoice.record_return(credit_note_id, returned) if returned else {}
    account.apply_credit_note(
        credit_note_id=credit_note_id,
        invoice_id=str(invoice.id),
        amount=amount,
        issued_on=issued_on,
    )
    invoice.credit(credit_note_id=credit_note_id, amount=amount)
    if book is not None:
        units = {sku: -quantity for sku, quantity in paid_back.items() if quantity}
        for policy in book.all():
            if policy.code in invoice.rebate_policies:
                account.accrue_rebate(policy, credit_note_id, issued_on, -amount, units)


class FinanceApplication(KnowsMasterData, ServiceApplication):
    service = "finance"
    name = "finance"
    contract = staticmethod(to_integration_event)
    # A dealer's account changes with every order, invoice, receipt and credit note.
    # A rebate enrolment gains an event per dealer that accrues under its policy.
    snapshotting_intervals: ClassVar[dict[type, int]] = {
        DealerAccount: 50,
        RebatePolicyBook: 50,
        RebateEnrolment: 50,
    }

    # -- accounts ----------------------------------------------------------------------------
    def find_account(self, dealer_code: str) -> DealerAccount | None:
        try:
            return self.repository.get(DealerAccount.create_id(dealer_code))
        except AggregateNotFoundError:
            return None

    # -- who may read what (services.kernel.ownership) ---------------------------------------
    def account_ownership(self, dealer_code: str, what: str | None = None) -> Ownership:
        """A dealer's account and its documents belong to the dealer and its branch."""
        account = self.find_account(dealer_code)
        return Ownership.of(
            what or f"dealer {dealer_code}'s account",
            branches=[account.branch if account else None],
            dealers=[dealer_code],
        )

    def policy_ownership(self, policy: RebatePolicy, reader_dealer: str | None) -> Ownership:
        """One dealer's rebate terms are that dealer's and its branch's. A grade's terms are
        national: every branch reads them, and each dealer of that grade (the reader's own
        account says whether it is one)."""
        what = f"rebate policy {policy.code}"
        if policy.dealer_code is not None:
            return self.account_ownership(policy.dealer_code, what)
        reader = self.find_account(reader_dealer) if reader_dealer else None
        of_grade = reader is not None and reader.grade == policy.grade
        return Ownership(
            what,
            every_branch=True,
            dealers=frozenset([reader_dealer] if of_grade and reader_dealer else []),
        )

    def account_in_scope(self, dealer_code: str, branch_scope: str | None) -> DealerAccount:
        """A registered dealer's account, for a caller of its branch (``branch_scope``: the
        caller's branch, None for headquarters)."""
        self.known_dealer(dealer_code)
        account = self.get_account(dealer_code)
        if branch_scope is not None and account.branch != branch_scope:
            raise OutsideScope(f"dealer {dealer_code} belongs to branch {account.branch}")
        return account

    def get_account(self, dealer_code: str) -> DealerAccount:
        account = self.find_account(dealer_code)
        if account is None:
            raise UnknownAccount(f"no account for dealer {dealer_code}")
        return account

    def set_credit_terms(
        self, cmd: SetCreditTerms, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """HQ sets a registered dealer's credit limit and payment terms."""
        dealer = self.known_dealer(cmd.dealer_code)
        # The registration opened the account in the transaction that made the dealer known
        # here: this opens one only should it be missing all the same.
        account = self.find_account(cmd.dealer_code) or DealerAccount(
            dealer_code=cmd.dealer_code,
            grade=dealer.grade,
            branch=dealer.branch,
            region=dealer.region,
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
        self.known_dealer(dealer_code)
        account = self.get_account(dealer_code)
        billing = self._find_billing(order_id)
        if billing is None or billing.dealer_code != dealer_code:
            raise UnknownOrder(f"no order {order_id} of dealer {dealer_code}")
        account.override(order_id, by)
        body = {"dealer_code": dealer_code, "order_id": order_id, **account_view(account)}
        return self.save_command(account, status_code=201, body=body, idempotency=idempotency)

    def _find_billing(self, order_id: str) -> OrderBilling | None:
        """What finance heard of the order when it was placed (None: never placed)."""
        try:
            return self.repository.get(OrderBilling.create_id(order_id))
        except AggregateNotFoundError:
            return None

    # -- receivables -------------------------------------------------------------------------
    def get_invoice(self, invoice_id: UUID) -> Invoice:
        try:
            invoice = self.repository.get(invoice_id)
        except AggregateNotFoundError:
            invoice = None
        if not isinstance(invoice, Invoice):
            raise UnknownInvoice(f"no invoice {invoice_id}")
        return invoice

    # -- 期初: opening receivables at the cut-over -----------------------------------------
    def record_opening_invoice(
        self, cmd: RecordOpeningInvoice, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """An invoice still open at the cut-over: a receivable from its own dates on."""
        invoice_id = OpeningInvoice.create_id(cmd.dealer_code, cmd.number)
        account, duplicate = self._opening(cmd.dealer_code, invoice_id, "invoice", cmd.number)
        if cmd.issue_date > cmd.cut_over_date:
            raise InvalidBusinessDate("an opening invoice is dated on or before the cut-over")
        account.post_opening_invoice(str(invoice_id), cmd.open_amount, cmd.issue_date, cmd.due_date)
        invoice = OpeningInvoice(
            number=cmd.number,
            dealer_code=cmd.dealer_code,
            issue_date=cmd.issue_date,
            due_date=cmd.due_date,
            total=cmd.open_amount,
            cut_over_date=cmd.cut_over_date,
            by=by,
        )
        body = {
            "invoice_id": str(invoice.id),
            "invoice_number": cmd.number,
            "dealer_code": cmd.dealer_code,
            "issue_date": cmd.issue_date.isoformat(),
            "due_date": cmd.due_date.isoformat(),
            "open_amount": money(cmd.open_amount),
            "cut_over_date": cmd.cut_over_date.isoformat(),
            "receivables": money(account.receivables),
            "exposure": money(account.exposure),
        }
        return self._save_opening(invoice, account, body, idempotency, duplicate)

    def record_opening_cash(
        self, cmd: RecordOpeningCash, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """Cash the dealer had on account at the cut-over."""
        document_id = OpeningCash.create_id(cmd.dealer_code, cmd.number)
        account, duplicate = self._opening(cmd.dealer_code, document_id, "cash", cmd.number)
        account.post_opening_cash(str(document_id), cmd.amount, cmd.cut_over_date)
        document = OpeningCash(
            number=cmd.number,
            dealer_code=cmd.dealer_code,
            amount=cmd.amount,
            cut_over_date=cmd.cut_over_date,
            by=by,
        )
        body = {
            "document_id": str(document.id),
            "document_number": cmd.number,
            "dealer_code": cmd.dealer_code,
            "amount": money(cmd.amount),
            "cut_over_date": cmd.cut_over_date.isoformat(),
            "receivables": money(account.receivables),
            "exposure": money(account.exposure),
        }
        return self._save_opening(document, account, body, idempotency, duplicate)

    def record_opening_rebate_pool(
        self, cmd: RecordOpeningRebatePool, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """A dealer's rebate pool under a policy at the cut-over."""
        policy = self.get_policy(cmd.policy_code)
        document_id = OpeningRebatePool.create_id(cmd.dealer_code, cmd.number)
        account, duplicate = self._opening(cmd.dealer_code, document_id, "rebate pool", cmd.number)
        account.post_opening_rebate_pool(policy.code, cmd.amount)
        document = OpeningRebatePool(
            number=cmd.number,
            dealer_code=cmd.dealer_code,
            policy_code=policy.code,
            amount=cmd.amount,
            cut_over_date=cmd.cut_over_date,
            by=by,
        )
        body = {
            "document_id": str(document.id),
            "document_number": cmd.number,
            "dealer_code": cmd.dealer_code,
            "policy_code": policy.code,
            "amount": money(cmd.amount),
            "cut_over_date": cmd.cut_over_date.isoformat(),
            "rebate_pool": rebate_pool_view(account),
        }
        return self._save_opening(document, account, body, idempotency, duplicate)

    def _opening(
        self, dealer_code: str, document_id: UUID, what: str, number: str
    ) -> tuple[DealerAccount, OpeningAlreadyRecorded]:
        """The account an opening document of a known dealer goes to, and the refusal of its
        number a second time (raised here if it is recorded already)."""
        self.known_dealer(dealer_code)
        account = self.get_account(dealer_code)
        duplicate = OpeningAlreadyRecorded(
            f"opening {what} {number} of {dealer_code} is already recorded",
            document_number=number,
        )
        if self.exists(document_id):
            raise duplicate
        return account, duplicate

    def _save_opening(
        self,
        document: Any,
        account: DealerAccount,
        body: dict[str, Any],
        idempotency: IdempotencyKey | None,
        duplicate: OpeningAlreadyRecorded,
    ) -> CommandResult:
        """Save an opening document with the account: the same number racing in is the
        duplicate; the account moving meanwhile, the caller decides again."""
        try:
            return self.save_command(
                document, account, status_code=201, body=body, idempotency=idempotency
            )
        except IntegrityError:
            if self.exists(document.id):
                raise duplicate from None
            raise

    def reopen_cut_over(
        self, dealer_code: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """Headquarters lets opening balances in after the dealer's business has started."""
        account = self.get_account(dealer_code)
        account.reopen_cut_over(by)
        return self.save_command(
            account,
            status_code=200,
            body={"dealer_code": dealer_code, "cut_over_reopened": True},
            idempotency=idempotency,
        )

    def record_receipt(
        self,
        cmd: RecordReceipt,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        check_amount(cmd.amount, "a receipt")
        account = self.account_in_scope(cmd.dealer_code, branch_scope)
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

    # -- 核销: what is held on account, applied to invoices --------------------------------
    def set_cash_application(
        self,
        dealer_code: str,
        automatic: bool,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Finance turns the dealer's automatic application on or off."""
        account = self.account_in_scope(dealer_code, branch_scope)
        account.set_cash_application(automatic, by)
        body = {
            "dealer_code": dealer_code,
            "auto_apply_cash": account.auto_apply,
            "unapplied_cash": money(account.unapplied),
        }
        return self.save_command(account, status_code=200, body=body, idempotency=idempotency)

    def apply_cash(
        self,
        cmd: ApplyCash,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """A clerk applies cash or credit held on the dealer's account to invoices it names:
        an invoice that is not the dealer's is unknown (404); more than an invoice has open
        or than the account holds is refused (409)."""
        account = self.account_in_scope(cmd.dealer_code, branch_scope)
        for invoice_id in cmd.allocations:
            if invoice_id not in account.open_invoices:
                invoice = self.get_invoice(UUID(invoice_id))  # 404 if there is none
                if invoice.dealer_code != cmd.dealer_code:
                    raise UnknownInvoice(f"no invoice {invoice_id} of dealer {cmd.dealer_code}")
        application_id = account.apply_cash(cmd.applied_on, cmd.allocations, by)
        body = {
            "application_id": application_id,
            "dealer_code": cmd.dealer_code,
            "applied_on": cmd.applied_on.isoformat(),
            "amount": money(sum(cmd.allocations.values(), ZERO)),
            "allocations": [
                {"invoice_id": i, "amount": money(a)} for i, a in cmd.allocations.items()
            ],
            "unapplied_cash": money(account.unapplied),
            "receivables": money(account.receivables),
            "open_invoices": account_view(account)["open_invoices"],
        }
        return self.save_command(account, status_code=201, body=body, idempotency=idempotency)

    def issue_credit_note(
        self, cmd: IssueCreditNote, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        invoice = self.get_invoice(cmd.invoice_id)
        self.check_skus(cmd.returned or ())
        account = self.get_account(invoice.dealer_code)
        note = CreditNote(
            dealer_code=invoice.dealer_code,
            invoice_id=str(invoice.id),
            amount=cmd.amount,
            issued_on=cmd.issued_on,
            reason=cmd.reason,
            by=by,
            return_id=None,
            lines=[],  # returned quantities (if any) count on the invoice; the price is typed
            allocations={str(invoice.id): cmd.amount},
            unapplied=ZERO,
        )
        credit_invoice(
            account,
            invoice,
            self.find_policy_book(),
            credit_note_id=str(note.id),
            amount=cmd.amount,
            issued_on=cmd.issued_on,
            returned=cmd.returned,
        )
        body = {
            "credit_note_id": str(note.id),
            "invoice_id": str(invoice.id),
            "dealer_code": invoice.dealer_code,
            "amount": money(cmd.amount),
            "issued_on": cmd.issued_on.isoformat(),
            "reason": cmd.reason,
            "returned": [
                {"sku": k, "quantity": q} for k, q in sorted((cmd.returned or {}).items())
            ],
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
        book.define(policy, by)  # a policy that breaks a rule: 409, whatever it names
        if policy.dealer_code is not None:
            self.known_dealer(policy.dealer_code)
        self.check_skus(policy.unit_amounts)
        return self.save_command(
            book, status_code=201, body=policy_view(policy), idempotency=idempotency
        )

    def get_policy(self, policy_code: str) -> RebatePolicy:
        book = self.find_policy_book()
        if book is None:
            raise UnknownPolicy(f"no rebate policy {policy_code}")
        return book.get(policy_code)

    def settle_rebate_policy(
        self, cmd: SettleRebatePolicy, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """At period end: for each dealer (one, or every dealer that accrued under the
        policy) settle what the policy accrued less what earlier settlements settled. The
        accounts are saved together (optimistic concurrency on each): a settlement racing
        this one either loses and decides again on fresh state, or finds nothing to settle."""
        policy = self.get_policy(cmd.policy_code)
        policy.check_ended(cmd.settled_on)
        if cmd.dealer_code is not None:
            dealers = [cmd.dealer_code]
            self.known_dealer(cmd.dealer_code)
            self.get_account(cmd.dealer_code)
        else:
            try:
                enrolment = self.repository.get(RebateEnrolment.create_id(policy.code))
                dealers = list(enrolment.dealers)
            except AggregateNotFoundError:
                dealers = []
        accounts = self.get_many([DealerAccount.create_id(code) for code in dealers])
        settled: list[tuple[DealerAccount, dict[str, Any]]] = []
        for account in sorted(accounts.values(), key=lambda a: a.dealer_code):
            previously = account.rebate_settled.get(policy.code, ZERO)
            settlement_id = str(uuid4())
            try:
                amount = account.settle_rebate(policy, settlement_id, cmd.settled_on, by)
            except NothingToSettle:
                if cmd.dealer_code is not None:
                    raise
                continue
            settled.append(
                (
                    account,
                    {
                        "settlement_id": settlement_id,
                        "dealer_code": account.dealer_code,
                        "accrued": money(account.rebate_accrued.get(policy.code, ZERO)),
                        "previously_settled": money(previously),
                        "amount": money(amount),
                        "available": money(account.rebate_available),
                    },
                )
            )
        if not settled:
            raise NothingToSettle(
                f"no dealer has anything accrued under {policy.code} that is not settled yet"
            )
        body = {
            "policy_code": policy.code,
            "period_from": policy.valid_from.isoformat(),
            "period_to": policy.valid_to.isoformat(),
            "settled_on": cmd.settled_on.isoformat(),
            "settlements": [row for _, row in settled],
            "total": money(sum((Decimal(row["amount"]) for _, row in settled), ZERO)),
        }
        return self.save_command(
            *(account for account, _ in settled),
            status_code=201,
            body=body,
            idempotency=idempotency,
        )

    # -- rebate claims -----------------------------------------------------------------------
    def get_claim(self, claim_id: UUID) -> RebateClaim:
        try:
            claim = self.repository.get(claim_id)
        except AggregateNotFoundError:
            claim = None
        if not isinstance(claim, RebateClaim):
            raise UnknownClaim(f"no rebate claim {claim_id}")
        return claim

    def file_rebate_claim(
        self,
        cmd: FileRebateClaim,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
        dealer_scope: str | None = None,
    ) -> CommandResult:
        """A salesperson (or the dealer itself, on its own pool: ``dealer_scope``) claims
        (part of) a dealer's settled, unclaimed rebate; a manager decides either way."""
        if dealer_scope is not None and cmd.dealer_code != dealer_scope:
            raise OutsideScope(f"dealer {dealer_scope} may claim its own rebate only")
        account = self.account_in_scope(cmd.dealer_code, branch_scope)
        claim = RebateClaim(
            dealer_code=cmd.dealer_code,
            branch=account.branch,
            amount=cmd.amount,
            salesperson=cmd.salesperson,
            filed_on=cmd.filed_on,
            note=cmd.note,
            by=by,
        )
        account.reserve_rebate_claim(str(claim.id), cmd.amount)
        body = {**claim_view(claim), "rebate_pool": rebate_pool_view(account)}
        return self.save_command(
            claim, account, status_code=201, body=body, idempotency=idempotency
        )

    def _claim_in_scope(self, claim_id: UUID, branch_scope: str | None) -> RebateClaim:
        claim = self.get_claim(claim_id)
        if branch_scope is not None and claim.branch != branch_scope:
            raise OutsideScope(f"rebate claim {claim_id} is for branch {claim.branch}")
        return claim

    def approve_rebate_claim(
        self,
        claim_id: UUID,
        credited_on: date,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """A manager approves: the claim is credited against the dealer's receivables
        (RebateCredited), to its open invoices oldest first, the rest on account."""
        claim = self._claim_in_scope(claim_id, branch_scope)
        claim.check_decidable(by)
        claim.check_decision_date(credited_on)
        account = self.get_account(claim.dealer_code)
        allocations = account.credit_rebate(str(claim.id), credited_on)
        claim.credit(credited_on=credited_on, allocations=allocations, by=by)
        body = {
            **claim_view(claim),
            "receivables": money(account.receivables),
            "rebate_pool": rebate_pool_view(account),
        }
        return self.save_command(
            claim, account, status_code=200, body=body, idempotency=idempotency
        )

    def reject_rebate_claim(
        self,
        claim_id: UUID,
        rejected_on: date,
        reason: str,
        *,
        by: Provenance,
        branch_scope: str | None,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """A manager turns the claim down: its amount is back in the pool."""
        claim = self._claim_in_scope(claim_id, branch_scope)
        claim.check_decidable(by)
        claim.check_decision_date(rejected_on)
        account = self.get_account(claim.dealer_code)
        account.release_rebate_claim(str(claim.id))
        claim.reject(rejected_on=rejected_on, reason=reason, by=by)
        body = {**claim_view(claim), "rebate_pool": rebate_pool_view(account)}
        return self.save_command(
            claim, account, status_code=200, body=body, idempotency=idempotency
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
def register_dealer(unit: Unit, envelope: Envelope, dealer: orders_events.DealerRegistered) -> None:
    """A dealer joined: finance knows it from now on (the replica) and opens its account."""
    replica.record_dealer(unit, envelope, dealer)
    open_account(unit, envelope, dealer)


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
        # The dealer's first order (or consignment sale) reached finance before its
        # registration did (they travel on different partitions): complete the account.
        account.describe(grade=dealer.grade, branch=dealer.branch, region=dealer.region)
        unit.save(account)


@reads(
    lambda placed: [
        OrderBilling.create_id(placed.order_id),
        DealerAccount.create_id(placed.dealer_code),
    ]
)
def reserve_credit(unit: Unit, envelope: Envelope, placed: orders_events.OrderPlaced) -> None:
    """An order was placed: reserve its total against the dealer's limit, or refuse.

    Orders places orders only for dealers it registered, but the order and the registration
    travel on different partitions: the order may arrive first. It is decided all the same
    (not refused as an unknown dealer), on an account opened for it without terms, so
    within a limit of zero; the registration completes the account when it arrives."""
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


@reads(lambda ended: [DealerAccount.create_id(ended.dealer_code)])
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
    _invoice(
        unit,
        account,
        invoice_id=invoice_id,
        order_id=shipped.order_id,
        shipment_id=shipped.shipment_id,
        issue_date=shipped.ship_date,
        lines=lines,
    )
    billing.record_invoice(
        shipment_id=shipped.shipment_id,
        invoice_id=str(invoice_id),
        lines={str(index): quantity for index, _line, quantity in filled},
    )
    unit.save(billing)
    for return_id, parked in list(billing.parked_returns.items()):
        # A return heard before this invoice: its goods may all be invoiced now.
        _credit_return(unit, billing, account, return_id, parked["returned"], parked["received_on"])


def invoice_consignment_sale(
    unit: Unit, envelope: Envelope, sale: orders_events.ConsignmentSaleRecorded
) -> None:
    """寄售结算: consignment stock a dealer sold is invoiced at the prices orders gave it, on
    the period's last day (the sell-through report is the movement it bills, once)."""
    invoice_id = Invoice.create_id(sale.report_id)
    if unit.find(invoice_id) is not None:
        return
    account = unit.find(DealerAccount.create_id(sale.dealer_code)) or DealerAccount(
        dealer_code=sale.dealer_code, grade=None, branch=sale.branch, region=sale.region
    )
    _invoice(
        unit,
        account,
        invoice_id=invoice_id,
        order_id=sale.sale_id,
        shipment_id=sale.report_id,
        issue_date=sale.period_to,
        lines=[
            {
                "sku": line.sku,
                "category": line.category,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
            }
            for line in sale.lines
        ],
    )


def _invoice(
    unit: Unit,
    account: DealerAccount,
    *,
    invoice_id: UUID,
    order_id: str,
    shipment_id: str,
    issue_date: date,
    lines: list[dict],
) -> Invoice:
    """Issue the invoice, due after the dealer's terms: a receivable on the account (taking
    the place of credit reserved for the order), and rebate accrued under the policies
    covering the dealer that day."""
    total = cny(sum((line["amount"] for line in lines), ZERO))
    due_date = issue_date + timedelta(days=account.terms_days)
    book = unit.find(RebatePolicyBook.create_id())
    policies = book.covering(account, issue_date) if book else []
    invoice = Invoice(
        number=f"INV-{issue_date:%Y%m%d}-{str(invoice_id)[:8].upper()}",
        dealer_code=account.dealer_code,
        order_id=order_id,
        shipment_id=shipment_id,
        issue_date=issue_date,
        due_date=due_date,
        lines=lines,
        total=total,
        rebate_policies=[policy.code for policy in policies],
    )
    account.post_invoice(
        invoice_id=str(invoice_id),
        order_id=order_id,
        amount=total,
        issue_date=issue_date,
        due_date=due_date,
    )
    paid_units = invoice.paid_units()
    enrolments = []
    for policy in policies:
        if policy.code not in account.rebate_base:  # its first accrual under the policy
            enrolment = unit.find(RebateEnrolment.create_id(policy.code)) or RebateEnrolment(
                policy_code=policy.code
            )
            enrolment.enrol(account.dealer_code)
            enrolments.append(enrolment)
        account.accrue_rebate(policy, str(invoice_id), issue_date, total, paid_units)
    # 核销: cash or credit the dealer holds on account pays the oldest open invoices now.
    account.apply_cash_automatically(issue_date)
    unit.save(invoice, account, *enrolments)
    return invoice


def credit_return(
    unit: Unit, envelope: Envelope, received: inventory_events.ReturnReceived
) -> None:
    """退货: the warehouse received a dealer's return. Credit what arrived at the prices its
    invoices charged (paid units first, gifts at zero), on the invoices that billed it, each
    up to what it still has open; the rest stays on account. The invoices' rebate gives back
    its share."""
    billing = unit.get(OrderBilling.create_id(received.order_id))
    if received.return_id in billing.credited_returns:
        return
    account = unit.get(DealerAccount.create_id(received.dealer_code))
    returned = {
        line.sku: line.good + line.damaged for line in received.lines if line.good + line.damaged
    }
    _credit_return(unit, billing, account, received.return_id, returned, received.received_on)


def _credit_return(
    unit: Unit,
    billing: OrderBilling,
    account: DealerAccount,
    return_id: str,
    returned: dict[str, int],
    received_on: date,
) -> None:
    invoices = [unit.get(Invoice.create_id(s)) for s in billing.invoiced_shipments]
    # Which invoice takes back which units: the earliest that billed them first.
    left = dict(returned)
    portions: list[tuple[Invoice, dict[str, int]]] = []
    for invoice in invoices:
        take = {}
        for sku, quantity in left.items():
            part = min(quantity, invoice.returnable(sku))
            if part > 0:
                take[sku] = part
        if take:
            portions.append((invoice, take))
            for sku, part in take.items():
                left[sku] -= part
    if any(left.values()):
        billing.park_return(return_id, returned, received_on)  # not all invoiced yet
        unit.save(billing)
        return
    priced = [(invoice, take, invoice.price_returned(take)) for invoice, take in portions]
    amount = sum((line["amount"] for *_, lines in priced for line in lines), ZERO)
    allocations = account.allocate_credit(amount, [str(invoice.id) for invoice, *_ in priced])
    note = CreditNote(
        dealer_code=account.dealer_code,
        invoice_id=str(portions[0][0].id),
        amount=amount,
        issued_on=received_on,
        reason=f"goods returned (return {return_id})",
        by=None,
        return_id=return_id,
        lines=[line for *_, lines in priced for line in lines],
        allocations=allocations,
        unapplied=amount - sum(allocations.values(), ZERO),
    )
    account.apply_return_credit(
        credit_note_id=str(note.id), amount=amount, issued_on=received_on, allocations=allocations
    )
    # What each policy accrued on these invoices comes back: their share of net sales and,
    # per unit, the paid units returned.
    book = unit.find(RebatePolicyBook.create_id())
    base: dict[str, Decimal] = {}
    units: dict[str, dict[str, int]] = {}
    for invoice, take, lines in priced:
        share = sum((line["amount"] for line in lines), ZERO)
        paid_back = invoice.record_return(str(note.id), take)
        invoice.credit(credit_note_id=str(note.id), amount=share)
        for code in invoice.rebate_policies:
            base[code] = base.get(code, ZERO) - share
            for sku, quantity in paid_back.items():
                if quantity:
                    units.setdefault(code, {})[sku] = units.get(code, {}).get(sku, 0) - quantity
    for policy in book.all() if book else []:
        if policy.code in base:
            account.accrue_rebate(
                policy, str(note.id), received_on, base[policy.code], units.get(policy.code, {})
            )
    billing.record_return_credit(return_id=return_id, credit_note_id=str(note.id))
    unit.save(note, account, billing, *(invoice for invoice, *_ in priced))


POLICIES: dict[str, Policy] = {
    **replica.POLICIES,
    str(orders_events.DealerRegistered.event_type()): register_dealer,
    str(orders_events.OrderPlaced.event_type()): reserve_credit,
    str(orders_events.OrderRejected.event_type()): release_credit,
    str(orders_events.OrderCancelled.event_type()): release_credit,
    str(inventory_events.ShipmentDispatched.event_type()): issue_invoice,
    str(inventory_events.ReturnReceived.event_type()): credit_return,
    str(orders_events.ConsignmentSaleRecorded.event_type()): invoice_consignment_sale,
}

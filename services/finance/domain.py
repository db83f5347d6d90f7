"""The finance service's aggregates: dealer accounts (credit limit, terms, exposure,
receivables, the rebate pool), invoices, receipts, credit notes, rebate policies and claims.

A dealer's account is the consistency boundary of its credit: every reservation, invoice,
receipt and credit note of one dealer changes its account, so concurrent orders of one dealer
meet on the account's version and none of them can slip past the limit unseen.

    exposure    = receivables + credit reserved for approved-but-unbilled orders
    receivables = invoices - receipts - credit notes - rebates credited
                  (unapplied cash and unapplied rebate credit lower it)

What is held on account (unapplied cash and credit) is applied to open invoices (核销):
automatically to the oldest as an invoice is issued, in the same change of the account, or
to invoices a clerk names. Receivables do not move; invoices' open amounts and what is held
on account fall together.

The account is also the boundary of the dealer's rebate pool (返利池): accrued per policy,
settled at period end, claimed, credited. Settling, claiming and crediting all change the
account, so two settlements (or two claims) racing meet on its version and only one of them
can pay what was accrued.

    available to claim = settled - claimed (pending) - credited
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from contracts.finance import ChannelHealthRulesSet
from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation
from services.kernel.money import MAX_ORDER_TOTAL, cny

_IDS = uuid5(NAMESPACE_URL, "urn:dist:finance")
ZERO = Decimal("0.00")
DEFAULT_TERMS_DAYS = 30


class UnknownAccount(NotFound):
    code = "unknown_account"


class UnknownInvoice(NotFound):
    code = "unknown_invoice"


class UnknownOrder(NotFound):
    code = "unknown_order"


class InvalidTransition(RuleViolation):
    code = "invalid_transition"


class InvalidAmount(RuleViolation):
    code = "invalid_amount"


class InvalidTerms(RuleViolation):
    code = "invalid_terms"


class OverAllocation(RuleViolation):
    code = "over_allocation"


class CashExceedsOnAccount(RuleViolation):
    code = "cash_application_exceeds_on_account"


class CashExceedsOpen(RuleViolation):
    code = "cash_application_exceeds_open"


class CreditNoteTooLarge(RuleViolation):
    code = "credit_note_exceeds_open_balance"


class InvalidPolicy(RuleViolation):
    code = "invalid_rebate_policy"


class InvalidHealthRules(RuleViolation):
    code = "invalid_health_rules"


class PolicyAlreadyDefined(RuleViolation):
    code = "rebate_policy_already_defined"


class UnknownPolicy(NotFound):
    code = "unknown_rebate_policy"


class UnknownClaim(NotFound):
    code = "unknown_rebate_claim"


class PeriodNotEnded(RuleViolation):
    code = "rebate_period_not_ended"


class NothingToSettle(RuleViolation):
    code = "nothing_to_settle"


class ClaimExceedsPool(RuleViolation):
    code = "rebate_claim_exceeds_pool"


class SelfApproval(RuleViolation):
    code = "rebate_claim_self_approval"


class InvalidBusinessDate(RuleViolation):
    code = "invalid_business_date"


class CutOverClosed(RuleViolation):
    code = "cut_over_closed"


class OpeningAlreadyRecorded(RuleViolation):
    code = "opening_already_recorded"


class ReturnExceedsInvoiced(RuleViolation):
    code = "returned_quantity_exceeds_invoiced"


def check_amount(amount: Decimal, what: str) -> Decimal:
    if amount <= 0 or cny(amount) != amount or amount > MAX_ORDER_TOTAL:
        raise InvalidAmount(f"{what} must be positive, to the fen, at most {MAX_ORDER_TOTAL}")
    return amount


@dataclass(frozen=True)
class OpenInvoice:
    invoice_id: str
    issue_date: date
    due_date: date
    open: Decimal
    sequence: int  # the order invoices were posted in


class DealerAccount(Aggregate):
    """信用额度, 应收账款 and 返利池 of one dealer."""

    # v2 keeps the rebate pool (per-unit counts, settlements, claims, credits): a snapshot
    # taken before (v1) had none of them, as nothing had been settled or claimed then.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:
        state["rebate_units"] = {}
        state["rebate_settled"] = {}
        state["rebate_claims"] = {}
        state["rebate_credited"] = ZERO
        state["rebate_unapplied"] = ZERO

    @staticmethod
    def create_id(dealer_code: str) -> UUID:
        return uuid5(_IDS, f"account:{dealer_code}")

    class Opened(Aggregate.Created):
        dealer_code: str
        grade: str | None
        branch: str | None
        region: str | None

    @event(Opened)
    def __init__(
        self, *, dealer_code: str, grade: str | None, branch: str | None, region: str | None
    ) -> None:
        self.dealer_code = dealer_code
        self.grade = grade
        self.branch = branch
        self.region = region
        self.credit_limit = ZERO
        self.terms_days = DEFAULT_TERMS_DAYS
        self.reserved: dict[str, Decimal] = {}  # order id -> credit still reserved
        self.held: dict[str, Decimal] = {}  # order id -> amount refused, awaiting a decision
        self.open_invoices: dict[str, dict] = {}  # invoice id -> issue, due, open
        self.unapplied = ZERO
        self.invoices_posted = 0
        self.invoiced = ZERO
        self.received = ZERO
        self.credited = ZERO
        # Rebate per policy: net sales it covers so far, and what it accrued on them.
        self.rebate_base: dict[str, Decimal] = {}
        self.rebate_accrued: dict[str, Decimal] = {}
        # Per policy with per-unit amounts: net paid units per SKU it covers so far.
        self.rebate_units: dict[str, dict[str, int]] = {}
        # Per policy: what its settlements settled so far (the sum, claw-backs negative).
        self.rebate_settled: dict[str, Decimal] = {}
        self.rebate_claims: dict[str, Decimal] = {}  # claim id -> amount, filed and pending
        self.rebate_credited = ZERO
        self.rebate_unapplied = ZERO  # of rebate credited, what no invoice took (on account)

    @event("Described")
    def describe(self, grade: str, branch: str, region: str) -> None:
        self.grade = grade
        self.branch = branch
        self.region = region
        self._count_setup()

    # -- 期初: the cut-over ------------------------------------------------------------------
    def _count_setup(self) -> None:
        """Events that are not business (the account's description, its terms, opening
        balances, a reopened cut-over) are counted, so business is what else happened."""
        self.setup_events = getattr(self, "setup_events", 0) + 1

    @property
    def has_business(self) -> bool:
        """Whether an ordinary transaction (an order's credit, an invoice, a receipt, a
        credit note, a rebate) reached the account: every event but its opening (version
        1) and the setup events."""
        return self.version > 1 + getattr(self, "setup_events", 0)

    def check_cut_over_open(self) -> None:
        if self.has_business and not getattr(self, "cut_over_reopened", False):
            raise CutOverClosed(
                f"{self.dealer_code} already has business: opening balances come before it "
                "(headquarters may reopen the dealer's cut-over)",
                dealer_code=self.dealer_code,
            )

    @event("CutOverReopened")
    def reopen_cut_over(self, by: Provenance) -> None:
        self.cut_over_reopened = True
        self._count_setup()

    def post_opening_invoice(
        self, invoice_id: str, amount: Decimal, invoice_date: date, due_date: date
    ) -> None:
        """An invoice open at the cut-over (期初应收): a receivable like any invoice, paid by
        receipts (oldest first or named) and credited by credit notes; it counts in exposure."""
        check_amount(amount, "an opening invoice's open amount")
        if due_date < invoice_date:
            raise InvalidBusinessDate("an invoice falls due on or after its date")
        self.check_cut_over_open()
        self._opening_invoice_posted(
            invoice_id=invoice_id, amount=amount, invoice_date=invoice_date, due_date=due_date
        )

    def post_opening_cash(
        self, document_id: str, amount: Decimal, cut_over_date: date | None = None
    ) -> None:
        """Cash the dealer had on account at the cut-over (期初预收): unapplied, like a receipt
        no invoice took; it lowers receivables and exposure."""
        check_amount(amount, "opening cash on account")
        self.check_cut_over_open()
        self._opening_cash_posted(
            document_id=document_id, amount=amount, cut_over_date=cut_over_date
        )

    @event("OpeningCashPosted")
    def _opening_cash_posted(
        self,
        document_id: str,
        amount: Decimal,
        cut_over_date: date | None = None,  # recorded since cash applications (None before)
    ) -> None:
        self.unapplied += amount
        self.received += amount
        if cut_over_date is not None:
            self._held_from(cut_over_date)
        self._count_setup()

    def post_opening_rebate_pool(self, policy_code: str, amount: Decimal) -> None:
        """返利池 at the cut-over: rebate the former system settled under a policy and the
        dealer had not yet been credited. It may be claimed like settled rebate; it is kept
        apart from the policy's settlements, which settle what accrues here."""
        check_amount(amount, "an opening rebate pool")
        self.check_cut_over_open()
        self._opening_rebate_pool_posted(policy_code=policy_code, amount=amount)

    @event("OpeningRebatePoolPosted")
    def _opening_rebate_pool_posted(self, policy_code: str, amount: Decimal) -> None:
        pools = dict(self.rebate_opening)
        pools[policy_code] = pools.get(policy_code, ZERO) + amount
        self.rebate_opening_pools = pools
        self._count_setup()

    @event("OpeningInvoicePosted")
    def _opening_invoice_posted(
        self, invoice_id: str, amount: Decimal, invoice_date: date, due_date: date
    ) -> None:
        self.open_invoices[invoice_id] = {
            "issue_date": invoice_date,
            "due_date": due_date,
            "open": amount,
            "sequence": self.invoices_posted,
        }
        self.invoices_posted += 1
        self.invoiced += amount
        self._count_setup()

    # -- figures -----------------------------------------------------------------------------
    @property
    def receivables(self) -> Decimal:
        return self.invoiced - self.received - self.credited - self.rebate_credited

    @property
    def reserved_total(self) -> Decimal:
        return sum(self.reserved.values(), ZERO)

    @property
    def exposure(self) -> Decimal:
        return self.receivables + self.reserved_total

    def open_items(self) -> list[OpenInvoice]:
        """Open invoices, oldest first (by due date, then issue date, then as posted)."""
        items = [
            OpenInvoice(i, v["issue_date"], v["due_date"], v["open"], v["sequence"])
            for i, v in self.open_invoices.items()
        ]
        return sorted(items, key=lambda o: (o.due_date, o.issue_date, o.sequence))

    # -- terms -------------------------------------------------------------------------------
    def set_terms(self, credit_limit: Decimal, terms_days: int, by: Provenance) -> None:
        if credit_limit < 0 or cny(credit_limit) != credit_limit or credit_limit > MAX_ORDER_TOTAL:
            raise InvalidTerms("the credit limit must be zero or positive, to the fen")
        if not 0 <= terms_days <= 365:
            raise InvalidTerms("payment terms are 0 to 365 days")
        self._terms_set(
            dealer_code=self.dealer_code, credit_limit=credit_limit, terms_days=terms_days, by=by
        )

    @event("CreditTermsSet")
    def _terms_set(
        self, dealer_code: str, credit_limit: Decimal, terms_days: int, by: Provenance
    ) -> None:
        self.credit_limit = credit_limit
        self.terms_days = terms_days
        self._count_setup()

    # -- credit for orders -------------------------------------------------------------------
    def request_credit(self, order_id: str, amount: Decimal) -> bool:
        """Reserve ``amount`` for the order if it fits the limit (exactly at the limit fits);
        else hold it, refused. True if reserved. Asking again changes nothing."""
        if order_id in self.reserved:
            return True
        if order_id in self.held:
            return False
        exposure = self.exposure
        if exposure + amount <= self.credit_limit:
            self._reserved(
                dealer_code=self.dealer_code,
                order_id=order_id,
                amount=amount,
                exposure=exposure + amount,
                credit_limit=self.credit_limit,
                override=False,
                by=None,
            )
            return True
        self._refused(
            dealer_code=self.dealer_code,
            order_id=order_id,
            amount=amount,
            exposure=exposure,
            credit_limit=self.credit_limit,
            shortfall=exposure + amount - self.credit_limit,
        )
        return False

    def override(self, order_id: str, by: Provenance) -> None:
        """A credit controller lets one refused order past the limit."""
        if order_id in self.reserved:
            raise InvalidTransition(f"credit for order {order_id} is reserved already")
        if order_id not in self.held:
            raise InvalidTransition(
                f"order {order_id} has no refused credit on {self.dealer_code}'s account"
            )
        amount = self.held[order_id]
        self._reserved(
            dealer_code=self.dealer_code,
            order_id=order_id,
            amount=amount,
            exposure=self.exposure + amount,
            credit_limit=self.credit_limit,
            override=True,
            by=by,
        )

    @event("CreditReserved")
    def _reserved(
        self,
        dealer_code: str,
        order_id: str,
        amount: Decimal,
        exposure: Decimal,
        credit_limit: Decimal,
        override: bool,
        by: Provenance | None,
    ) -> None:
        self.held.pop(order_id, None)
        self.reserved[order_id] = amount

    @event("CreditRefused")
    def _refused(
        self,
        dealer_code: str,
        order_id: str,
        amount: Decimal,
        exposure: Decimal,
        credit_limit: Decimal,
        shortfall: Decimal,
    ) -> None:
        self.held[order_id] = amount

    def release(self, order_id: str, reason: str) -> None:
        """The order ended (rejected, cancelled): free what is reserved or held for it."""
        if order_id in self.reserved:
            self._released(
                dealer_code=self.dealer_code,
                order_id=order_id,
                amount=self.reserved[order_id],
                reason=reason,
            )
        elif order_id in self.held:
            self._hold_dropped(order_id=order_id, reason=reason)

    @event("CreditReleased")
    def _released(self, dealer_code: str, order_id: str, amount: Decimal, reason: str) -> None:
        del self.reserved[order_id]

    @event("HoldDropped")
    def _hold_dropped(self, order_id: str, reason: str) -> None:
        del self.held[order_id]

    # -- receivables -------------------------------------------------------------------------
    @event("InvoicePosted")
    def post_invoice(
        self, invoice_id: str, order_id: str, amount: Decimal, issue_date: date, due_date: date
    ) -> None:
        """What shipped becomes a receivable; that much of the order's reservation is used."""
        reserved = self.reserved.get(order_id)
        if reserved is not None:
            left = reserved - min(reserved, amount)
            if left > 0:
                self.reserved[order_id] = left
            else:
                del self.reserved[order_id]
        if amount > 0:  # an invoice of gifts alone owes nothing
            self.open_invoices[invoice_id] = {
                "issue_date": issue_date,
                "due_date": due_date,
                "open": amount,
                "sequence": self.invoices_posted,
            }
        self.invoices_posted += 1
        self.invoiced += amount

    def allocate(self, amount: Decimal, named: dict[str, Decimal] | None) -> dict[str, Decimal]:
        """Where a receipt goes: the named invoices (each at most its open amount), else the
        oldest open invoices first; the rest stays on account as unapplied cash."""
        allocations: dict[str, Decimal] = {}
        if named:
            total = sum(named.values(), ZERO)
            if total > amount:
                raise OverAllocation(f"allocations {total} exceed the receipt's {amount}")
            for invoice_id, part in named.items():
                check_amount(part, "an allocation")
                open_item = self.open_invoices.get(invoice_id)
                if open_item is None:
                    raise UnknownInvoice(
                        f"invoice {invoice_id} is not open on {self.dealer_code}'s account"
                    )
                if part > open_item["open"]:
                    raise OverAllocation(
                        f"invoice {invoice_id} has {open_item['open']} open, not {part}"
                    )
                allocations[invoice_id] = part
            return allocations
        left = amount
        for item in self.open_items():
            if left <= 0:
                break
            part = min(left, item.open)
            allocations[item.invoice_id] = part
            left -= part
        return allocations

    @event("ReceiptApplied")
    def apply_receipt(
        self, receipt_id: str, amount: Decimal, received_on: date, allocations: dict[str, Decimal]
    ) -> None:
        for invoice_id, part in allocations.items():
            self._reduce(invoice_id, part)
        self.unapplied += amount - sum(allocations.values(), ZERO)
        self.received += amount
        if amount > sum(allocations.values(), ZERO):
            self._held_from(received_on)

    def check_credit_note(self, invoice_id: str, amount: Decimal) -> None:
        check_amount(amount, "a credit note")
        open_item = self.open_invoices.get(invoice_id)
        open_amount = open_item["open"] if open_item else ZERO
        if amount > open_amount:
            raise CreditNoteTooLarge(
                f"invoice {invoice_id} has {open_amount} open; a credit note of {amount} "
                "would exceed it"
            )

    @event("CreditNoteApplied")
    def apply_credit_note(
        self, credit_note_id: str, invoice_id: str, amount: Decimal, issued_on: date
    ) -> None:
        self._reduce(invoice_id, amount)
        self.credited += amount

    def allocate_credit(self, amount: Decimal, invoice_ids: list[str]) -> dict[str, Decimal]:
        """Where a return's credit goes: the invoices that billed the goods, in turn, each
        up to what it still has open; the rest stays on account."""
        allocations: dict[str, Decimal] = {}
        left = amount
        for invoice_id in invoice_ids:
            open_item = self.open_invoices.get(invoice_id)
            if left <= 0 or open_item is None:
                continue
            part = min(left, open_item["open"] - allocations.get(invoice_id, ZERO))
            if part > 0:
                allocations[invoice_id] = allocations.get(invoice_id, ZERO) + part
                left -= part
        return allocations

    @event("ReturnCreditApplied")
    def apply_return_credit(
        self,
        credit_note_id: str,
        amount: Decimal,
        issued_on: date,
        allocations: dict[str, Decimal],
    ) -> None:
        for invoice_id, part in allocations.items():
            self._reduce(invoice_id, part)
        self.unapplied += amount - sum(allocations.values(), ZERO)
        self.credited += amount
        if amount > sum(allocations.values(), ZERO):
            self._held_from(issued_on)

    def _reduce(self, invoice_id: str, amount: Decimal) -> None:
        item = self.open_invoices[invoice_id]
        item["open"] -= amount
        if item["open"] <= 0:
            del self.open_invoices[invoice_id]

    # -- 核销: applying what is held on account to invoices --------------------------------
    @property
    def auto_apply(self) -> bool:
        """Whether cash and credit held on account go to the oldest open invoices as soon as
        an invoice is issued (on unless finance turned it off for the dealer)."""
        return getattr(self, "auto_apply_cash", True)

    @property
    def on_account_since(self) -> date | None:
        """The latest business date of what put cash or credit on account: an application
        counts from then at the earliest, so nothing is applied before it was held."""
        return getattr(self, "on_account_dated", None)

    def _held_from(self, business_date: date) -> None:
        since = self.on_account_since
        self.on_account_dated = business_date if since is None else max(since, business_date)

    def set_cash_application(self, automatic: bool, by: Provenance) -> None:
        self._cash_application_set(dealer_code=self.dealer_code, automatic=automatic, by=by)

    @event("CashApplicationSet")
    def _cash_application_set(self, dealer_code: str, automatic: bool, by: Provenance) -> None:
        self.auto_apply_cash = automatic
        self._count_setup()

    def apply_cash(self, applied_on: date, named: dict[str, Decimal], by: Provenance) -> str:
        """A clerk applies what is held on account to the invoices named, each at most what
        it has open, all of them at most what is held (an invoice not open: 0.00 open).
        Answers the application's id."""
        for invoice_id, part in named.items():
            check_amount(part, "an application")
            open_amount = self.open_invoices.get(invoice_id, {}).get("open", ZERO)
            if part > open_amount:
                raise CashExceedsOpen(
                    f"invoice {invoice_id} has {open_amount} open, not {part}",
                    invoice_id=invoice_id,
                    open=f"{open_amount:.2f}",
                )
        total = sum(named.values(), ZERO)
        if total > self.unapplied:
            raise CashExceedsOnAccount(
                f"{self.dealer_code} holds {max(self.unapplied, ZERO)} on account, not {total}",
                on_account=f"{max(self.unapplied, ZERO):.2f}",
            )
        since = self.on_account_since
        if since is not None and applied_on < since:
            raise InvalidBusinessDate(
                f"what {self.dealer_code} holds on account is dated up to {since}; it is "
                "applied on or after that date",
                on_account_since=since.isoformat(),
            )
        return self._apply(applied_on, dict(named), automatic=False, by=by)

    def apply_cash_automatically(self, issue_date: date) -> dict[str, Decimal]:
        """An invoice was issued: if the dealer's setting is on, what is held on account goes
        to the oldest open invoices (this one among them), as far as it reaches. Part of the
        invoice's own transaction, so two invoices can never take the same cash."""
        if not self.auto_apply or self.unapplied <= 0 or not self.open_invoices:
            return {}
        allocations = self.allocate(self.unapplied, None)
        since = self.on_account_since
        applied_on = issue_date if since is None else max(issue_date, since)
        self._apply(applied_on, allocations, automatic=True, by=None)
        return allocations

    def _apply(
        self,
        applied_on: date,
        allocations: dict[str, Decimal],
        automatic: bool,
        by: Provenance | None,
    ) -> str:
        total = sum(allocations.values(), ZERO)
        # One per account version: the same on every retry of the same decision.
        application_id = str(uuid5(_IDS, f"cash-application:{self.dealer_code}:{self.version}"))
        self._cash_applied(
            application_id=application_id,
            dealer_code=self.dealer_code,
            applied_on=applied_on,
            amount=total,
            allocations=allocations,
            automatic=automatic,
            on_account=self.unapplied - total,
            by=by,
        )
        return application_id

    @event("CashApplied")
    def _cash_applied(
        self,
        application_id: str,
        dealer_code: str,
        applied_on: date,
        amount: Decimal,
        allocations: dict[str, Decimal],
        automatic: bool,
        on_account: Decimal,
        by: Provenance | None,
    ) -> None:
        for invoice_id, part in allocations.items():
            self._reduce(invoice_id, part)
        self.unapplied -= amount

    # -- rebates -----------------------------------------------------------------------------
    def accrue_rebate(
        self,
        policy: RebatePolicy,
        document_id: str,
        business_date: date,
        base: Decimal,
        units: dict[str, int] | None = None,
    ) -> None:
        """Accrue (or, for a negative base or units, reverse) rebate so that what the policy
        accrued always equals what it pays on the net sales and paid units it covers
        (``policy.earned``), rounded to the fen: each document accrues the difference, so
        roundings never add up and crossing the threshold (either way) is exact."""
        counted = {sku: q for sku, q in (units or {}).items() if q and sku in policy.unit_amounts}
        covered = self.rebate_base.get(policy.code, ZERO) + base
        covered_units = dict(self.rebate_units.get(policy.code, {}))
        for sku, quantity in counted.items():
            covered_units[sku] = covered_units.get(sku, 0) + quantity
        target = policy.earned(covered, covered_units)
        amount = target - self.rebate_accrued.get(policy.code, ZERO)
        self._rebate_accrued(
            dealer_code=self.dealer_code,
            policy_code=policy.code,
            document_id=document_id,
            business_date=business_date,
            base=base,
            rate=policy.rate,
            amount=amount,
            units=counted,
        )

    @event("RebateAccrued")
    def _rebate_accrued(
        self,
        dealer_code: str,
        policy_code: str,
        document_id: str,
        business_date: date,
        base: Decimal,
        rate: Decimal,
        amount: Decimal,
        units: dict[str, int] | None = None,  # recorded since per-unit rebates (None before)
    ) -> None:
        self.rebate_base[policy_code] = self.rebate_base.get(policy_code, ZERO) + base
        self.rebate_accrued[policy_code] = self.rebate_accrued.get(policy_code, ZERO) + amount
        if units:
            counts = self.rebate_units.setdefault(policy_code, {})
            for sku, quantity in units.items():
                counts[sku] = counts.get(sku, 0) + quantity

    @property
    def rebate_opening(self) -> dict[str, Decimal]:
        """Per policy: the pool brought in at the cut-over (none on accounts before it)."""
        return getattr(self, "rebate_opening_pools", {})

    @property
    def rebate_settled_total(self) -> Decimal:
        """Settled at period ends, and what the pool held at the cut-over."""
        settled = sum(self.rebate_settled.values(), ZERO)
        return settled + sum(self.rebate_opening.values(), ZERO)

    @property
    def rebate_claimed(self) -> Decimal:
        return sum(self.rebate_claims.values(), ZERO)

    @property
    def rebate_available(self) -> Decimal:
        """Settled and neither claimed nor credited. Negative after a claw-back that took
        back more than was left: the dealer owes that much of the pool, and the next
        settlements make it up before anything can be claimed."""
        return self.rebate_settled_total - self.rebate_claimed - self.rebate_credited

    def settle_rebate(
        self, policy: RebatePolicy, settlement_id: str, settled_on: date, by: Provenance
    ) -> Decimal:
        """Fix what is payable under ``policy`` for its period: what it accrued for this
        dealer less what earlier settlements of it settled. Nothing new: NothingToSettle
        (so a second settlement can never pay the same accrual again)."""
        policy.check_ended(settled_on)
        accrued = self.rebate_accrued.get(policy.code, ZERO)
        previously = self.rebate_settled.get(policy.code, ZERO)
        amount = accrued - previously
        if amount == 0:
            raise NothingToSettle(
                f"{self.dealer_code}: everything accrued under {policy.code} ({accrued}) is "
                "settled already"
            )
        self._rebate_settled(
            dealer_code=self.dealer_code,
            policy_code=policy.code,
            settlement_id=settlement_id,
            period_from=policy.valid_from,
            period_to=policy.valid_to,
            settled_on=settled_on,
            accrued=accrued,
            previously_settled=previously,
            amount=amount,
            by=by,
        )
        return amount

    @event("RebateSettled")
    def _rebate_settled(
        self,
        dealer_code: str,
        policy_code: str,
        settlement_id: str,
        period_from: date,
        period_to: date,
        settled_on: date,
        accrued: Decimal,
        previously_settled: Decimal,
        amount: Decimal,
        by: Provenance,
    ) -> None:
        self.rebate_settled[policy_code] = previously_settled + amount

    def reserve_rebate_claim(self, claim_id: str, amount: Decimal) -> None:
        """A claim takes its amount out of what is available to claim."""
        check_amount(amount, "a rebate claim")
        available = self.rebate_available
        if amount > available:
            raise ClaimExceedsPool(
                f"{self.dealer_code} has {max(available, ZERO)} settled and unclaimed; a claim "
                f"of {amount} exceeds it",
                available=f"{available:.2f}",
            )
        self._rebate_claim_reserved(claim_id=claim_id, amount=amount)

    @event("RebateClaimReserved")
    def _rebate_claim_reserved(self, claim_id: str, amount: Decimal) -> None:
        self.rebate_claims[claim_id] = amount

    @event("RebateClaimReleased")
    def release_rebate_claim(self, claim_id: str) -> None:
        """A rejected claim's amount is back in the pool."""
        del self.rebate_claims[claim_id]

    def credit_rebate(self, claim_id: str, credited_on: date) -> dict[str, Decimal]:
        """An approved claim is credited against receivables like a credit note: to the open
        invoices oldest first; the rest stays on account as unapplied credit."""
        amount = self.rebate_claims[claim_id]
        allocations = self.allocate(amount, None)
        self._rebate_credit_applied(
            claim_id=claim_id, amount=amount, credited_on=credited_on, allocations=allocations
        )
        return allocations

    @event("RebateCreditApplied")
    def _rebate_credit_applied(
        self, claim_id: str, amount: Decimal, credited_on: date, allocations: dict[str, Decimal]
    ) -> None:
        for invoice_id, part in allocations.items():
            self._reduce(invoice_id, part)
        rest = amount - sum(allocations.values(), ZERO)
        self.unapplied += rest
        self.rebate_unapplied += rest
        if rest > 0:
            self._held_from(credited_on)
        self.rebate_credited += amount
        del self.rebate_claims[claim_id]


class OrderBilling(Aggregate):
    """What finance knows of one order: its prices (from placing) and which shipments of it
    were invoiced, so each shipment is invoiced exactly once."""

    @staticmethod
    def create_id(order_id: str) -> UUID:
        return uuid5(_IDS, f"order:{order_id}")

    class Opened(Aggregate.Created):
        order_id: str
        dealer_code: str
        lines: list[dict]  # sku, category, quantity, unit_price
        total: Decimal

    @event(Opened)
    def __init__(self, *, order_id: str, dealer_code: str, lines: list[dict], total: Decimal):
        self.order_id = order_id
        self.dealer_code = dealer_code
        self.lines = lines
        self.total = total
        self.invoiced_shipments: list[str] = []
        # 退货: returns received and not yet credited (their goods not all invoiced yet),
        # and returns credited, by return id.
        self.parked_returns: dict[str, dict] = {}
        self.credited_returns: dict[str, str] = {}  # return id -> credit note id

        self.invoiced: dict[int, int] = {}  # line index -> quantity invoiced

    def invoice_lines(self, shipped: dict[str, int]) -> list[tuple[int, dict, int]]:
        """Which of the order's lines a shipment's quantities fill: (line index, line,
        quantity), in the order's line order. A SKU on several lines (a paid line and a
        promotion's gift of the same SKU) fills them in that order, so paid units invoice
        before gifts and a fully shipped order invoices exactly its total."""
        filled: list[tuple[int, dict, int]] = []
        for sku, quantity in shipped.items():
            indexes = [i for i, line in enumerate(self.lines) if line["sku"] == sku]
            if not indexes:
                raise InvalidTransition(f"order {self.order_id} has no line for {sku}")
            left = quantity
            for position, index in enumerate(indexes):
                room = self.lines[index]["quantity"] - self.invoiced.get(index, 0)
                last = position == len(indexes) - 1
                part = left if last else min(left, max(room, 0))
                if part > 0:
                    filled.append((index, self.lines[index], part))
                    left -= part
        return sorted(filled, key=lambda f: f[0])  # as the order lists them

    class ShipmentInvoiced(Aggregate.Event):
        shipment_id: str
        invoice_id: str
        lines: dict[str, int]  # line index -> quantity invoiced

        # v2 names the order lines the invoice filled; before gift lines, a SKU had one line.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["lines"] = {}

    @event(ShipmentInvoiced)
    def record_invoice(self, shipment_id: str, invoice_id: str, lines: dict[str, int]) -> None:
        self.invoiced_shipments.append(shipment_id)
        for index, quantity in lines.items():
            self.invoiced[int(index)] = self.invoiced.get(int(index), 0) + quantity

    def park_return(self, return_id: str, returned: dict[str, int], received_on: date) -> None:
        """A return whose goods are not all invoiced yet (finance heard the warehouse's
        receipt before the shipment's invoice): credited once they are."""
        if return_id not in self.parked_returns and return_id not in self.credited_returns:
            self._return_parked(return_id=return_id, returned=returned, received_on=received_on)

    @event("ReturnParked")
    def _return_parked(self, return_id: str, returned: dict[str, int], received_on: date) -> None:
        self.parked_returns[return_id] = {"returned": returned, "received_on": received_on}

    @event("ReturnCredited")
    def record_return_credit(self, return_id: str, credit_note_id: str) -> None:
        self.parked_returns.pop(return_id, None)
        self.credited_returns[return_id] = credit_note_id


class Invoice(Aggregate):
    """发票: one per shipment, at the order's prices."""

    @staticmethod
    def create_id(shipment_id: str) -> UUID:
        return uuid5(_IDS, f"invoice:{shipment_id}")

    class Issued(Aggregate.Created):
        number: str
        dealer_code: str
        order_id: str
        shipment_id: str
        issue_date: date
        due_date: date
        lines: list[dict]
        total: Decimal
        rebate_policies: list[str]

    @event(Issued)
    def __init__(
        self,
        *,
        number: str,
        dealer_code: str,
        order_id: str,
        shipment_id: str,
        issue_date: date,
        due_date: date,
        lines: list[dict],
        total: Decimal,
        rebate_policies: list[str],
    ) -> None:
        self.number = number
        self.dealer_code = dealer_code
        self.order_id = order_id
        self.shipment_id = shipment_id
        self.issue_date = issue_date
        self.due_date = due_date
        self.lines = lines
        self.total = total
        self.rebate_policies = rebate_policies
        self.credited = ZERO
        self.returned: dict[str, int] = {}  # per SKU, units credit notes took back
        self.paid_returned: dict[str, int] = {}  # of them, units invoiced at a price

    @event("Credited")
    def credit(self, credit_note_id: str, amount: Decimal) -> None:
        self.credited += amount

    def paid_units(self) -> dict[str, int]:
        """Units invoiced at a price, per SKU: gift lines (zero price) earn no rebate."""
        units: dict[str, int] = {}
        for line in self.lines:
            if line["unit_price"] > 0:
                units[line["sku"]] = units.get(line["sku"], 0) + line["quantity"]
        return units

    def returnable(self, sku: str) -> int:
        """Units of the SKU this invoice billed that no credit note took back yet."""
        billed = sum(line["quantity"] for line in self.lines if line["sku"] == sku)
        return billed - self.returned.get(sku, 0)

    def paid_left(self, sku: str) -> int:
        return self.paid_units().get(sku, 0) - self.paid_returned.get(sku, 0)

    def paid_price(self, sku: str) -> Decimal:
        """What the invoice charged a paid unit of the SKU (zero: only gifts of it)."""
        prices = [line["unit_price"] for line in self.lines if line["sku"] == sku]
        return max(prices, default=ZERO)

    def price_returned(self, returned: dict[str, int]) -> list[dict]:
        """Returned units at this invoice's prices: paid units first (at the paid price),
        the rest as gifts at zero, as ``record_return`` counts them."""
        categories = {line["sku"]: line["category"] for line in self.lines}
        lines = []
        for sku, quantity in sorted(returned.items()):
            paid = min(quantity, self.paid_left(sku))
            line = {"sku": sku, "category": categories[sku]}
            if paid:
                price = self.paid_price(sku)
                lines.append(
                    {**line, "quantity": paid, "unit_price": price, "amount": cny(price * paid)}
                )
            if quantity - paid:
                lines.append(
                    {**line, "quantity": quantity - paid, "unit_price": ZERO, "amount": ZERO}
                )
        return lines

    def record_return(self, credit_note_id: str, returned: dict[str, int]) -> dict[str, int]:
        """Goods a credit note takes back, per SKU: at most what the invoice has not had back
        yet. Returned units count as paid units first (a unit credited at a price gives
        back its per-unit rebate), the rest as gift units (which earned nothing). Answers
        the paid units per SKU whose rebate the credit note gives back."""
        invoiced: dict[str, int] = {}
        for line in self.lines:
            invoiced[line["sku"]] = invoiced.get(line["sku"], 0) + line["quantity"]
        paid = self.paid_units()
        paid_back: dict[str, int] = {}
        for sku, quantity in returned.items():
            if quantity <= 0:
                raise InvalidAmount(f"a returned quantity of {sku} must be positive")
            left = invoiced.get(sku, 0) - self.returned.get(sku, 0)
            if quantity > left:
                raise ReturnExceedsInvoiced(
                    f"invoice {self.number} has {left} of {sku} not returned yet, not {quantity}"
                )
            paid_left = paid.get(sku, 0) - self.paid_returned.get(sku, 0)
            paid_back[sku] = min(quantity, paid_left)
        self._returned(credit_note_id=credit_note_id, returned=returned, paid=paid_back)
        return paid_back

    @event("GoodsReturned")
    def _returned(
        self, credit_note_id: str, returned: dict[str, int], paid: dict[str, int]
    ) -> None:
        for sku, quantity in returned.items():
            self.returned[sku] = self.returned.get(sku, 0) + quantity
        for sku, quantity in paid.items():
            self.paid_returned[sku] = self.paid_returned.get(sku, 0) + quantity


class OpeningInvoice(Invoice):
    """期初应收: an invoice of the former system still open at the cut-over, with its own
    number, date and due date. It bills no lines here (its sales are history) and accrued
    no rebate; receipts pay it and credit notes credit it like any invoice."""

    @staticmethod
    def create_id(dealer_code: str, number: str) -> UUID:  # type: ignore[override]
        return uuid5(_IDS, f"opening-invoice:{dealer_code}:{number}")

    class Recorded(Aggregate.Created):
        number: str
        dealer_code: str
        issue_date: date
        due_date: date
        total: Decimal
        cut_over_date: date
        by: Provenance

    @event(Recorded)
    def __init__(  # type: ignore[override]
        self,
        *,
        number: str,
        dealer_code: str,
        issue_date: date,
        due_date: date,
        total: Decimal,
        cut_over_date: date,
        by: Provenance,
    ) -> None:
        self.number = number
        self.dealer_code = dealer_code
        self.order_id = ""
        self.shipment_id = ""
        self.issue_date = issue_date
        self.due_date = due_date
        self.lines = []
        self.total = total
        self.rebate_policies = []
        self.cut_over_date = cut_over_date
        self.credited = ZERO
        self.returned = {}
        self.paid_returned = {}


class OpeningCash(Aggregate):
    """期初预收: one document of cash a dealer had on account at the cut-over."""

    @staticmethod
    def create_id(dealer_code: str, number: str) -> UUID:
        return uuid5(_IDS, f"opening-cash:{dealer_code}:{number}")

    class Recorded(Aggregate.Created):
        number: str
        dealer_code: str
        amount: Decimal
        cut_over_date: date
        by: Provenance

    @event(Recorded)
    def __init__(
        self, *, number: str, dealer_code: str, amount: Decimal, cut_over_date: date, by: Provenance
    ) -> None:
        self.number = number
        self.dealer_code = dealer_code
        self.amount = amount
        self.cut_over_date = cut_over_date


class OpeningRebatePool(Aggregate):
    """期初返利池: one document of a dealer's rebate pool under a policy at the cut-over."""

    @staticmethod
    def create_id(dealer_code: str, number: str) -> UUID:
        return uuid5(_IDS, f"opening-rebate-pool:{dealer_code}:{number}")

    class Recorded(Aggregate.Created):
        number: str
        dealer_code: str
        policy_code: str
        amount: Decimal
        cut_over_date: date
        by: Provenance

    @event(Recorded)
    def __init__(
        self,
        *,
        number: str,
        dealer_code: str,
        policy_code: str,
        amount: Decimal,
        cut_over_date: date,
        by: Provenance,
    ) -> None:
        self.number = number
        self.dealer_code = dealer_code
        self.policy_code = policy_code
        self.amount = amount
        self.cut_over_date = cut_over_date


class Receipt(Aggregate):
    """回款: cash received from a dealer."""

    class Recorded(Aggregate.Created):
        dealer_code: str
        amount: Decimal
        received_on: date
        allocations: dict[str, Decimal]
        unapplied: Decimal
        by: Provenance

    @event(Recorded)
    def __init__(
        self,
        *,
        dealer_code: str,
        amount: Decimal,
        received_on: date,
        allocations: dict[str, Decimal],
        unapplied: Decimal,
        by: Provenance,
    ) -> None:
        self.dealer_code = dealer_code
        self.amount = amount
        self.received_on = received_on
        self.allocations = allocations
        self.unapplied = unapplied


class CreditNote(Aggregate):
    """A credit note: a price correction on an invoice, or a dealer's return (退货) credited
    at the prices its invoices charged. What the invoices still had open takes it; the rest
    stays on the dealer's account."""

    class Issued(Aggregate.Created):
        dealer_code: str
        invoice_id: str
        amount: Decimal
        issued_on: date
        reason: str
        by: Provenance | None
        return_id: str | None
        lines: list[dict]  # sku, quantity, unit_price, amount: goods taken back
        allocations: dict[str, Decimal]
        unapplied: Decimal

        # v2 credits returns: goods, allocations, a part on account. v1 credited one
        # invoice's open amount.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["return_id"] = None
            state["lines"] = []
            state["allocations"] = {state["invoice_id"]: state["amount"]}
            state["unapplied"] = ZERO

    @event(Issued)
    def __init__(
        self,
        *,
        dealer_code: str,
        invoice_id: str,
        amount: Decimal,
        issued_on: date,
        reason: str,
        by: Provenance | None,
        return_id: str | None,
        lines: list[dict],
        allocations: dict[str, Decimal],
        unapplied: Decimal,
    ) -> None:
        self.dealer_code = dealer_code
        self.invoice_id = invoice_id
        self.amount = amount
        self.issued_on = issued_on
        self.reason = reason
        self.return_id = return_id
        self.lines = lines
        self.allocations = allocations
        self.unapplied = unapplied


@dataclass(frozen=True)
class RebatePolicy:
    """返利政策: over a period (documents' business dates), for a dealer grade or one dealer,
    a rate on the period's net invoiced sales above ``threshold`` and/or an amount per paid
    unit of given SKUs."""

    code: str
    grade: str | None
    dealer_code: str | None
    rate: Decimal
    valid_from: date
    valid_to: date
    threshold: Decimal = ZERO
    unit_amounts: dict[str, Decimal] = field(default_factory=dict)

    def covers(self, account: DealerAccount, on: date) -> bool:
        if not self.valid_from <= on <= self.valid_to:
            return False
        if self.dealer_code is not None:
            return self.dealer_code == account.dealer_code
        return self.grade is not None and self.grade == account.grade

    def earned(self, net_sales: Decimal, paid_units: dict[str, int]) -> Decimal:
        """What the policy pays on the net sales and net paid units it covers, to the fen."""
        above = max(net_sales - self.threshold, ZERO)
        per_unit = sum(
            (
                self.unit_amounts[sku] * max(q, 0)
                for sku, q in paid_units.items()
                if sku in self.unit_amounts
            ),
            ZERO,
        )
        return cny(above * self.rate + per_unit)

    def check_ended(self, on: date) -> None:
        """A period is settled once it is over: from the day after ``valid_to`` on."""
        if on <= self.valid_to:
            raise PeriodNotEnded(
                f"rebate policy {self.code} runs to {self.valid_to}; it can be settled from "
                f"{self.valid_to + timedelta(days=1)}"
            )


MAX_REBATE_RATE = Decimal("0.5")
MAX_UNIT_REBATE = Decimal("100000.00")


class RebatePolicyBook(Aggregate):
    """返利政策: every rebate policy headquarters defined. One book for the service."""

    ID = uuid5(_IDS, "rebate-policy-book")

    @staticmethod
    def create_id() -> UUID:
        return RebatePolicyBook.ID

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.policies: dict[str, dict] = {}

    def define(self, policy: RebatePolicy, by: Provenance) -> None:
        if policy.code in self.policies:
            raise PolicyAlreadyDefined(f"rebate policy {policy.code} is defined already")
        if (policy.grade is None) == (policy.dealer_code is None):
            raise InvalidPolicy("a rebate policy covers either a dealer grade or one dealer")
        if not Decimal(0) <= policy.rate <= MAX_REBATE_RATE:
            raise InvalidPolicy(f"the rate must be from 0 to {MAX_REBATE_RATE}")
        if policy.threshold < 0 or cny(policy.threshold) != policy.threshold:
            raise InvalidPolicy("the threshold must be zero or positive, to the fen")
        if policy.threshold > 0 and policy.rate == 0:
            raise InvalidPolicy("a threshold needs a rate to apply above it")
        for sku, amount in policy.unit_amounts.items():
            if not 0 < amount <= MAX_UNIT_REBATE or cny(amount) != amount:
                raise InvalidPolicy(
                    f"the per-unit rebate on {sku} must be positive, to the fen, at most "
                    f"{MAX_UNIT_REBATE}"
                )
        if policy.rate == 0 and not policy.unit_amounts:
            raise InvalidPolicy("a rebate policy needs a rate or per-unit amounts")
        if policy.valid_to < policy.valid_from:
            raise InvalidPolicy("the period ends before it starts")
        self._defined(
            code=policy.code,
            grade=policy.grade,
            dealer_code=policy.dealer_code,
            rate=policy.rate,
            valid_from=policy.valid_from,
            valid_to=policy.valid_to,
            threshold=policy.threshold,
            unit_amounts=dict(policy.unit_amounts),
            by=by,
        )

    @event("PolicyDefined")
    def _defined(
        self,
        code: str,
        grade: str | None,
        dealer_code: str | None,
        rate: Decimal,
        valid_from: date,
        valid_to: date,
        by: Provenance,
        # Since thresholds and per-unit amounts (a policy defined before has neither).
        threshold: Decimal = ZERO,
        unit_amounts: dict[str, Decimal] | None = None,
    ) -> None:
        self.policies[code] = {
            "grade": grade,
            "dealer_code": dealer_code,
            "rate": rate,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "threshold": threshold,
            "unit_amounts": dict(unit_amounts or {}),
        }

    def all(self) -> list[RebatePolicy]:
        return [RebatePolicy(code, **fields) for code, fields in sorted(self.policies.items())]

    def get(self, code: str) -> RebatePolicy:
        if code not in self.policies:
            raise UnknownPolicy(f"no rebate policy {code}")
        return RebatePolicy(code, **self.policies[code])

    def covering(self, account: DealerAccount, on: date) -> list[RebatePolicy]:
        return [policy for policy in self.all() if policy.covers(account, on)]


class RebateEnrolment(Aggregate):
    """The dealers that accrued under one rebate policy: whom settling the policy for every
    covered dealer settles. Written once per dealer, with its first accrual."""

    @staticmethod
    def create_id(policy_code: str) -> UUID:
        return uuid5(_IDS, f"rebate-enrolment:{policy_code}")

    class Opened(Aggregate.Created):
        policy_code: str

    @event(Opened)
    def __init__(self, *, policy_code: str) -> None:
        self.policy_code = policy_code
        self.dealers: list[str] = []

    def enrol(self, dealer_code: str) -> None:
        if dealer_code not in self.dealers:
            self._enrolled(dealer_code=dealer_code)

    @event("DealerEnrolled")
    def _enrolled(self, dealer_code: str) -> None:
        self.dealers.append(dealer_code)


class ClaimStatus:
    FILED = "filed"
    CREDITED = "credited"
    REJECTED = "rejected"


class RebateClaim(Aggregate):
    """返利申请: a salesperson claims a dealer's settled rebate; a manager approves (credited
    against the dealer's receivables) or rejects it (back to the pool)."""

    class Filed(Aggregate.Created):
        dealer_code: str
        branch: str | None
        amount: Decimal
        salesperson: str
        filed_on: date
        note: str | None
        by: Provenance

    @event(Filed)
    def __init__(
        self,
        *,
        dealer_code: str,
        branch: str | None,
        amount: Decimal,
        salesperson: str,
        filed_on: date,
        note: str | None,
        by: Provenance,
    ) -> None:
        self.dealer_code = dealer_code
        self.branch = branch
        self.amount = amount
        self.salesperson = salesperson
        self.filed_on = filed_on
        self.note = note
        self.filed_by = by.actor
        self.status = ClaimStatus.FILED
        self.decided_on: date | None = None
        self.decided_by: str | None = None
        self.reason: str | None = None
        self.allocations: dict[str, Decimal] = {}
        self.unapplied = ZERO

    def check_decidable(self, by: Provenance) -> None:
        if self.status != ClaimStatus.FILED:
            raise InvalidTransition(f"rebate claim {self.id} is {self.status} already")
        if by.actor == self.filed_by:
            raise SelfApproval("a claim is decided by someone other than who filed it")

    def check_decision_date(self, on: date) -> None:
        if on < self.filed_on:
            raise InvalidBusinessDate(
                f"rebate claim {self.id} was filed on {self.filed_on}; it is decided on or after"
            )

    def credit(self, credited_on: date, allocations: dict[str, Decimal], by: Provenance) -> None:
        self._credited(
            dealer_code=self.dealer_code,
            amount=self.amount,
            credited_on=credited_on,
            allocations=allocations,
            unapplied=self.amount - sum(allocations.values(), ZERO),
            by=by,
        )

    def reject(self, rejected_on: date, reason: str, by: Provenance) -> None:
        self._rejected(
            dealer_code=self.dealer_code,
            amount=self.amount,
            rejected_on=rejected_on,
            reason=reason,
            by=by,
        )

    @event("Credited")
    def _credited(
        self,
        dealer_code: str,
        amount: Decimal,
        credited_on: date,
        allocations: dict[str, Decimal],
        unapplied: Decimal,
        by: Provenance,
    ) -> None:
        self.status = ClaimStatus.CREDITED
        self.decided_on = credited_on
        self.decided_by = by.actor
        self.allocations = allocations
        self.unapplied = unapplied

    @event("Rejected")
    def _rejected(
        self, dealer_code: str, amount: Decimal, rejected_on: date, reason: str, by: Provenance
    ) -> None:
        self.status = ClaimStatus.REJECTED
        self.decided_on = rejected_on
        self.decided_by = by.actor
        self.reason = reason


# The published contract holds the defaults, so the read side colours dealers the same way
# before headquarters has set any rules.
DEFAULT_HEALTH_RULES = ChannelHealthRulesSet()


@dataclass(frozen=True)
class HealthRules:
    """渠道健康 rules: when a dealer turns yellow or red. Each rule has a yellow and a red
    threshold (reaching it counts); the dealer's colour is the worst of its rules."""

    utilisation_yellow: Decimal = DEFAULT_HEALTH_RULES.utilisation_yellow
    utilisation_red: Decimal = DEFAULT_HEALTH_RULES.utilisation_red
    over_90_yellow: Decimal = DEFAULT_HEALTH_RULES.over_90_yellow
    over_90_red: Decimal = DEFAULT_HEALTH_RULES.over_90_red
    undelivered_after_days: int = DEFAULT_HEALTH_RULES.undelivered_after_days
    undelivered_yellow: int = DEFAULT_HEALTH_RULES.undelivered_yellow
    undelivered_red: int = DEFAULT_HEALTH_RULES.undelivered_red

    def check(self) -> None:
        pairs = (
            ("utilisation", self.utilisation_yellow, self.utilisation_red),
            ("over_90", self.over_90_yellow, self.over_90_red),
            ("undelivered", self.undelivered_yellow, self.undelivered_red),
        )
        for name, yellow, red in pairs:
            if not 0 < yellow <= red:
                raise InvalidHealthRules(
                    f"{name}: the yellow threshold must be above 0 and at most the red one"
                )
        if self.undelivered_after_days < 1:
            raise InvalidHealthRules("undelivered_after_days must be at least 1")


class ChannelHealthRules(Aggregate):
    """The rules headquarters set for channel health. One for the service; every change is
    an event, so the rules in force on any day can be told."""

    ID = uuid5(_IDS, "channel-health-rules")

    @staticmethod
    def create_id() -> UUID:
        return ChannelHealthRules.ID

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.rules = HealthRules()

    def set(self, rules: HealthRules, by: Provenance) -> None:
        rules.check()
        self._set(**asdict(rules), by=by)

    @event("RulesSet")
    def _set(
        self,
        utilisation_yellow: Decimal,
        utilisation_red: Decimal,
        over_90_yellow: Decimal,
        over_90_red: Decimal,
        undelivered_after_days: int,
        undelivered_yellow: int,
        undelivered_red: int,
        by: Provenance,
    ) -> None:
        self.rules = HealthRules(
            utilisation_yellow=utilisation_yellow,
            utilisation_red=utilisation_red,
            over_90_yellow=over_90_yellow,
            over_90_red=over_90_red,
            undelivered_after_days=undelivered_after_days,
            undelivered_yellow=undelivered_yellow,
            undelivered_red=undelivered_red,
        )

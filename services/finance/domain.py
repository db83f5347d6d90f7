"""The finance service's aggregates: dealer accounts (credit limit, terms, exposure,
receivables, rebate accruals), invoices, receipts, credit notes and rebate policies.

A dealer's account is the consistency boundary of its credit: every reservation, invoice,
receipt and credit note of one dealer changes its account, so concurrent orders of one dealer
meet on the account's version and none of them can slip past the limit unseen.

    exposure    = receivables + credit reserved for approved-but-unbilled orders
    receivables = invoices - receipts - credit notes (unapplied cash lowers it)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
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


class InvalidTransition(RuleViolation):
    code = "invalid_transition"


class InvalidAmount(RuleViolation):
    code = "invalid_amount"


class InvalidTerms(RuleViolation):
    code = "invalid_terms"


class OverAllocation(RuleViolation):
    code = "over_allocation"


class CreditNoteTooLarge(RuleViolation):
    code = "credit_note_exceeds_open_balance"


class InvalidPolicy(RuleViolation):
    code = "invalid_rebate_policy"


class InvalidHealthRules(RuleViolation):
    code = "invalid_health_rules"


class PolicyAlreadyDefined(RuleViolation):
    code = "rebate_policy_already_defined"


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
    """信用额度 and 应收账款 of one dealer."""

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

    @event("Described")
    def describe(self, grade: str, branch: str, region: str) -> None:
        self.grade = grade
        self.branch = branch
        self.region = region

    # -- figures -----------------------------------------------------------------------------
    @property
    def receivables(self) -> Decimal:
        return self.invoiced - self.received - self.credited

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

    def _reduce(self, invoice_id: str, amount: Decimal) -> None:
        item = self.open_invoices[invoice_id]
        item["open"] -= amount
        if item["open"] <= 0:
            del self.open_invoices[invoice_id]

    # -- rebates -----------------------------------------------------------------------------
    def accrue_rebate(
        self, policy: RebatePolicy, document_id: str, business_date: date, base: Decimal
    ) -> None:
        """Accrue (or, for a negative base, reverse) rebate so that what the policy accrued
        always equals its rate x the net sales it covers, rounded to the fen: each document
        accrues the difference, so roundings never add up."""
        covered = self.rebate_base.get(policy.code, ZERO) + base
        target = cny(covered * policy.rate)
        amount = target - self.rebate_accrued.get(policy.code, ZERO)
        self._rebate_accrued(
            dealer_code=self.dealer_code,
            policy_code=policy.code,
            document_id=document_id,
            business_date=business_date,
            base=base,
            rate=policy.rate,
            amount=amount,
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
    ) -> None:
        self.rebate_base[policy_code] = self.rebate_base.get(policy_code, ZERO) + base
        self.rebate_accrued[policy_code] = self.rebate_accrued.get(policy_code, ZERO) + amount


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

    @event("Credited")
    def credit(self, credit_note_id: str, amount: Decimal) -> None:
        self.credited += amount


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
    """A credit note against an invoice (a price correction, goods returned)."""

    class Issued(Aggregate.Created):
        dealer_code: str
        invoice_id: str
        amount: Decimal
        issued_on: date
        reason: str
        by: Provenance

    @event(Issued)
    def __init__(
        self,
        *,
        dealer_code: str,
        invoice_id: str,
        amount: Decimal,
        issued_on: date,
        reason: str,
        by: Provenance,
    ) -> None:
        self.dealer_code = dealer_code
        self.invoice_id = invoice_id
        self.amount = amount
        self.issued_on = issued_on
        self.reason = reason


@dataclass(frozen=True)
class RebatePolicy:
    code: str
    grade: str | None
    dealer_code: str | None
    rate: Decimal
    valid_from: date
    valid_to: date

    def covers(self, account: DealerAccount, on: date) -> bool:
        if not self.valid_from <= on <= self.valid_to:
            return False
        if self.dealer_code is not None:
            return self.dealer_code == account.dealer_code
        return self.grade is not None and self.grade == account.grade


MAX_REBATE_RATE = Decimal("0.5")


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
        if not Decimal(0) < policy.rate <= MAX_REBATE_RATE:
            raise InvalidPolicy(f"the rate must be above 0 and at most {MAX_REBATE_RATE}")
        if policy.valid_to < policy.valid_from:
            raise InvalidPolicy("the period ends before it starts")
        self._defined(
            code=policy.code,
            grade=policy.grade,
            dealer_code=policy.dealer_code,
            rate=policy.rate,
            valid_from=policy.valid_from,
            valid_to=policy.valid_to,
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
    ) -> None:
        self.policies[code] = {
            "grade": grade,
            "dealer_code": dealer_code,
            "rate": rate,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }

    def all(self) -> list[RebatePolicy]:
        return [RebatePolicy(code, **fields) for code, fields in sorted(self.policies.items())]

    def covering(self, account: DealerAccount, on: date) -> list[RebatePolicy]:
        return [policy for policy in self.all() if policy.covers(account, on)]


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

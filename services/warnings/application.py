"""The warnings application: the triggers (the process manager's policies, which watch and
clear conditions from the orders, inventory and finance topics), the scheduler's one
command (fire what is due), people's commands on warnings, and HQ's rule changes.

Raising is idempotent: a warning's id derives from its rule, subject and occurrence, and a
``WarningSlot`` per rule and subject says which occurrence is open; both are saved together,
so a redelivered or concurrent trigger never opens a second warning (optimistic concurrency
on the slot). A warning's due time is part of its events; the scheduler finds due warnings
in the service's board table (services/warnings/board.py) and fires each with the version
it read, so a stale row or a second scheduler changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from contracts import finance as finance_events
from contracts import inventory as inventory_events
from contracts import orders as orders_events
from contracts.envelope import Envelope
from runtime.clock import Clock, SystemClock
from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from runtime.process_manager import Policy, Unit, reads
from runtime.settings import Settings
from services.kernel.money import cny
from services.masterdata import replica
from services.masterdata.domain import KnownDealer
from services.warnings.contract import to_integration_event
from services.warnings.domain import (
    EarlyWarning,
    KnownOrder,
    KnownWarehouse,
    Rule,
    UnknownWarning,
    UnknownWebhook,
    WarningSlot,
    Webhook,
    WebhookAlreadyRegistered,
    rule_spec,
)
from services.warnings.rules import CATALOGUE, DEFAULT_ALLOWANCES_MIN, ESCALATING, RuleSpec

T = TypeVar("T")


@dataclass(frozen=True)
class RuleTerms:
    """A rule as it is in force: its version, threshold and each level's allowance."""

    spec: RuleSpec
    version: int
    threshold: Decimal
    allowances: dict[str, int]
    changed_by: str | None = None


def terms_of(spec: RuleSpec, rule: Rule | None) -> RuleTerms:
    if rule is None:
        defaults = {str(level): minutes for level, minutes in DEFAULT_ALLOWANCES_MIN.items()}
        return RuleTerms(spec, 1, spec.threshold, defaults)
    return RuleTerms(spec, rule.version, rule.threshold, dict(rule.allowances), rule.changed_by)


def rule_view(terms: RuleTerms) -> dict[str, Any]:
    spec = terms.spec
    return {
        "code": spec.code,
        "title": spec.title,
        "subject_kind": spec.subject_kind,
        "severity": str(spec.severity),
        "threshold_means": spec.threshold_name,
        "threshold": str(terms.threshold),
        "minimum": str(spec.minimum),
        "maximum": str(spec.maximum),
        "allowances_minutes": terms.allowances,
        "version": terms.version,
        "changed_by": terms.changed_by,
    }


def warning_view(warning: EarlyWarning) -> dict[str, Any]:
    return {
        "warning_id": str(warning.id),
        "rule": warning.rule,
        "rule_version": warning.rule_version,
        "threshold": str(warning.threshold),
        "title": warning.title,
        "severity": warning.severity,
        "subject": warning.subject,
        "subject_kind": warning.subject_kind,
        "branch": warning.branch,
        "region": warning.region,
        "dealer": warning.dealer,
        "status": warning.status,
        "level": warning.level,
        "responsible_role": warning.responsible_role,
        "assignee": warning.assignee,
        "acknowledged_by": warning.acknowledged_by,
        "reasons": warning.reasons,
        "since": warning.since.isoformat(),
        "raised_at": warning.raised_at.isoformat() if warning.raised_at else None,
        "due_at": warning.due_at.isoformat() if warning.due_at else None,
        "resolution": warning.resolution,
        "history": warning.history,
        "version": warning.version,
    }


def get_of_kind(repository: Any, aggregate_id: UUID, kind: type[T], missing: Exception) -> T:
    """The aggregate of that id if it is of that kind (an id of a slot or a rule is not a
    warning's), else ``missing``."""
    try:
        found = repository.get(aggregate_id)
    except AggregateNotFoundError:
        raise missing from None
    if not isinstance(found, kind):
        raise missing
    return found


def webhook_view(webhook: Webhook) -> dict[str, Any]:
    return {
        "webhook_id": str(webhook.id),
        "url": webhook.url,
        "levels": webhook.levels,
        "severities": webhook.severities,
        "registered_by": webhook.registered_by,
    }


class Webhooks:
    """HQ's webhook registrations (mixed into the application)."""

    repository: Any
    save_registration: Any

    def register_webhook(
        self,
        *,
        url: str,
        secret: str,
        levels: list[str],
        severities: list[str],
        by: Provenance,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        webhook = Webhook(url=url, secret=secret, levels=levels, severities=severities, by=by)
        return self.save_registration(
            webhook,
            body=webhook_view(webhook),
            idempotency=idempotency,
            duplicate=WebhookAlreadyRegistered(f"a webhook for {url} is registered already"),
        )

    def get_webhook(self, webhook_id: UUID) -> Webhook:
        return get_of_kind(
            self.repository, webhook_id, Webhook, UnknownWebhook(f"no webhook {webhook_id}")
        )


SYSTEM = "warnings"


def _by(envelope: Envelope) -> Provenance:
    return Provenance(
        actor=SYSTEM,
        role="system",
        branch=envelope.branch,
        correlation_id=envelope.correlationid,
        causation_id=envelope.id,
    )


class WarningsApplication(ServiceApplication, Webhooks):
    service = "warnings"
    name = "warnings"
    contract = staticmethod(to_integration_event)

    def __init__(
        self, settings: Settings, *, create_table: bool = False, clock: Clock | None = None
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        super().__init__(settings, create_table=create_table)

    # -- warnings --------------------------------------------------------------------------
    def get_warning(self, warning_id: UUID) -> EarlyWarning:
        return get_of_kind(
            self.repository, warning_id, EarlyWarning, UnknownWarning(f"no warning {warning_id}")
        )

    def fire_due(self, warning_id: UUID, *, expected_version: int) -> bool:
        """The scheduler's command: raise or escalate the warning if its due time has come
        and it is still as the scheduler saw it (``expected_version``). Saved with optimistic
        concurrency, so two schedulers, or one after a restart, fire it once."""
        warning = self.get_warning(warning_id)
        if warning.version != expected_version or not warning.fire(self.clock.now()):
            return False
        try:
            self.save_command(warning, status_code=200, body={}, idempotency=None)
        except IntegrityError:
            return False  # someone acted on it meanwhile: the next tick decides again
        return True

    def acknowledge(
        self, warning_id: UUID, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        warning = self.get_warning(warning_id)
        warning.acknowledge(by=by, now=self.clock.now())
        return self._save_warning(warning, idempotency)

    def comment(
        self, warning_id: UUID, text: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        warning = self.get_warning(warning_id)
        warning.comment(text, by=by, now=self.clock.now())
        return self._save_warning(warning, idempotency)

    def assign(
        self,
        warning_id: UUID,
        assignee: str,
        *,
        by: Provenance,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        warning = self.get_warning(warning_id)
        warning.assign(assignee, by=by, now=self.clock.now())
        return self._save_warning(warning, idempotency)

    def resolve(
        self, warning_id: UUID, note: str, *, by: Provenance, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        warning = self.get_warning(warning_id)
        warning.resolve(note, by=by, now=self.clock.now())
        slot = self.repository.get(WarningSlot.create_id(warning.rule, warning.subject))
        slot.free(warning_id=warning.id)  # the rule may warn of the subject again
        return self._save_warning(warning, idempotency, slot)

    def _save_warning(
        self, warning: EarlyWarning, idempotency: IdempotencyKey | None, *others: Any
    ) -> CommandResult:
        return self.save_command(
            warning, *others, status_code=200, body=warning_view(warning), idempotency=idempotency
        )

    # -- rules -----------------------------------------------------------------------------
    def rule_terms(self, code: str) -> RuleTerms:
        spec = rule_spec(code)
        try:
            rule = self.repository.get(Rule.create_id(code))
        except AggregateNotFoundError:
            rule = None
        return terms_of(spec, rule)

    def list_rules(self) -> list[RuleTerms]:
        return [self.rule_terms(code) for code in CATALOGUE]

    def change_rule(
        self,
        code: str,
        *,
        threshold: Decimal,
        allowances: dict[str, int] | None,
        by: Provenance,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """HQ sets a rule's threshold (within the rule's range: the caller checked it) and,
        optionally, each level's allowance: the rule's next version."""
        terms = self.rule_terms(code)
        try:
            rule = self.repository.get(Rule.create_id(code))
        except AggregateNotFoundError:
            rule = Rule(code=code, threshold=terms.threshold, allowances=terms.allowances)
        rule.change(threshold=threshold, allowances=allowances or terms.allowances, by=by)
        answer = rule_view(terms_of(terms.spec, rule))
        return self.save_command(rule, status_code=200, body=answer, idempotency=idempotency)


# -- triggers: watching and clearing conditions ---------------------------------------------
def rule_in_force(unit: Unit, code: str) -> RuleTerms:
    return terms_of(rule_spec(code), unit.find(Rule.create_id(code)))


@dataclass(frozen=True)
class Place:
    """Where a subject belongs: the branch responsible first, its region, its dealer."""

    branch: str | None
    region: str | None
    dealer: str | None


def place_of_dealer(unit: Unit, dealer_code: str) -> Place:
    dealer: KnownDealer | None = unit.find(KnownDealer.create_id(dealer_code))
    if dealer is None:
        return Place(None, None, dealer_code)  # not known yet: HQ is told
    return Place(dealer.branch, dealer.region, dealer_code)


def place_of_order(unit: Unit, order_id: str, dealer_code: str | None = None) -> Place:
    order: KnownOrder | None = unit.find(KnownOrder.create_id(order_id))
    if order is not None:
        return Place(order.branch, order.region, order.dealer)
    if dealer_code:
        return place_of_dealer(unit, dealer_code)
    return Place(None, None, None)


def has_ended(unit: Unit, order_id: str) -> bool:
    """The order was approved, rejected or cancelled (its end handled already): a condition
    the end clears (credit hold, awaiting approval) heard of it now, from a topic that is
    behind the orders topic or in a race with it, no longer holds and is not watched."""
    order: KnownOrder | None = unit.find(KnownOrder.create_id(order_id))
    return order is not None and order.ended is not None


def reason(text: str, **figures: Any) -> dict[str, Any]:
    return {"text": text, "figures": {name: str(value) for name, value in figures.items()}}


def watch(
    unit: Unit,
    terms: RuleTerms,
    *,
    subject: str,
    place: Place,
    reasons: list[dict[str, Any]],
    by: Provenance,
) -> EarlyWarning | None:
    """The rule's condition began for the subject: watch it (raised at once when the rule
    has no delay). None if a warning of the rule for the subject is open already."""
    spec = terms.spec
    slot = unit.find(WarningSlot.create_id(spec.code, subject)) or WarningSlot(
        rule=spec.code, subject=subject
    )
    if slot.current is not None:
        return None
    now = unit.app.clock.now()  # type: ignore[attr-defined]
    delay = timedelta(**{spec.delay_unit: float(terms.threshold)}) if spec.delay_unit else None
    warning = EarlyWarning(
        rule=spec.code,
        rule_version=terms.version,
        threshold=terms.threshold,
        allowances=terms.allowances,
        severity=str(spec.severity),
        title=spec.title,
        subject=subject,
        subject_kind=spec.subject_kind,
        occurrence=slot.occurrences + 1,
        branch=place.branch,
        region=place.region,
        dealer=place.dealer,
        reasons=reasons,
        since=now,
        due_at=now + (delay or timedelta(0)),
        by=by,
    )
    slot.take(occurrence=warning.occurrence, warning_id=warning.id)
    warning.fire(now)  # no delay: raised now
    unit.save(slot, warning)
    return warning


def clear(unit: Unit, code: str, subject: str, why: str) -> None:
    """The rule's condition is over for the subject: its open warning resolves itself."""
    slot: WarningSlot | None = unit.find(WarningSlot.create_id(code, subject))
    if slot is None or slot.current is None:
        return
    warning: EarlyWarning = unit.get(slot.current)
    warning.condition_cleared(why, now=unit.app.clock.now())  # type: ignore[attr-defined]
    slot.free(warning_id=warning.id)


def order_subject(order_id: str) -> str:
    return f"order:{order_id}"


ORDER_RULES = tuple(code for code, spec in CATALOGUE.items() if spec.subject_kind == "order")


# What the order policies read, declared (runtime.process_manager.reads) so that a poll's
# orders are read in one query: every order the saga moves arrives three times (placed,
# credit reserved, approved), and each looks at its order's warning slots.
def order_slots(order_id: str, *codes: str) -> list[UUID]:
    return [WarningSlot.create_id(code, order_subject(order_id)) for code in codes]


def order_watched(code: str) -> Callable[[Any], list[UUID]]:
    """What ``watch`` reads for a rule on an order: the rule's terms, the order's slot of it,
    and where the order (or its dealer) belongs."""

    def ids(data: Any) -> list[UUID]:
        known = [
            Rule.create_id(code),
            *order_slots(data.order_id, code),
            KnownOrder.create_id(data.order_id),
        ]
        if getattr(data, "dealer_code", None):
            known.append(KnownDealer.create_id(data.dealer_code))
        return known

    return ids


@reads(
    lambda placed: [
        KnownOrder.create_id(placed.order_id),
        *order_slots(placed.order_id, *ORDER_RULES),
    ]
)
def record_order(unit: Unit, envelope: Envelope, placed: orders_events.OrderPlaced) -> None:
    """Whose the order is and where. A condition on it that arrived first (from another
    topic) and is still watched learns its branch now."""
    if unit.find(KnownOrder.create_id(placed.order_id)) is not None:
        return
    unit.save(
        KnownOrder(
            order_id=placed.order_id,
            dealer=placed.dealer_code,
            branch=placed.branch,
            region=placed.region,
            total=placed.total,
            unit_prices={line.sku: str(line.unit_price) for line in placed.lines if not line.gift},
        )
    )
    subject = order_subject(placed.order_id)
    for code in ORDER_RULES:
        slot: WarningSlot | None = unit.find(WarningSlot.create_id(code, subject))
        if slot is not None and slot.current is not None:
            warning: EarlyWarning = unit.get(slot.current)
            warning.locate(branch=placed.branch, region=placed.region, dealer=placed.dealer_code)
            warning.fire(unit.app.clock.now())  # raised now if it only waited for this


@reads(order_watched("credit_hold"))
def credit_refused(unit: Unit, envelope: Envelope, refused: finance_events.CreditRefused) -> None:
    """The order is on credit hold (信用冻结) until a credit controller overrides, or the
    order is rejected or cancelled; unless it has ended already (e.g. rejected for a stock
    shortage before finance decided its credit)."""
    if has_ended(unit, refused.order_id):
        return
    watch(
        unit,
        rule_in_force(unit, "credit_hold"),
        subject=order_subject(refused.order_id),
        place=place_of_order(unit, refused.order_id, refused.dealer_code),
        reasons=[
            reason(
                f"credit refused for dealer {refused.dealer_code}: exposure plus the order is "
                f"over the credit limit by {refused.shortfall}",
                order_total=refused.amount,
                exposure=refused.exposure,
                credit_limit=refused.credit_limit,
                shortfall=refused.shortfall,
            )
        ],
        by=_by(envelope),
    )


@reads(lambda reserved: order_slots(reserved.order_id, "credit_hold"))
def credit_reserved(
    unit: Unit, envelope: Envelope, reserved: finance_events.CreditReserved
) -> None:
    subject = order_subject(reserved.order_id)
    if not reserved.override:
        clear(unit, "credit_hold", subject, "credit reserved within the limit")
        return
    clear(unit, "credit_hold", subject, "a credit controller overrode the limit")
    terms = rule_in_force(unit, "credit_override")
    over = reserved.exposure - reserved.credit_limit
    if over < terms.threshold:
        return
    watch(
        unit,
        terms,
        subject=subject,
        place=place_of_order(unit, reserved.order_id, reserved.dealer_code),
        reasons=[
            reason(
                f"credit limit of dealer {reserved.dealer_code} overridden: exposure is "
                f"{over} over the limit",
                order_total=reserved.amount,
                exposure=reserved.exposure,
                credit_limit=reserved.credit_limit,
                over_limit=over,
            )
        ],
        by=_by(envelope),
    )


@reads(order_watched("approval_waiting"))
def awaiting_approval(
    unit: Unit, envelope: Envelope, waiting: orders_events.OrderAwaitingApproval
) -> None:
    """Credit and stock are reserved, but the order is above the approval threshold: a
    branch manager is to decide. Warned of once it has waited the rule's hours."""
    if has_ended(unit, waiting.order_id):
        return
    watch(
        unit,
        rule_in_force(unit, "approval_waiting"),
        subject=order_subject(waiting.order_id),
        place=place_of_order(unit, waiting.order_id, waiting.dealer_code),
        reasons=[
            reason(
                f"order of dealer {waiting.dealer_code} for {waiting.total} is above the "
                f"approval threshold of {waiting.threshold} and waits for the branch manager",
                order_total=waiting.total,
                approval_threshold=waiting.threshold,
            )
        ],
        by=_by(envelope),
    )


@reads(
    lambda ended: [
        KnownOrder.create_id(ended.order_id),
        *order_slots(ended.order_id, "credit_hold", "approval_waiting"),
    ]
)
def order_ended(unit: Unit, envelope: Envelope, ended: Any) -> None:
    """Approved, rejected or cancelled: the order is no longer on credit hold, nor waiting
    for approval, and never is again. Recorded on the order, so that a CreditRefused handled
    after this (see has_ended) watches nothing: clearing only clears what is open now."""
    what = envelope.event_type.name.removeprefix("Order").lower()
    order: KnownOrder | None = unit.find(KnownOrder.create_id(ended.order_id))
    if order is not None:
        order.end(what)
    for code in ("credit_hold", "approval_waiting"):
        clear(unit, code, order_subject(ended.order_id), f"the order was {what}")


@reads(order_watched("stock_shortage"))
def stock_shortage(unit: Unit, envelope: Envelope, short: inventory_events.StockShortage) -> None:
    terms = rule_in_force(unit, "stock_shortage")
    missing = sum(max(0, s.requested - s.available) for s in short.shortages)
    if missing < terms.threshold:
        return
    watch(
        unit,
        terms,
        subject=order_subject(short.order_id),
        place=place_of_order(unit, short.order_id),
        reasons=[
            reason(
                f"{s.sku} short at {short.warehouse_code or 'no warehouse'}: "
                f"{s.requested} ordered, {s.available} available",
                sku=s.sku,
                requested=s.requested,
                available=s.available,
                short=s.requested - s.available,
            )
            for s in short.shortages
        ],
        by=_by(envelope),
    )


def record_warehouse(
    unit: Unit, envelope: Envelope, registered: inventory_events.WarehouseRegistered
) -> None:
    if unit.find(KnownWarehouse.create_id(registered.code)) is None:
        unit.save(
            KnownWarehouse(code=registered.code, branch=registered.branch, region=registered.region)
        )


def return_approved(unit: Unit, envelope: Envelope, approved: orders_events.ReturnApproved) -> None:
    """A return worth at least the threshold at the order's prices (an order this service
    never saw placed is not priced, and not warned of)."""
    order: KnownOrder | None = unit.find(KnownOrder.create_id(approved.order_id))
    if order is None:
        return
    terms = rule_in_force(unit, "return_above_amount")
    worth = cny(
        sum(
            (
                Decimal(order.unit_prices.get(line.sku, "0")) * line.quantity
                for line in approved.lines
            ),
            Decimal(0),
        )
    )
    if worth < terms.threshold:
        return
    watch(
        unit,
        terms,
        subject=f"return:{approved.return_id}",
        place=Place(approved.branch, order.region, approved.dealer_code),
        reasons=[
            reason(
                f"dealer {approved.dealer_code} returns goods worth {worth} ({approved.reason})",
                amount=worth,
                threshold=terms.threshold,
                lines=sum(line.quantity for line in approved.lines),
            )
        ],
        by=_by(envelope),
    )


def transfer_received(
    unit: Unit, envelope: Envelope, received: inventory_events.TransferReceived
) -> None:
    """A transfer that arrived with units missing or damaged, told to the receiving
    warehouse's branch."""
    terms = rule_in_force(unit, "transfer_short")
    short = [line for line in received.lines if line.received < line.dispatched]
    missing = sum(line.dispatched - line.received for line in short)
    if missing < terms.threshold:
        return
    warehouse: KnownWarehouse | None = unit.find(KnownWarehouse.create_id(received.to_warehouse))
    watch(
        unit,
        terms,
        subject=f"transfer:{received.transfer_id}",
        place=Place(
            warehouse.branch if warehouse else None, warehouse.region if warehouse else None, None
        ),
        reasons=[
            reason(
                f"{line.sku} from {received.from_warehouse} to {received.to_warehouse}: "
                f"{line.dispatched} dispatched, {line.received} arrived good, "
                f"{line.damaged} damaged",
                sku=line.sku,
                dispatched=line.dispatched,
                received=line.received,
                damaged=line.damaged,
                difference=line.difference,
            )
            for line in short
        ],
        by=_by(envelope),
    )


def rebate_claim_filed(
    unit: Unit, envelope: Envelope, filed: finance_events.RebateClaimFiled
) -> None:
    watch(
        unit,
        rule_in_force(unit, "rebate_claim_waiting"),
        subject=f"rebate_claim:{filed.claim_id}",
        place=place_of_dealer(unit, filed.dealer_code),
        reasons=[
            reason(
                f"rebate claim of {filed.amount} for dealer {filed.dealer_code} filed by "
                f"{filed.salesperson} on {filed.filed_on} is waiting for approval",
                amount=filed.amount,
                filed_on=filed.filed_on,
            )
        ],
        by=_by(envelope),
    )


def rebate_claim_decided(unit: Unit, envelope: Envelope, decided: Any) -> None:
    what = "credited" if envelope.event_type.name == "RebateCredited" else "rejected"
    clear(unit, "rebate_claim_waiting", f"rebate_claim:{decided.claim_id}", f"the claim was {what}")


POLICIES: dict[str, Policy] = {
    **replica.POLICIES,
    str(orders_events.OrderPlaced.event_type()): record_order,
    str(orders_events.OrderAwaitingApproval.event_type()): awaiting_approval,
    str(orders_events.OrderApproved.event_type()): order_ended,
    str(orders_events.OrderRejected.event_type()): order_ended,
    str(orders_events.OrderCancelled.event_type()): order_ended,
    str(finance_events.CreditRefused.event_type()): credit_refused,
    str(finance_events.CreditReserved.event_type()): credit_reserved,
    str(finance_events.RebateClaimFiled.event_type()): rebate_claim_filed,
    str(finance_events.RebateCredited.event_type()): rebate_claim_decided,
    str(finance_events.RebateClaimRejected.event_type()): rebate_claim_decided,
    str(inventory_events.StockShortage.event_type()): stock_shortage,
    str(inventory_events.WarehouseRegistered.event_type()): record_warehouse,
    str(orders_events.ReturnApproved.event_type()): return_approved,
    str(inventory_events.TransferReceived.event_type()): transfer_received,
}

LEVELS_THAT_ESCALATE = tuple(str(level) for level in ESCALATING)

"""The warnings service's aggregates: a warning (预警), the slot that keeps one open warning
per rule and subject, a rule's thresholds as HQ sets them, and the orders the service knows.

A warning is about a subject (an order, a rebate claim, ...) under a rule. It is first
*watched* (a condition began; nobody is told yet), then *raised* when the rule's delay has
passed (at once for a delay of zero) for the person responsible at the lowest level, and
passes up a level each time its allowance runs out unresolved, until someone resolves it or
its condition clears by itself. Times come from the service's clock (runtime/clock.py),
passed in by the application, so escalation is decided the same way in tests and in life.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation
from services.warnings.rules import CATALOGUE, ESCALATING, RESPONSIBLE_ROLE, Level, RuleSpec

_IDS = uuid5(NAMESPACE_URL, "urn:dist:warnings")
# How long a warning whose subject's branch is not known yet waits to learn it (the event
# that says whose it is may come on another topic, a moment later) before it goes to HQ.
PLACE_GRACE = timedelta(minutes=10)


class UnknownWarning(NotFound):
    code = "unknown_warning"


class UnknownRule(NotFound):
    code = "unknown_rule"


class WarningAlreadyResolved(RuleViolation):
    code = "warning_resolved"


class WarningNotRaised(RuleViolation):
    code = "warning_not_raised"


class WarningAlreadyAcknowledged(RuleViolation):
    code = "warning_acknowledged"


class Status:
    WATCHING = "watching"  # the condition began; raised when the rule's delay has passed
    OPEN = "open"
    RESOLVED = "resolved"  # by a person, or by itself when its condition cleared
    DROPPED = "dropped"  # the condition cleared before the warning was raised


def rule_spec(code: str) -> RuleSpec:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise UnknownRule(f"no warning rule {code}") from None


class EarlyWarning(Aggregate):
    """One occurrence of a rule's condition on a subject. Its id derives from rule, subject
    and occurrence (the n-th time the condition began), so that raising is idempotent."""

    @staticmethod
    def create_id(rule: str, subject: str, occurrence: int) -> UUID:
        return uuid5(_IDS, f"warning:{rule}:{subject}:{occurrence}")

    class Watched(Aggregate.Created):
        rule: str
        rule_version: int
        threshold: Decimal
        allowances: dict
        severity: str
        title: str
        subject: str
        subject_kind: str
        occurrence: int
        branch: str | None
        region: str | None
        dealer: str | None
        reasons: list
        since: datetime
        due_at: datetime
        by: Provenance

    # Every published event names the rule, subject and branch: the relay translates each
    # event on its own.
    class Raised(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        description: dict  # rule version, threshold, severity, subject, reasons: for the ERP
        level: str
        responsible_role: str
        at: datetime
        due_at: datetime | None

    class Acknowledged(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        at: datetime
        by: Provenance

    class Commented(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        text: str
        at: datetime
        by: Provenance

    class Assigned(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        assignee: str
        at: datetime
        by: Provenance

    class Escalated(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        from_level: str
        to_level: str
        responsible_role: str
        at: datetime
        due_at: datetime | None

    class Resolved(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        note: str
        at: datetime
        by: Provenance

    class AutoResolved(Aggregate.Event):
        rule: str
        subject: str
        branch: str | None
        reason: str
        at: datetime

    class Dropped(Aggregate.Event):
        reason: str
        at: datetime

    class Located(Aggregate.Event):
        branch: str
        region: str | None
        dealer: str | None

    @event(Watched)
    def __init__(
        self,
        *,
        rule: str,
        rule_version: int,
        threshold: Decimal,
        allowances: dict,
        severity: str,
        title: str,
        subject: str,
        subject_kind: str,
        occurrence: int,
        branch: str | None,
        region: str | None,
        dealer: str | None,
        reasons: list,
        since: datetime,
        due_at: datetime,
        by: Provenance,
    ) -> None:
        self.rule = rule
        self.rule_version = rule_version
        self.threshold = threshold
        self.allowances = dict(allowances)
        self.severity = severity
        self.title = title
        self.subject = subject
        self.subject_kind = subject_kind
        self.occurrence = occurrence
        self.branch = branch
        self.region = region
        self.dealer = dealer
        self.reasons = list(reasons)
        self.since = since
        self.due_at: datetime | None = due_at
        self.status = Status.WATCHING
        self.level: str | None = None
        self.responsible_role: str | None = None
        self.raised_at: datetime | None = None
        self.acknowledged_by: str | None = None
        self.assignee: str | None = None
        self.resolution: str | None = None
        self.history: list[dict[str, Any]] = [
            {"step": "watched", "at": since.isoformat(), "by": by.actor}
        ]

    @property
    def is_open(self) -> bool:
        return self.status == Status.OPEN

    def _context(self) -> dict[str, Any]:
        return {"rule": self.rule, "subject": self.subject, "branch": self.branch}

    def _description(self) -> dict[str, Any]:
        return {
            "rule_version": self.rule_version,
            "threshold": str(self.threshold),
            "severity": self.severity,
            "title": self.title,
            "subject_kind": self.subject_kind,
            "region": self.region,
            "dealer": self.dealer,
            "reasons": self.reasons,
            "since": self.since.isoformat(),
        }

    def _due_after(self, level: Level, now: datetime) -> datetime | None:
        if level not in ESCALATING:
            return None
        return now + timedelta(minutes=int(self.allowances[str(level)]))

    # -- time ------------------------------------------------------------------------------
    def fire(self, now: datetime) -> bool:
        """What its due time asks, if it has come: raise a watched warning, or pass an open
        one up a level. False when nothing is due (so a late or repeated call changes
        nothing: a warning escalates once per allowance)."""
        if self.due_at is None or self.due_at > now:
            return False
        if self.status == Status.WATCHING:
            if self.branch is None and now < self.since + PLACE_GRACE:
                return False  # whose it is may still arrive (see locate)
            # No branch known: nobody below headquarters can be told.
            level = Level.BRANCH_MANAGER if self.branch else Level.HQ_ADMIN
            self._raise(
                **self._context(),
                description=self._description(),
                level=str(level),
                responsible_role=RESPONSIBLE_ROLE[level],
                at=now,
                due_at=self._due_after(level, now),
            )
            return True
        if self.status == Status.OPEN:
            upper = Level(self.level).next()
            if upper is None:
                return False
            self._escalate(
                **self._context(),
                from_level=self.level,
                to_level=str(upper),
                responsible_role=RESPONSIBLE_ROLE[upper],
                at=now,
                due_at=self._due_after(upper, now),
            )
            return True
        return False

    @event(Raised)
    def _raise(
        self,
        *,
        rule: str,
        subject: str,
        branch: str | None,
        description: dict,
        level: str,
        responsible_role: str,
        at: datetime,
        due_at: datetime | None,
    ) -> None:
        self.status = Status.OPEN
        self.level = level
        self.responsible_role = responsible_role
        self.raised_at = at
        self.due_at = due_at
        self.history.append({"step": "raised", "at": at.isoformat(), "level": level})

    @event(Escalated)
    def _escalate(
        self,
        *,
        rule: str,
        subject: str,
        branch: str | None,
        from_level: str,
        to_level: str,
        responsible_role: str,
        at: datetime,
        due_at: datetime | None,
    ) -> None:
        self.level = to_level
        self.responsible_role = responsible_role
        self.due_at = due_at
        self.history.append(
            {"step": "escalated", "at": at.isoformat(), "from": from_level, "level": to_level}
        )

    # -- people ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.status in (Status.RESOLVED, Status.DROPPED):
            raise WarningAlreadyResolved(f"warning {self.id} is resolved already")
        if self.status != Status.OPEN:
            raise WarningNotRaised(f"warning {self.id} is not raised yet")

    def acknowledge(self, *, by: Provenance, now: datetime) -> None:
        self._check_open()
        if self.acknowledged_by is not None:
            raise WarningAlreadyAcknowledged(
                f"warning {self.id} was acknowledged by {self.acknowledged_by}"
            )
        self._acknowledge(**self._context(), at=now, by=by)

    @event(Acknowledged)
    def _acknowledge(
        self, *, rule: str, subject: str, branch: str | None, at: datetime, by: Provenance
    ) -> None:
        self.acknowledged_by = by.actor
        self.history.append({"step": "acknowledged", "at": at.isoformat(), "by": by.actor})

    def comment(self, text: str, *, by: Provenance, now: datetime) -> None:
        self._check_open()
        self._comment(**self._context(), text=text, at=now, by=by)

    @event(Commented)
    def _comment(
        self,
        *,
        rule: str,
        subject: str,
        branch: str | None,
        text: str,
        at: datetime,
        by: Provenance,
    ) -> None:
        self.history.append(
            {"step": "commented", "at": at.isoformat(), "by": by.actor, "text": text}
        )

    def assign(self, assignee: str, *, by: Provenance, now: datetime) -> None:
        self._check_open()
        self._assign(**self._context(), assignee=assignee, at=now, by=by)

    @event(Assigned)
    def _assign(
        self,
        *,
        rule: str,
        subject: str,
        branch: str | None,
        assignee: str,
        at: datetime,
        by: Provenance,
    ) -> None:
        self.assignee = assignee
        self.history.append(
            {"step": "assigned", "at": at.isoformat(), "by": by.actor, "assignee": assignee}
        )

    def resolve(self, note: str, *, by: Provenance, now: datetime) -> None:
        self._check_open()
        self._resolve(**self._context(), note=note, at=now, by=by)

    @event(Resolved)
    def _resolve(
        self,
        *,
        rule: str,
        subject: str,
        branch: str | None,
        note: str,
        at: datetime,
        by: Provenance,
    ) -> None:
        self.status = Status.RESOLVED
        self.resolution = note
        self.due_at = None
        self.history.append(
            {"step": "resolved", "at": at.isoformat(), "by": by.actor, "note": note}
        )

    # -- the condition ---------------------------------------------------------------------
    def locate(self, *, branch: str, region: str | None, dealer: str | None) -> None:
        """Where the subject belongs, learnt after the condition began (the topics are not
        ordered with each other): a warning not raised yet goes to the branch when it is."""
        if self.branch is None and self.status == Status.WATCHING:
            self._locate(branch=branch, region=region, dealer=dealer or self.dealer)

    @event(Located)
    def _locate(self, *, branch: str, region: str | None, dealer: str | None) -> None:
        self.branch = branch
        self.region = region
        self.dealer = dealer

    def condition_cleared(self, reason: str, *, now: datetime) -> bool:
        """The condition is over: a raised warning resolves itself, saying why; a watched
        one is dropped unseen. False if it was over already."""
        if self.status == Status.OPEN:
            self._auto_resolve(**self._context(), reason=reason, at=now)
            return True
        if self.status == Status.WATCHING:
            self._drop(reason=reason, at=now)
            return True
        return False

    @event(AutoResolved)
    def _auto_resolve(
        self, *, rule: str, subject: str, branch: str | None, reason: str, at: datetime
    ) -> None:
        self.status = Status.RESOLVED
        self.resolution = reason
        self.due_at = None
        self.history.append({"step": "auto_resolved", "at": at.isoformat(), "reason": reason})

    @event(Dropped)
    def _drop(self, *, reason: str, at: datetime) -> None:
        self.status = Status.DROPPED
        self.resolution = reason
        self.due_at = None
        self.history.append({"step": "dropped", "at": at.isoformat(), "reason": reason})


class WarningSlot(Aggregate):
    """One per rule and subject: which occurrence is open, if any. Two triggers that race to
    open a warning for the same rule and subject both change this slot; optimistic
    concurrency lets one in, so there is never more than one open warning per rule and
    subject (the uniqueness guard), and its id is deterministic (rule, subject, occurrence)."""

    @staticmethod
    def create_id(rule: str, subject: str) -> UUID:
        return uuid5(_IDS, f"slot:{rule}:{subject}")

    class Opened(Aggregate.Created):
        rule: str
        subject: str

    class Taken(Aggregate.Event):
        occurrence: int
        warning_id: UUID

    class Freed(Aggregate.Event):
        warning_id: UUID

    @event(Opened)
    def __init__(self, *, rule: str, subject: str) -> None:
        self.rule = rule
        self.subject = subject
        self.occurrences = 0
        self.current: UUID | None = None

    @event(Taken)
    def take(self, *, occurrence: int, warning_id: UUID) -> None:
        self.occurrences = occurrence
        self.current = warning_id

    @event(Freed)
    def free(self, *, warning_id: UUID) -> None:
        self.current = None


class Rule(Aggregate):
    """A rule's threshold and allowances as HQ set them. Version 1 is the catalogue's
    defaults; each change HQ makes is the next version."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(_IDS, f"rule:{code}")

    class Defined(Aggregate.Created):
        code: str
        threshold: Decimal
        allowances: dict

    class Changed(Aggregate.Event):
        code: str
        threshold: Decimal
        allowances: dict
        by: Provenance

    @event(Defined)
    def __init__(self, *, code: str, threshold: Decimal, allowances: dict) -> None:
        self.code = code
        self.threshold = threshold
        self.allowances = dict(allowances)
        self.changed_by: str | None = None

    def change(self, *, threshold: Decimal, allowances: dict, by: Provenance) -> None:
        self._change(code=self.code, threshold=threshold, allowances=allowances, by=by)

    @event(Changed)
    def _change(self, *, code: str, threshold: Decimal, allowances: dict, by: Provenance) -> None:
        self.threshold = threshold
        self.allowances = dict(allowances)
        self.changed_by = by.actor


class KnownOrder(Aggregate):
    """An order as the warnings service knows it from the orders topic: whose it is and
    where, so that a warning about it goes to the right branch; and whether it has ended
    (approved, rejected or cancelled), so that a condition on it heard later (from another
    topic) is not watched."""

    @staticmethod
    def create_id(order_id: str) -> UUID:
        return uuid5(_IDS, f"order:{order_id}")

    class Placed(Aggregate.Created):
        order_id: str
        dealer: str
        branch: str
        region: str
        total: Decimal
        unit_prices: dict  # per SKU, what a return of it is worth

    class Ended(Aggregate.Event):
        how: str  # approved, rejected or cancelled

    @event(Placed)
    def __init__(
        self,
        *,
        order_id: str,
        dealer: str,
        branch: str,
        region: str,
        total: Decimal,
        unit_prices: dict,
    ) -> None:
        self.order_id = order_id
        self.dealer = dealer
        self.branch = branch
        self.region = region
        self.total = total
        self.unit_prices = dict(unit_prices)
        self.ended: str | None = None  # how, once it has

    def end(self, how: str) -> None:
        """The order was approved, rejected or cancelled (an approved order may still be
        cancelled: the latest is kept)."""
        if self.ended != how:
            self._end(how=how)

    @event(Ended)
    def _end(self, *, how: str) -> None:
        self.ended = how


class KnownWarehouse(Aggregate):
    """A warehouse as the warnings service knows it from the inventory topic: the branch a
    warning about it goes to."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(_IDS, f"warehouse:{code}")

    class Registered(Aggregate.Created):
        code: str
        branch: str | None
        region: str | None

    @event(Registered)
    def __init__(self, *, code: str, branch: str | None, region: str | None) -> None:
        self.code = code
        self.branch = branch
        self.region = region


class UnknownWebhook(NotFound):
    code = "unknown_webhook"


class WebhookAlreadyRegistered(RuleViolation):
    code = "webhook_already_registered"


class Webhook(Aggregate):
    """An HQ-registered URL told of every step of the warnings at the levels or severities
    it asks for (none named: all). Its secret signs each delivery (HMAC-SHA256); it stays
    inside the service (never published, never answered)."""

    @staticmethod
    def create_id(url: str) -> UUID:
        return uuid5(_IDS, f"webhook:{url}")

    class Registered(Aggregate.Created):
        url: str
        secret: str
        levels: list
        severities: list
        by: Provenance

    @event(Registered)
    def __init__(
        self, *, url: str, secret: str, levels: list, severities: list, by: Provenance
    ) -> None:
        self.url = url
        self.secret = secret
        self.levels = list(levels)
        self.severities = list(severities)
        self.registered_by = by.actor

"""Translation of the warnings service's domain events into its published integration
events. A watched warning that nobody was told of yet (and its dropping), the slots, the
rules' defaults and the orders it knows stay inside the service."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts import warnings as published
from contracts.envelope import IntegrationEvent
from services.warnings.domain import EarlyWarning, Rule

_STEPS = (
    EarlyWarning.Acknowledged,
    EarlyWarning.Commented,
    EarlyWarning.Assigned,
    EarlyWarning.Escalated,
    EarlyWarning.Resolved,
    EarlyWarning.AutoResolved,
)


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    if isinstance(event, EarlyWarning.Raised):
        return published.WarningRaised(
            rule=event.rule,
            subject=event.subject,
            branch=event.branch,
            at=event.at,
            level=event.level,
            responsible_role=event.responsible_role,
            due_at=event.due_at,
            **event.description,
        )
    if isinstance(event, Rule.Changed):
        return published.WarningRuleChanged(
            rule=event.code,
            rule_version=event.originator_version,
            threshold=str(event.threshold),
            allowances_minutes=event.allowances,
        )
    if not isinstance(event, _STEPS):
        return None
    step = {"rule": event.rule, "subject": event.subject, "branch": event.branch}
    if isinstance(event, EarlyWarning.Acknowledged):
        return published.WarningAcknowledged(**step, at=event.at)
    if isinstance(event, EarlyWarning.Commented):
        return published.WarningCommented(**step, at=event.at, text=event.text)
    if isinstance(event, EarlyWarning.Assigned):
        return published.WarningAssigned(**step, at=event.at, assignee=event.assignee)
    if isinstance(event, EarlyWarning.Escalated):
        return published.WarningEscalated(
            **step,
            at=event.at,
            from_level=event.from_level,
            to_level=event.to_level,
            responsible_role=event.responsible_role,
            due_at=event.due_at,
        )
    if isinstance(event, EarlyWarning.Resolved):
        return published.WarningResolved(**step, at=event.at, note=event.note)
    if isinstance(event, EarlyWarning.AutoResolved):
        return published.WarningAutoResolved(**step, at=event.at, reason=event.reason)
    return None

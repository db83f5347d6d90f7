"""Translation of the finance service's domain events into integration events (none yet)."""

from __future__ import annotations

from eventsourcing.domain import DomainEventProtocol

from contracts.envelope import IntegrationEvent


def to_integration_event(event: DomainEventProtocol) -> IntegrationEvent | None:
    return None

"""Process managers (sagas): the consumer runtime's handler that turns other services'
integration events into this service's commands.

A process manager lives in the service whose commands it issues (DESIGN rule 4): for each
event it runs a policy that loads and changes this service's aggregates, and saves their new
events together with a tracking record of the event's origin (its service and position) in
one transaction of the service's event store (the library's process recorder). A redelivered
event finds its tracking record and changes nothing; a crash before the commit leaves nothing
behind, and the event is processed again.

Policies are plain functions ``policy(unit, envelope, data)``: they read aggregates through
``unit`` and hand it the ones they changed. A conflict with a concurrent writer (optimistic
concurrency) runs the policy again on fresh state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Tracking
from pydantic import ValidationError

from contracts import EVENT_TYPES, Envelope
from runtime.consumer import Applied, Outcome, Rejected
from runtime.eventstore import ServiceApplication
from services.kernel.errors import DomainError

log = logging.getLogger(__name__)


@dataclass
class Unit:
    """What a policy works with: the service's aggregates, read fresh, and the ones it
    changed (saved together with the event's tracking record)."""

    app: ServiceApplication
    changed: dict[UUID, Any] = field(default_factory=dict)

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate as changed so far by this policy, else as stored."""
        if aggregate_id in self.changed:
            return self.changed[aggregate_id]
        return self.app.repository.get(aggregate_id)

    def find(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def save(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            self.changed[aggregate.id] = aggregate


Policy = Callable[[Unit, Envelope, Any], None]


class ProcessManager:
    """The consumer runtime's handler for a service's process manager."""

    transient_errors = (OperationalError, InterfaceError)

    def __init__(
        self,
        app: ServiceApplication,
        *,
        name: str,
        policies: dict[str, Policy],
        max_conflicts: int = 20,
    ) -> None:
        self.app = app
        self.name = name
        self.policies = policies  # by event type (e.g. "dist.orders.OrderPlaced.v1")
        self.max_conflicts = max_conflicts

    @contextmanager
    def open_batch(self) -> Iterator[_ProcessBatch]:
        batch = _ProcessBatch(self)
        yield batch
        # After the runtime published the batch's poison messages to the dead-letter topic:
        # only now is their processing recorded, so a crash in between re-sends them.
        for envelope in batch.dead_lettered:
            self.app.record_processed(envelope.source, envelope.position)


class _ProcessBatch:
    def __init__(self, manager: ProcessManager) -> None:
        self.manager = manager
        self.app = manager.app
        self.dead_lettered: list[Envelope] = []

    def apply(self, envelope: Envelope) -> Applied:
        policy = self.manager.policies.get(envelope.type)
        if policy is None:
            return Applied(Outcome.IGNORED)  # not this saga's concern: nothing to record
        if self.app.is_processed(envelope.source, envelope.position):
            return Applied(Outcome.DUPLICATE)
        try:
            data = EVENT_TYPES[envelope.type].model_validate(envelope.data)
        except ValidationError as error:
            return self._reject(envelope, f"ValidationError: {error}")
        for _attempt in range(self.manager.max_conflicts):
            unit = Unit(self.app)
            try:
                policy(unit, envelope, data)
            except (Rejected, DomainError) as error:
                return self._reject(envelope, f"{type(error).__name__}: {error}")
            processing = ProcessingEvent[UUID](
                tracking=Tracking(
                    application_name=envelope.source, notification_id=envelope.position
                )
            )
            processing.collect_events(*unit.changed.values())
            try:
                self.app.record_processing(processing)
            except IntegrityError:
                if self.app.is_processed(envelope.source, envelope.position):
                    return Applied(Outcome.DUPLICATE)  # another member processed it meanwhile
                continue  # a concurrent command changed an aggregate: decide again
            return Applied(Outcome.APPLIED)
        raise RuntimeError(
            f"{self.manager.name}: {envelope.type} at {envelope.source}:{envelope.position} "
            f"conflicted {self.manager.max_conflicts} times in a row"
        )

    def _reject(self, envelope: Envelope, reason: str) -> Applied:
        log.warning("%s: rejecting %s: %s", self.manager.name, envelope.type, reason)
        self.dead_lettered.append(envelope)
        return Applied(Outcome.DEAD_LETTERED, reason[:500])

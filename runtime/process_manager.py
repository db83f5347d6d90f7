"""Process managers (sagas): the consumer runtime's handler that turns other services'
integration events into this service's commands.

A process manager lives in the service whose commands it issues (DESIGN rule 4). For each
event it runs a policy that reads and changes this service's aggregates through a unit of
work; the changes of a whole poll are saved with every event's tracking record (its origin
service and position) in one transaction of the service's event store (the library's
process recorder). A redelivered event finds its tracking record and changes nothing; a crash
before the commit leaves nothing behind, and the poll is processed again.

Policies are plain functions ``policy(unit, envelope, data)``. If one refuses its event, or
the save meets a concurrent writer (optimistic concurrency), the poll is decided again one
event per transaction, on fresh state (see ``_ProcessBatch``). A policy may declare the
aggregates it reads for an event (``@reads``): the batch then reads those of all its events
in one query before any policy runs, instead of one per aggregate per event. What a batch
saved is kept for the next (``SavedAggregates``): a busy aggregate is then read as the
events after its kept version, not from its snapshot.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Tracking
from pydantic import ValidationError

from contracts import Envelope, UnknownEventType, decode_data, handler_for
from runtime.consumer import Applied, Outcome, Rejected
from runtime.eventstore import ServiceApplication, collected
from services.kernel.errors import DomainError

log = logging.getLogger(__name__)


_ABSENT = object()


class SavedAggregates:
    """A process manager's aggregates as its last commits saved them, so that the next
    batch that reads one (the SKU's stock item, the dealer's account: every order reads
    them) reads only the events after that version instead of its snapshot and the events
    after it. A busy aggregate's snapshot grows with what it holds open; this way it is
    decoded once, not by every batch.

    Never a source of truth: every read still asks the store, in the same one query, for
    the events after the kept version (a command, or another member, may have written
    since), and applies them. A unit takes what it reads out of here and only a committed
    unit puts its aggregates back, each exactly as saved (no events pending); a refused or
    conflicting batch's aggregates, which may hold changes that were never saved, are
    dropped with it. Used by the process manager's one consumer thread only, so nothing is
    shared or copied. Bounded: the least recently used go first."""

    def __init__(self, max_aggregates: int = 4_096) -> None:
        self.max_aggregates = max_aggregates
        self._kept: OrderedDict[UUID, Any] = OrderedDict()

    def take(self, aggregate_ids: Iterable[UUID]) -> dict[UUID, Any]:
        return {i: a for i in aggregate_ids if (a := self._kept.pop(i, None)) is not None}

    def keep(self, aggregates: Iterable[Any]) -> None:
        """After a commit: the unit's aggregates, as saved."""
        for aggregate in aggregates:
            if aggregate.pending_events:
                continue  # never saved: the store does not have this state
            self._kept[aggregate.id] = aggregate
            self._kept.move_to_end(aggregate.id)
        while len(self._kept) > self.max_aggregates:
            self._kept.popitem(last=False)


@dataclass
class Unit:
    """What policies work with: the service's aggregates, each read once and then kept, so
    a later policy of the same batch sees what an earlier one changed. Every aggregate read
    or saved through the unit is saved with the batch (those without new events add
    nothing). With ``saved``, reads start from the process manager's kept aggregates."""

    app: ServiceApplication
    saved: SavedAggregates | None = None
    loaded: dict[UUID, Any] = field(default_factory=dict)

    def get(self, aggregate_id: UUID) -> Any:
        found = self.find(aggregate_id)
        if found is None:
            raise AggregateNotFoundError(aggregate_id)
        return found

    def find(self, aggregate_id: UUID) -> Any | None:
        return self.get_many([aggregate_id]).get(aggregate_id)

    def get_many(self, aggregate_ids: list[UUID]) -> dict[UUID, Any]:
        """Like the application's get_many (missing ids absent), through the unit."""
        missing = [i for i in dict.fromkeys(aggregate_ids) if i not in self.loaded]
        if missing:
            held = self.saved.take(missing) if self.saved is not None else None
            found = self.app.get_many(missing, held=held)
            for aggregate_id in missing:
                self.loaded[aggregate_id] = found.get(aggregate_id, _ABSENT)
        return {i: self.loaded[i] for i in aggregate_ids if self.loaded[i] is not _ABSENT}

    def committed(self) -> None:
        """The unit's changes were saved: keep its aggregates for the next batches."""
        if self.saved is not None:
            self.saved.keep(self.changed)

    def save(self, *aggregates: Any) -> None:
        """Add new aggregates (those read through the unit are saved anyway)."""
        for aggregate in aggregates:
            self.loaded[aggregate.id] = aggregate

    @property
    def changed(self) -> list[Any]:
        return [a for a in self.loaded.values() if a is not _ABSENT]


Policy = Callable[[Unit, Envelope, Any], None]


def reads(ids: Callable[[Any], Iterable[UUID]]) -> Callable[[Policy], Policy]:
    """Declare what a policy reads for an event's data (``ids(data)``), so that a batch
    reads it for all its events at once. Only a shortcut: the policy finds through the unit
    what ``Unit.find`` would have read; an aggregate it reads without declaring it is read
    then, as before."""

    def declared(policy: Policy) -> Policy:
        policy.reads = ids  # type: ignore[attr-defined]
        return policy

    return declared


class RetryBatch(Exception):
    """The batch must be delivered again (see ``_ProcessBatch.commit``)."""


# Redeliveries follow a (re)start or a rebalance: for this long after one, and after a
# duplicate turned up, a poll asks first which of its events were processed before.
LOOK_FIRST_S = 30.0


class ProcessManager:
    """The consumer runtime's handler for a service's process manager."""

    transient_errors = (OperationalError, InterfaceError, RetryBatch)

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
        self.saved = SavedAggregates()  # aggregates as the last commits left them
        # Until then, each poll first asks which of its events were processed before (see
        # _ProcessBatch.apply_all); set on start, and again whenever a duplicate turns up.
        self.look_first_until = time.monotonic() + LOOK_FIRST_S

    def duplicates_seen(self) -> None:
        self.look_first_until = time.monotonic() + LOOK_FIRST_S

    @contextmanager
    def open_batch(self) -> Iterator[_ProcessBatch]:
        batch = _ProcessBatch(self)
        yield batch
        batch.commit()
        # After the runtime published the batch's poison messages to the dead-letter topic:
        # only now is their processing recorded, so a crash in between re-sends them.
        for envelope in batch.dead_lettered:
            self.app.record_processed(envelope.source, envelope.position)


@dataclass
class _Decided:
    envelope: Envelope
    policy: Policy
    data: Any


class _ProcessBatch:
    """One poll's events. Their policies run against one shared unit of work, whose changes
    and every event's tracking record are saved in a single transaction at the end (one
    commit per batch, each aggregate read once). If a policy refuses an event, or the save
    meets a concurrent writer, the batch falls back to one transaction per event, each
    deciding on fresh state, so no event's outcome depends on another's failure."""

    def __init__(self, manager: ProcessManager) -> None:
        self.manager = manager
        self.app = manager.app
        self.unit = Unit(self.app, manager.saved)
        self.decided: list[_Decided] = []  # run against the shared unit, not yet saved
        self.one_by_one = False
        self.seen: set[tuple[str, int]] = set()
        self.dead_lettered: list[Envelope] = []
        # Origins whose tracking records apply_all read for the whole poll, and those found.
        self.asked: set[tuple[str, int]] = set()
        self.processed_before: set[tuple[str, int]] = set()

    def apply_all(self, envelopes: list[Envelope]) -> list[Applied]:
        # Which of the poll's events were processed already, in one round trip. Only a
        # shortcut: an event processed before (or by another member after this read) is
        # caught when the batch's tracking records are inserted, and the batch is then
        # decided one by one, each event checked again. So it is asked only while
        # duplicates are likely (after a start, or after one turned up): otherwise every
        # poll of a steady stream paid a round trip to hear "none".
        asked = [(e.source, e.position) for e in envelopes if self._concerns(e)]
        if time.monotonic() < self.manager.look_first_until:
            self.processed_before = self.app.processed_among(asked)
            if self.processed_before:
                self.manager.duplicates_seen()
        self.asked = set(asked)
        decoded = self._read_ahead(envelopes)
        return [self.apply(envelope, decoded.get(id(envelope))) for envelope in envelopes]

    def _read_ahead(self, envelopes: list[Envelope]) -> dict[int, Any]:
        """Decode the events whose policies declare what they read, and read all of that
        into the unit in one go. The decoded data, by envelope."""
        decoded: dict[int, Any] = {}
        wanted: list[UUID] = []
        for envelope in envelopes:
            if (envelope.source, envelope.position) in self.processed_before:
                continue
            try:
                policy = handler_for(envelope.type, self.manager.policies)
                ids = getattr(policy, "reads", None)
                if ids is None:
                    continue
                data = decode_data(envelope)
            except (UnknownEventType, ValidationError):
                continue  # rejected by apply, with its reason
            decoded[id(envelope)] = data
            wanted.extend(ids(data))
        if wanted:
            self.unit.get_many(list(dict.fromkeys(wanted)))
        return decoded

    def _concerns(self, envelope: Envelope) -> bool:
        try:
            return handler_for(envelope.type, self.manager.policies) is not None
        except UnknownEventType:
            return True  # dead-lettered, and tracked

    def apply(self, envelope: Envelope, data: Any = None) -> Applied:
        unreadable: UnknownEventType | None = None
        try:
            policy = handler_for(envelope.type, self.manager.policies)
        except UnknownEventType as error:
            policy, unreadable = None, error
        if policy is None and unreadable is None:
            return Applied(Outcome.IGNORED)  # not this saga's concern: nothing to record
        origin = (envelope.source, envelope.position)
        if origin in self.seen or origin in self.processed_before:
            return Applied(Outcome.DUPLICATE)
        if origin not in self.asked and self.app.is_processed(*origin):
            return Applied(Outcome.DUPLICATE)
        self.seen.add(origin)
        if policy is None:
            return self._reject(envelope, f"UnknownEventType: {unreadable}")
        if data is None:
            try:
                data = decode_data(envelope)  # any readable version, upcast to the current one
            except ValidationError as error:
                return self._reject(envelope, f"ValidationError: {error}")
        decided = _Decided(envelope, policy, data)
        if self.one_by_one:
            return self._apply_alone(decided)
        try:
            policy(self.unit, envelope, data)
        except (Rejected, DomainError):
            # The shared unit may hold this policy's half-made changes: start again, one by
            # one, with the events decided so far; this one then decides on fresh state.
            self._fall_back()
            return self._apply_alone(decided)
        self.decided.append(decided)
        return Applied(Outcome.APPLIED)

    def commit(self) -> None:
        if not self.decided:
            self.unit.committed()  # read ahead, unchanged: as the store has them
            return
        processing = collected(*self.unit.changed)
        trackings = [
            Tracking(application_name=d.envelope.source, notification_id=d.envelope.position)
            for d in self.decided
        ]
        try:
            self.app.record_processing(processing, trackings)
        except IntegrityError:
            # A concurrent writer, or one of them processed before (by another member, or
            # redelivered): one by one.
            self.manager.duplicates_seen()
            poison_before = len(self.dead_lettered)
            self._fall_back()
            if len(self.dead_lettered) > poison_before:
                # An event that its policy accepted in the batch refuses it alone. The
                # runtime has already sent this batch's poison to the dead-letter topic, so
                # have the batch delivered again: that event is then refused up front.
                del self.dead_lettered[poison_before:]
                raise RetryBatch(
                    f"{self.manager.name}: an event's outcome changed on retry"
                ) from None
        else:
            self.decided = []
            self.unit.committed()

    def _fall_back(self) -> None:
        # The shared unit is dropped, with what it took from the kept aggregates: it may
        # hold changes that will never be saved.
        decided, self.decided = self.decided, []
        self.unit = Unit(self.app, self.manager.saved)
        self.one_by_one = True
        for earlier in decided:
            self._apply_alone(earlier)

    def _apply_alone(self, decided: _Decided) -> Applied:
        envelope = decided.envelope
        for _attempt in range(self.manager.max_conflicts):
            if self.app.is_processed(envelope.source, envelope.position):
                return Applied(Outcome.DUPLICATE)  # another member processed it meanwhile
            unit = Unit(self.app, self.manager.saved)
            try:
                decided.policy(unit, envelope, decided.data)
            except (Rejected, DomainError) as error:
                return self._reject(envelope, f"{type(error).__name__}: {error}")
            processing = collected(*unit.changed)
            tracking = Tracking(application_name=envelope.source, notification_id=envelope.position)
            try:
                self.app.record_processing(processing, [tracking])
            except IntegrityError:
                continue  # a concurrent command changed an aggregate: decide again
            unit.committed()
            return Applied(Outcome.APPLIED)
        raise RuntimeError(
            f"{self.manager.name}: {envelope.type} at {envelope.source}:{envelope.position} "
            f"conflicted {self.manager.max_conflicts} times in a row"
        )

    def _reject(self, envelope: Envelope, reason: str) -> Applied:
        log.warning("%s: rejecting %s: %s", self.manager.name, envelope.type, reason)
        self.dead_lettered.append(envelope)
        return Applied(Outcome.DEAD_LETTERED, reason[:500])

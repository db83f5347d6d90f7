"""A consumer of several topics applies their events in the order they happened.

Kafka keeps order within a partition only, and kafka-python hands a poll over one
partition after another. So every consumer merges a poll's records across partitions by
each event's time (``in_causal_order``). A poll holds at most ``max_poll_records``, so a
consumer catching up can still get orders' OrderApproved a poll before finance's
CreditReserved that led to it: a consumer whose outcomes depend on that (the warnings
process: ``ConsumerRuntime(hold_back=True)``) also holds back, while some partition has
more in the broker than it has read, the records later than what was last read from that
partition (``CausalMerge``). Read models are order-free instead, and so is a rebuild.

Why the event's time orders cause and effect: an event caused by one of another service
was recorded after its cause had been published and read, so it is later on any clock that
is not out by more than that hop. Why nothing else can slip in between: a cause is in the
broker before its effect is recorded, so a fetch that brings the effect brings the cause too,
or shows that its partition has more to read (its position is short of its high watermark).
Each partition's own order is kept whatever its times say (a merge never reorders one
input): a subject's events stay in sequence, and an imported event stamped with its
historic date cannot overtake what came before it on its partition.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from math import inf

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError

from contracts.envelope import Envelope

Decoded = tuple[ConsumerRecord, Envelope]
Undecodable = tuple[ConsumerRecord, str]


def decode(record: ConsumerRecord) -> Envelope:
    """Parse a record into an envelope (raises ValueError / ValidationError if it is poison)."""
    # Parsed and validated in one pass from the bytes (pydantic's JSON parser), not through
    # a dict built by json.loads first.
    return Envelope.model_validate_json(record.value)


def instant(envelope: Envelope) -> float:
    # As a number: a time without a zone, which an envelope allows, would not compare with
    # one that has a zone.
    return envelope.time.timestamp()


def short(error: Exception) -> str:
    text = str(error).replace("\n", " ")
    return text[:500]


def in_causal_order(
    polled: Mapping[TopicPartition, list[ConsumerRecord]],
) -> tuple[list[Decoded], list[Undecodable]]:
    """One poll's records decoded and merged across partitions by the time of their events;
    and those that cannot be decoded, with the reason. (Within the poll only: see
    ``CausalMerge`` for what spans polls.)"""
    merge = CausalMerge()
    undecodable = merge.add(polled)
    return merge.release(), undecodable


class CausalMerge:
    """A consumer's records, held across polls until they can go in the order their events
    happened. ``add`` each poll, then ``release`` what may be applied now."""

    def __init__(self) -> None:
        self.held: dict[TopicPartition, deque[tuple[float, ConsumerRecord, Envelope]]] = {}
        # The time of the last event read from each partition: nothing earlier is expected
        # from it (its times rise, but for an imported event, which only follows its own).
        self.read_up_to: dict[TopicPartition, float] = {}

    @property
    def holding(self) -> int:
        return sum(len(queue) for queue in self.held.values())

    def add(self, polled: Mapping[TopicPartition, list[ConsumerRecord]]) -> list[Undecodable]:
        """Take a poll's records; return those that cannot be decoded (never held: they
        have no time, and go to the dead-letter topic as they are)."""
        undecodable: list[Undecodable] = []
        for tp, records in polled.items():
            queue = self.held.get(tp)
            if queue is None:
                queue = self.held[tp] = deque()
            for record in records:
                try:
                    envelope = decode(record)
                except (ValueError, ValidationError) as error:
                    undecodable.append((record, f"undecodable: {short(error)}"))
                    continue
                at = instant(envelope)
                queue.append((at, record, envelope))
                self.read_up_to[tp] = at
        return undecodable

    def release(self, behind: frozenset[TopicPartition] = frozenset()) -> list[Decoded]:
        """Everything held that can go now, merged by time. ``behind``: partitions that have
        more in the broker than has been read; while one of them holds nothing, an event
        later than the last one read from it waits for it (it may hold that event's cause)."""
        waits_for = min(
            (self.read_up_to.get(tp, -inf) for tp in behind if not self.held.get(tp)),
            default=inf,
        )
        queues = [queue for queue in self.held.values() if queue]
        if not queues:
            return []
        if len(queues) == 1 and waits_for == inf:
            released = [(record, envelope) for _, record, envelope in queues[0]]
            queues[0].clear()
            return released
        released = []
        heads = [(queue[0][0], index, queue) for index, queue in enumerate(queues)]
        heapq.heapify(heads)
        while heads:
            at, index, queue = heads[0]
            if at > waits_for:
                break
            _, record, envelope = queue.popleft()
            released.append((record, envelope))
            if queue:
                heapq.heapreplace(heads, (queue[0][0], index, queue))
            else:
                heapq.heappop(heads)
                tp = record.topic, record.partition
                if TopicPartition(*tp) in behind:
                    # Now empty and behind: what follows on it waits for its next records.
                    waits_for = min(waits_for, self.read_up_to[TopicPartition(*tp)])
        return released

    def first_held_offsets(self) -> dict[TopicPartition, int]:
        """The offset of the first record held back, by partition: how far its offsets may
        be committed."""
        return {tp: queue[0][1].offset for tp, queue in self.held.items() if queue}

    def forget(self, partitions) -> None:
        """Drop what is held of partitions no longer this consumer's (they are read again by
        their next owner, from offsets that were never committed past them)."""
        for tp in partitions:
            self.held.pop(tp, None)
            self.read_up_to.pop(tp, None)

    def forget_all(self) -> None:
        self.held.clear()
        self.read_up_to.clear()

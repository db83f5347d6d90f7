"""The consumer runtime shared by projectors and process managers.

A Kafka consumer group with manual commits. Each polled batch is handed to a handler that
applies the effects and records the origin of every event (service + position in that
service's log) in one database transaction; only then are the Kafka offsets committed.
Redelivery, a crash between the two commits, or a rebalance therefore changes nothing: the
origin is already recorded and the event is skipped. Offsets are only a hint; origins stay
valid even when a broker lost its data and the relay republished from zero. Under load the
offsets of several polls are committed together (at most ``commit_interval_s`` apart): a
crash redelivers a little more, and changes nothing more.

A message that cannot be decoded, or that its handler rejects, is published to the
consumer's dead-letter topic with the reason before the batch commits; the consumer goes on.

One consumer may feed several handlers (the query process's projectors): each record is
fetched and parsed once, and each handler gets the poll's records of the topics it reads,
in its own transaction with its own tracking records and its own dead-letter topic. The
offsets are committed once every handler has committed; a crash in between redelivers the
poll, and each handler skips what it had recorded.

A poll's records are applied in the order their events happened, across topics (see
``runtime.causal_order``), not partition by partition as the broker hands them over. A
consumer that ``hold_back`` keeps that order across polls too: while it catches up, records
later than what it has read of a lagging partition are held back, and their offsets are
committed only once they are applied.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError

from contracts.envelope import Envelope
from runtime import kafka
from runtime.causal_order import CausalMerge, Decoded, Undecodable
from runtime.metrics import CONSUMED, CONSUMER_BATCH_SECONDS
from runtime.published import PublishedListener, start_listener
from runtime.settings import Settings

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"  # a type this consumer does not handle: tracked, no effect
    DUPLICATE = "duplicate"  # its origin was already processed
    DEAD_LETTERED = "dead_lettered"


class Rejected(Exception):
    """Raised by a handler for an event it cannot apply (poison): it is dead-lettered."""


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    reason: str | None = None


class Batch(Protocol):
    def apply_all(self, envelopes: list[Envelope]) -> list[Applied]:
        """Apply a poll's events in order: one outcome per event."""
        ...


class JointBatch(Protocol):
    """One transaction shared by several handlers' batches of a poll."""

    def prepare(self, work: list[tuple[Handler, list[Envelope]]]) -> None:
        """Told every handler's events of the poll before any batch is opened."""
        ...

    def open_batch(self, handler: Handler) -> AbstractContextManager[Batch]: ...


class Handler(Protocol):
    """Applies events with their tracking records in one transaction per batch."""

    name: str
    transient_errors: tuple[type[Exception], ...]  # retried (e.g. the database is down)

    def open_batch(self) -> AbstractContextManager[Batch]: ...


@dataclass(frozen=True)
class Route:
    """One handler of a consumer: the topics it reads, and where its poison messages go."""

    handler: Handler
    topics: frozenset[str]
    dead_letter_topic: str


class IdlePacing:
    """How often an idle consumer asks the broker for more.

    Every poll sends fetch requests, each held by the broker for at most ``fetch_max_wait_ms``
    (50 ms: the embedded broker does not answer a held fetch when records arrive, so a longer
    wait would add its length to every event's latency). Polled back to back, an idle
    consumer costs ~0.02 cores of its own and ~0.01 of the broker's. After ``idle_after_s``
    without a record, polls are spaced ``idle_period_s`` apart instead; the first record
    ends the pause. Under load nothing changes.

    Something in the same process may know that records are coming: the service's relay
    has just published (the other services' answers to it follow), or a query waits for its
    read model to reach a position, or the relay of another process has said (through
    PostgreSQL, runtime.published) that it published to a topic the consumer reads. It rings
    ``wake``: the consumer polls at once, and at full pace for ``idle_after_s``. Only an
    event whose word was lost (a listener reconnecting) waits up to ``idle_period_s`` more.
    So while the listener it ``hears_through`` is connected, the consumer's own polls are
    only the fallback, and an idle one polls every ``heard_period_s`` instead (the word is
    sent in the transaction that records the relay's position: it is lost only with the
    listener's connection, and then the shorter period is back at once).

    A member of a consumer group never pauses while its group is rebalancing (from the
    revocation of its partitions to their next assignment). kafka-python 3 finishes a join
    on its IO thread but sends no heartbeat until the next poll has taken the result: a
    member pausing then stays silent for the whole pause, and with a session timeout shorter
    than that the broker evicts it, and the next join ends the same way."""

    def __init__(
        self,
        *,
        idle_after_s: float = 2.0,
        idle_period_s: float = 2.0,
        heard_period_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_after_s = idle_after_s
        self.idle_period_s = idle_period_s
        self.heard_period_s = heard_period_s
        self._listening: threading.Event | None = None
        self.clock = clock
        self._last_record = clock()
        self._bell = threading.Event()
        self._rebalancing = False  # outside a group, never

    @property
    def idle(self) -> bool:
        return self.clock() - self._last_record >= self.idle_after_s

    def records_seen(self) -> None:
        self._last_record = self.clock()

    def rebalancing(self) -> None:
        """The member is joining its group, or rejoining it: poll at full pace."""
        self._rebalancing = True

    def assigned(self) -> None:
        """The join is complete (heartbeats flow again): idle pauses may resume."""
        self._rebalancing = False

    def hears_through(self, listening: threading.Event) -> None:
        """``listening`` is set while word of new records can reach ``wake``."""
        self._listening = listening

    @property
    def period_s(self) -> float:
        heard = self._listening is not None and self._listening.is_set()
        if heard and self.heard_period_s is not None:
            return self.heard_period_s
        return self.idle_period_s

    @property
    def in_rebalance(self) -> bool:
        return self._rebalancing

    def wake(self) -> None:
        """Records are expected soon: end the pause, and poll at full pace again."""
        self._last_record = self.clock()
        self._bell.set()

    def pause_after_empty_poll(self, poll_started: float) -> float:
        """Seconds to wait before the next poll (0: poll again at once)."""
        if not self.idle or self._rebalancing:
            return 0.0
        return max(0.0, self.period_s - (self.clock() - poll_started))

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or until ``wake`` rings."""
        if seconds > 0:
            self._bell.wait(seconds)
        self._bell.clear()


# How often an idle consumer polls while its listener hears the relays (IdlePacing): each
# poll is a fetch the broker answers, in every process, for nothing.
HEARD_PERIOD_S = 5.0

# An idle consumer or relay asks whether its topic was lost this many times less often.
IDLE_TOPIC_CHECKS_SPACED = 5

# Records held back for a lagging partition (runtime.causal_order) are applied as they are
# once none could be let go for this long: that partition's fetches are failing, and the
# rest of the consumer's topics must not stop for it.
MAX_HOLD_S = 10.0


class ConsumerRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        handler: Handler | None = None,
        topics: list[str] | None = None,
        consumer_name: str | None = None,
        handlers: dict[str, tuple[Handler, list[str]]] | None = None,
        poll_timeout_ms: int = 100,
        idle_poll_timeout_ms: int = 50,
        max_records: int | None = None,
        topic_check_interval_s: float = 1.0,
        commit_interval_s: float = 0.2,
        joint: Callable[[], AbstractContextManager[JointBatch]] | None = None,
        gather_s: float = 0.0,
        hold_back: bool = False,
    ) -> None:
        """One handler (``handler`` reading ``topics``), or several sharing this consumer:
        ``handlers`` maps the name each goes by (naming its dead-letter topic) to the handler
        and its topics, and ``consumer_name`` names the group. ``joint``: opens one
        transaction in which every handler a poll reaches does its batch in turn (else each
        handler commits its own). ``gather_s``: under load, take a poll's records at most
        this often (see ``_gather``). ``hold_back``: keep the order of events across polls
        too, not only within each (see ``_behind``)."""
        self.settings = settings
        self.joint = joint
        if handlers is None:
            assert handler is not None and topics is not None
            # A consumer's name (default: its handler's) names its group and dead-letter topic.
            handlers = {consumer_name or handler.name: (handler, topics)}
        self.routes = [
            Route(h, frozenset(t), settings.dead_letter_topic(name))
            for name, (h, t) in handlers.items()
        ]
        self.handler = self.routes[0].handler
        self.topics = sorted({topic for route in self.routes for topic in route.topics})
        self.name = consumer_name or next(iter(handlers))
        self.group_id = settings.consumer_group(self.name)
        self.dead_letter_topic = self.routes[0].dead_letter_topic
        self.dead_letter_topics = [route.dead_letter_topic for route in self.routes]
        self.transient_errors = tuple(
            {error for route in self.routes for error in route.handler.transient_errors}
        )
        self.poll_timeout_ms = poll_timeout_ms
        self.idle_poll_timeout_ms = idle_poll_timeout_ms
        self.pacing = IdlePacing(heard_period_s=HEARD_PERIOD_S)
        # Woken from its idle pause when a relay of another process publishes to its topics.
        # (None: idle pacing alone, as a test's control has it.)
        self.listener: PublishedListener | None = PublishedListener(
            settings, self.topics, self.pacing.wake, name=self.name
        )
        self.pacing.hears_through(self.listener.listening)
        self.max_records = max_records or settings.consumer_max_poll_records
        self.topic_check_interval_s = topic_check_interval_s
        # Under load, offsets are committed to the broker at most this often (and at once
        # when a poll comes back empty): each commit is a broker round trip, and the origins
        # the handlers record, not the offsets, are what make a redelivery harmless.
        self.commit_interval_s = commit_interval_s
        self.gather_s = gather_s
        self.hold_back = hold_back
        self.replay_from_start = False
        self.merge: CausalMerge | None = None  # what the current group member holds back
        self.stopping = threading.Event()
        self.running = threading.Event()
        self.last_error: str | None = None

    def stop(self) -> None:
        self.stopping.set()
        if self.listener is not None:
            self.listener.stop()
        self.pacing.wake()  # out of an idle pause at once

    def run(self) -> None:
        """Consume until stopped; broker and database outages are retried with the group
        rejoining. Anything else is a bug: it stops the consumer, and readiness reports it."""
        if self.listener is not None:
            start_listener(self.listener)
        try:
            while not self.stopping.is_set():
                try:
                    self._consume()
                except (KafkaError, *self.transient_errors) as error:
                    self.last_error = str(error).splitlines()[0]
                    self.running.clear()
                    log.warning("consumer %s: %s; reconnecting", self.name, error)
                    self.stopping.wait(1.0)
        except BaseException as error:
            self.last_error = f"stopped by {type(error).__name__}: {error}"
            log.exception("consumer %s stopped", self.name)
            raise
        finally:
            if self.listener is not None:
                self.listener.stop()

    def _consume(self) -> None:
        admin = kafka.admin(self.settings)
        try:
            topic_ids = {
                topic: kafka.ensure_topic(admin, topic, self.settings)
                for topic in [*self.topics, *self.dead_letter_topics]
            }
            self._consume_topics(admin, topic_ids)
        finally:
            admin.close()

    def _topics_recreated(self, admin, topic_ids: dict[str, str]) -> bool:
        """A topic with a new id was lost and created again (a broker that lost its data):
        the positions this consumer holds point into a log that no longer exists."""
        for topic in self.topics:
            if kafka.topic_id(admin, topic) not in (None, topic_ids[topic]):
                log.warning("consumer %s: %s was recreated; reading it again", self.name, topic)
                return True
        return False

    def _consume_topics(self, admin, topic_ids: dict[str, str]) -> None:
        consumer = kafka.group_consumer(
            self.settings,
            group_id=self.group_id,
            topics=self.topics,
            max_poll_records=self.max_records,
            listener=_Rebalances(self),
            # What is held back is at most about one fetch of each partition: a quarter of
            # the default megabyte keeps it small (a live consumer's fetches are far smaller).
            **({"max_partition_fetch_bytes": 256 * 1024} if self.hold_back else {}),
        )
        dead_letters = kafka.producer(self.settings, client_id=f"{self.name}-dlq")
        self.pacing.rebalancing()  # until the first assignment
        self.running.set()
        self.last_error = None
        next_topic_check = time.monotonic() + self.topic_check_interval_s
        # Offsets of polls whose effects are committed, not yet committed to the broker.
        uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}
        next_commit = 0.0
        streak = 0  # polls in a row that brought records
        self.merge = merge = CausalMerge()
        held_since: float | None = None
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= next_topic_check:
                    if self._topics_recreated(admin, topic_ids):
                        # Positions held or committed since the loss may point into the old
                        # log: read every assigned partition from the start, now and on every
                        # later assignment (origin tracking makes the replay harmless). The
                        # same member stays in the group: leaving and joining again would wait
                        # for the rebalance timeout on the broker.
                        self.replay_from_start = True
                        uncommitted.clear()  # offsets in the lost log
                        topic_ids.update(
                            {t: kafka.topic_id(admin, t) or topic_ids[t] for t in self.topics}
                        )
                        merge.forget_all()
                        if consumer.assignment():
                            consumer.seek_to_beginning(*consumer.assignment())
                    # Idle, a lost topic is looked for less often: nothing is being read
                    # from it meanwhile.
                    spacing = IDLE_TOPIC_CHECKS_SPACED if self.pacing.idle else 1
                    next_topic_check = time.monotonic() + self.topic_check_interval_s * spacing
                poll_started = time.monotonic()
                polled = consumer.poll(
                    timeout_ms=self.idle_poll_timeout_ms
                    if self.pacing.idle
                    else self.poll_timeout_ms
                )
                if not polled and not merge.holding:
                    streak = 0
                    self._commit(consumer, uncommitted)
                    self.pacing.pause(self.pacing.pause_after_empty_poll(poll_started))
                    continue
                if polled:
                    self.pacing.records_seen()
                started = time.perf_counter()
                undecodable = merge.add(polled)
                decoded = merge.release(self._behind(consumer, polled, merge))
                # How long records have been held with nothing let go: a catch-up lets some
                # go at every poll, a partition that never catches up lets none go.
                if not merge.holding:
                    held_since = None
                elif decoded or held_since is None:
                    held_since = time.monotonic()
                elif time.monotonic() - held_since > MAX_HOLD_S:
                    log.warning(
                        "consumer %s: %d records held for %.0f s for a partition that does "
                        "not catch up; applying them as they are",
                        self.name,
                        merge.holding,
                        MAX_HOLD_S,
                    )
                    decoded = merge.release()
                    held_since = None
                if decoded or undecodable:
                    self._process(decoded, undecodable, dead_letters)
                uncommitted.update(
                    (tp, OffsetAndMetadata(records[-1].offset + 1, "", -1))
                    for tp, records in polled.items()
                )
                # Not past what is held back: a crash, or the partition going to another
                # member, has it read again.
                uncommitted.update(
                    (tp, OffsetAndMetadata(offset, "", -1))
                    for tp, offset in merge.first_held_offsets().items()
                )
                if time.monotonic() >= next_commit:
                    self._commit(consumer, uncommitted)
                    next_commit = time.monotonic() + self.commit_interval_s
                CONSUMER_BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                streak += 1
                if streak > 1:
                    self._gather(poll_started)
        finally:
            self.running.clear()
            try:
                self._commit(consumer, uncommitted)
            except KafkaError:
                log.info("consumer %s: offsets not committed on the way out", self.name)
            consumer.close(autocommit=False)
            dead_letters.close()

    def _behind(
        self, consumer: KafkaConsumer, polled: dict, merge: CausalMerge
    ) -> frozenset[TopicPartition]:
        """The assigned partitions with more in the broker than this consumer has read: what
        is later than the last record read from one of them waits for it (runtime.
        causal_order). Only for a consumer that ``hold_back``: the warnings process, whose
        outcomes depend on which of two services' events came first (a credit hold resolved
        by a controller's override or by the approval that followed it). Every read model
        is order-free, and the sagas' outcomes do not depend on that order (what they
        record of it, such as the order of an order's refusals, may); holding back costs a
        consumer that catches up memory (decoded records of the partitions ahead) and
        throughput. Any consumer keeps the order within each poll.

        Asked only when it may matter: when a poll came back full (the broker had more than
        one poll's worth) or records are held back. A poll short of full took every record
        the fetch brought, and the fetch brought, of every partition, whatever the broker
        had: so also the cause of any effect among them."""
        if not self.hold_back:
            return frozenset()
        if not merge.holding and sum(map(len, polled.values())) < self.max_records:
            return frozenset()
        behind = set()
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = consumer.position(tp, timeout_ms=0)
            if high is None or position is None or position < high:
                behind.add(tp)
        return frozenset(behind)

    def _gather(self, poll_started: float) -> None:
        """Wait out the rest of ``gather_s`` after a poll that brought records. Under load a
        consumer polls again as soon as it has applied a batch, and the broker answers with
        whatever arrived meanwhile: at 50 orders/s a poll of four events every 40 ms, each
        paying the same fixed cost (the fetch, the handler's transaction, the commit), in
        every process at once, until the machine's cores are all busy at any rate. Waiting
        makes the batches larger and the polls few. Only within a stream (the poll before
        also brought records): the first records after a quiet moment are answered at once,
        and so is whatever follows them at once. Never while the group rebalances (see
        IdlePacing); a stop ends the wait. Safe for the order of events: a poll's records
        are applied in the order they happened (causal_order). A query waiting for a
        position may wait out one gathering too (cutting it short for such a query was
        tried: in one run it cost more than it saved, within the bench's noise)."""
        if self.gather_s <= 0 or self.pacing.in_rebalance:
            return
        self.stopping.wait(max(0.0, self.gather_s - (time.monotonic() - poll_started)))

    def _commit(self, consumer: KafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]):
        """Commit the offsets of what the handlers have committed, if any."""
        if not offsets:
            return
        try:
            consumer.commit(dict(offsets))
        except CommitFailedError as error:
            # A rebalance took the partitions away; the next owner redelivers and the
            # tracking records make that harmless.
            log.info("consumer %s: commit after rebalance: %s", self.name, error)
        offsets.clear()

    def _process(
        self, decoded: list[Decoded], undecodable: list[Undecodable], dead_letters
    ) -> None:
        routed = [
            (
                route,
                [(r, e) for r, e in decoded if r.topic in route.topics],
                [(r, reason) for r, reason in undecodable if r.topic in route.topics],
            )
            for route in self.routes
        ]
        with self.joint() if self.joint is not None else nullcontext() as joint:
            if joint is not None:
                joint.prepare([(r.handler, [e for _, e in ok]) for r, ok, _ in routed if ok])
            for route, ok, poison in routed:
                self._process_route(route, ok, poison, dead_letters, joint)

    def _process_route(
        self,
        route: Route,
        decoded: list[tuple[ConsumerRecord, Envelope]],
        poison: list[tuple[ConsumerRecord, str]],
        dead_letters,
        joint: JointBatch | None = None,
    ) -> None:
        name = route.handler.name
        if poison:
            CONSUMED.labels(name, Outcome.DEAD_LETTERED).inc(len(poison))
        if not decoded and not poison:
            return
        opened = joint.open_batch(route.handler) if joint else route.handler.open_batch()
        with opened as batch:
            results = batch.apply_all([envelope for _, envelope in decoded])
            for (record, _), result in zip(decoded, results, strict=True):
                CONSUMED.labels(name, result.outcome).inc()
                if result.outcome == Outcome.DEAD_LETTERED:
                    poison.append((record, result.reason or "rejected"))
            if poison:
                # Before the batch commits: a crash in between re-sends (a duplicate in the
                # dead-letter topic), never loses the poison message.
                self._dead_letter(route, poison, dead_letters)

    def _dead_letter(
        self, route: Route, poison: list[tuple[ConsumerRecord, str]], producer
    ) -> None:
        futures = []
        for record, reason in poison:
            log.warning(
                "consumer %s: dead-lettering %s[%d]@%d: %s",
                route.handler.name,
                record.topic,
                record.partition,
                record.offset,
                reason,
            )
            headers = [
                ("dlq.reason", reason.encode()),
                ("dlq.consumer", route.handler.name.encode()),
                ("dlq.topic", record.topic.encode()),
                ("dlq.partition", str(record.partition).encode()),
                ("dlq.offset", str(record.offset).encode()),
                ("dlq.time", datetime.now(UTC).isoformat().encode()),
            ]
            futures.append(
                producer.send(
                    route.dead_letter_topic, key=record.key, value=record.value, headers=headers
                )
            )
        producer.flush()
        for future in futures:
            future.get(timeout=30)


class _Rebalances(ConsumerRebalanceListener):
    """Tells the pacing when the member is rebalancing, and reads a recreated topic from its
    start on every assignment."""

    def __init__(self, runtime: ConsumerRuntime) -> None:
        self.runtime = runtime
        self.consumer: KafkaConsumer | None = None

    # Called from within poll. With the default (eager) assignors every rejoin revokes first;
    # partitions lost to an eviction are revoked too (the listener's default).
    def on_partitions_revoked(self, revoked) -> None:
        self.runtime.pacing.rebalancing()
        if self.runtime.merge is not None:
            self.runtime.merge.forget(revoked)

    def on_partitions_assigned(self, assigned) -> None:
        self.runtime.pacing.assigned()
        if self.runtime.replay_from_start and assigned and self.consumer is not None:
            self.consumer.seek_to_beginning(*assigned)

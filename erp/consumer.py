"""The ERP's Kafka side (kafka-python): a consumer group on the finance and inventory topics
with manual commits, and a replay that reads a topic again from its start.

At least once on the wire, exactly once in the ledger: a batch is posted in one database
transaction (``Ledger.record``, de-duplicating by event id), and only then are its offsets
committed. A crash in between, a rebalance or a republished topic redelivers events the
ledger already holds; they post nothing. A record that is not JSON, or whose envelope or
data does not fit its published schema, is kept with the reason and the consumer goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from erp.ledger import Ledger
from erp.schemas import InvalidEvent, Published

log = logging.getLogger("erp")


@dataclass(frozen=True)
class ErpSettings:
    """Where the ERP reads and writes, from the environment (see ``erp.__main__``)."""

    database_url: str
    bootstrap_servers: list[str]
    namespace: str = "dist"
    schema: str = "erp"
    session_timeout_ms: int = 10_000
    sources: tuple[str, ...] = ("finance", "inventory")

    def topic(self, source: str) -> str:
        return f"{self.namespace}.{source}.events"

    @property
    def group_id(self) -> str:
        return f"{self.namespace}.erp"


@dataclass
class Tally:
    """What a run or a replay did."""

    records: int = 0
    outcomes: Counter = field(default_factory=Counter)
    gaps_seen: int = 0

    def add(self, records: int, result: dict[str, Any]) -> None:
        self.records += records
        self.gaps_seen += len(result.pop("gaps"))
        self.outcomes.update({k: v for k, v in result.items() if v})


def post_records(ledger: Ledger, published: Published, records: list) -> dict[str, Any]:
    """Validate each record against its schema and post the batch in one transaction. An
    envelope that does not fit its schema has no id or origin to trust: it is kept as it
    came (unreadable). Data that does not fit the schema of its type is recorded under its
    event id as rejected, with the reason (a replay posts it once the cause is fixed)."""
    envelopes, rejected, unreadable = [], {}, []
    for record in records:
        try:
            envelope = json.loads(record.value)
            published.check_envelope(envelope)
        except (ValueError, InvalidEvent) as error:
            reason = f"{type(error).__name__}: {error}"[:500]
            unreadable.append((record.topic, record.partition, record.offset, record.value, reason))
            log.warning(
                "erp: unreadable %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                reason,
            )
            continue
        try:
            published.check_data(envelope)
        except InvalidEvent as error:
            rejected[envelope["id"]] = str(error)
        envelopes.append(envelope)
    return ledger.record(envelopes, rejected, unreadable)


def run(
    settings: ErpSettings,
    ledger: Ledger,
    published: Published,
    *,
    stop: threading.Event,
    on_batch: Callable[[Tally], None] | None = None,
) -> Tally:
    """Consume in the ERP's group until ``stop`` is set. Broker and database outages are
    retried: the batch in hand was not committed, so it is delivered again."""
    tally = Tally()
    while not stop.is_set():
        try:
            _consume(settings, ledger, published, stop, tally, on_batch)
        except (KafkaError, psycopg2.OperationalError, psycopg2.InterfaceError) as error:
            log.warning("erp: %s; reconnecting", str(error).splitlines()[0])
            stop.wait(1.0)
            if isinstance(error, psycopg2.Error):
                ledger.reconnect()
    return tally


def _consume(settings, ledger, published, stop, tally, on_batch) -> None:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.group_id,
        client_id=settings.group_id,
        enable_auto_commit=False,  # committed after the ledger's transaction
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.session_timeout_ms // 4),
        max_poll_records=500,
        # An answer that never comes (a SyncGroup lost in a rebalance) fails and the member
        # rejoins after 30 s, not kafka-python's 305 s (runtime/kafka.py, INFRA-NOTES).
        request_timeout_ms=max(30_000, settings.session_timeout_ms + 5_000),
    )
    topics = [settings.topic(source) for source in settings.sources]
    consumer.subscribe(topics)
    # Know the partitions before the first poll joins the group, as the platform's own
    # consumers do: a leader assigning from metadata not yet arrived assigns nothing, and
    # the second rebalance that follows sometimes never finishes on Apache Kafka.
    for topic in topics:
        consumer.partitions_for_topic(topic)
    try:
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=200)
            if not polled:
                continue
            records = [record for batch in polled.values() for record in batch]
            tally.add(len(records), post_records(ledger, published, records))
            offsets = {
                tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()
            }
            try:
                consumer.commit(offsets)
            except CommitFailedError as error:  # a rebalance: the next owner redelivers
                log.info("erp: commit after rebalance: %s", error)
            if on_batch is not None:
                on_batch(tally)
    finally:
        consumer.close(autocommit=False)


def replay(
    settings: ErpSettings,
    ledger: Ledger,
    published: Published,
    *,
    source: str,
    from_position: int,
    idle_s: float = 1.0,
    on_batch: Callable[[Tally, int], None] | None = None,
) -> tuple[int, Tally]:
    """Post ``source``'s events again from ``from_position`` on: forget what was received
    from there (its entries go with it), then read the source's topic from its start
    outside any group, to its end. Earlier events are still held and post nothing. Returns
    how many events were forgotten, and the tally of the read."""
    forgotten = ledger.forget_from(source, from_position)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,  # reads on its own: the running consumer's offsets stay
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        client_id=f"{settings.group_id}-replay",
    )
    tally = Tally()
    try:
        topic = settings.topic(source)
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        quiet_since = None
        while True:
            polled = consumer.poll(timeout_ms=200)
            if polled:
                quiet_since = None
                records = [record for batch in polled.values() for record in batch]
                tally.add(len(records), post_records(ledger, published, records))
                if on_batch is not None:
                    on_batch(tally, sum(ends.values()))
                continue
            if not all(consumer.position(p) >= ends[p] for p in partitions):
                continue
            now = time.monotonic()
            quiet_since = quiet_since or now
            if now - quiet_since >= idle_s:
                # Asked again: a broker's first answer may lag its log (Tansu does).
                ends = consumer.end_offsets(partitions)
                if all(consumer.position(p) >= ends[p] for p in partitions):
                    break
                quiet_since = None
    finally:
        consumer.close()
    return forgotten, tally

"""Rebuild a read model from the topics: drop its tables and tracking, then read every
event of the services it follows from the start of their topics and apply it, in batches,
through the same handler the live projector uses; then VACUUM (ANALYZE) its tables.

The projector of a running query process may go on meanwhile: both record every event's
origin in the same tracking table, so whichever applies an event first wins and the other
skips it. Until the rebuild has caught up, queries see a read model filling from empty.
Rebuilding into another schema (``schema=``) leaves the live read model alone: that is how
a new version of a read model is built beside the old one, and how the tests compare them.

The end of the log is where the consumer has read up to the topics' end offsets and then
heard nothing for ``idle_s``: the embedded broker's end offsets can lag its log by a batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Engine, delete, func, select
from tqdm import tqdm

from contracts import Envelope
from projections.bootstrap import PROJECTIONS
from projections.tracking import (
    Projection,
    SqlProjectionHandler,
    create_tables,
    processed,
    projections_engine,
    record_version,
    watermarks,
)
from runtime import kafka
from runtime.causal_order import decode
from runtime.consumer import Outcome
from runtime.settings import Settings

T = TypeVar("T")


class UnknownProjection(LookupError):
    pass


@dataclass
class RebuildSummary:
    projection: str
    schema: str
    seconds: float = 0.0
    events: int = 0
    outcomes: Counter = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=dict)
    watermarks: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{name} {count:,}" for name, count in sorted(self.outcomes.items()))
        rows = ", ".join(f"{table} {count:,}" for table, count in self.rows.items())
        marks = ", ".join(f"{origin}:{position}" for origin, position in self.watermarks.items())
        return [
            f"{self.projection} rebuilt in {self.schema}: {self.events:,} events in "
            f"{self.seconds:.1f} s ({self.rate:,.0f} events/s)",
            f"  outcomes: {outcomes or 'none'}",
            f"  rows: {rows}",
            f"  watermarks: {marks or 'none'}",
        ]


def projection_named(name: str) -> Projection:
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in PROJECTIONS)
    raise UnknownProjection(f"no read model named {name!r} (there are: {known})")


def reset(engine: Engine, schema: str, projection: Projection) -> None:
    """Drop the read model's tables and its tracking, and create them empty: one
    transaction, so a live projector sees either the old read model or the empty one."""
    create_tables(engine, schema, projection)
    with engine.begin() as conn:
        projection.metadata.drop_all(conn)
        for table in (processed, watermarks):
            conn.execute(delete(table).where(table.c.projection == projection.name))
        projection.metadata.create_all(conn)


def rebuild(
    settings: Settings,
    name: str,
    *,
    schema: str | None = None,
    progress: bool = True,
    batch_size: int = 2000,
    idle_s: float = 1.0,
) -> RebuildSummary:
    projection = projection_named(name)
    schema = schema or settings.projections_schema
    # No ping before each batch: a round trip per batch that, while the reader thread holds
    # the GIL, waited 14 ms on average for it back (9 % of a channel-health rebuild).
    engine = projections_engine(settings, schema, pool_size=1, pre_ping=False)
    summary = RebuildSummary(projection=name, schema=schema)
    try:
        reset(engine, schema, projection)
        handler = SqlProjectionHandler(engine, projection)
        started = time.perf_counter()
        _replay(settings, handler, summary, progress, batch_size, idle_s)
        _vacuum(engine, schema, projection)
        record_version(engine, projection)
        summary.seconds = time.perf_counter() - started
        with engine.connect() as conn:
            for table in projection.metadata.sorted_tables:
                summary.rows[table.name] = conn.execute(
                    select(func.count()).select_from(table)
                ).scalar_one()
        summary.watermarks = {o: handler.watermark(o) for o in projection.origins}
    finally:
        engine.dispose()
    return summary


def _vacuum(engine: Engine, schema: str, projection: Projection) -> None:
    """Statistics and visibility maps for tables that were just filled: without them the
    planner guesses (scans where a partial index would do) and index-only scans read the
    heap, until autovacuum comes round."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in projection.metadata.sorted_tables:
            conn.exec_driver_sql(f'VACUUM (ANALYZE) "{schema}".{table.name}')


def _replay(
    settings: Settings,
    handler: SqlProjectionHandler,
    summary: RebuildSummary,
    progress: bool,
    batch_size: int,
    idle_s: float,
) -> None:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(),
        group_id=None,  # reads on its own: no group offsets are moved
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch_size,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        client_id=f"rebuild-{handler.name}",
        **kafka.NO_CLIENT_METRICS,
    )
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in (settings.topic(origin) for origin in handler.projection.origins)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        bar = tqdm(
            total=sum(ends.values()),
            unit=" events",
            desc=f"rebuilding {handler.name}",
            disable=not progress,
            mininterval=0.5,
        )
        # The consumer is used by the reader thread alone until it has stopped.
        reader = ReadAhead(_decoded_polls(consumer, partitions, ends, batch_size, idle_s))
        with bar, reader:
            for polled in reader:
                _apply(handler, polled, summary)
                bar.update(polled.count)
    finally:
        consumer.close()


@dataclass
class _Decoded:
    """One poll's records: how many, and the envelopes of those that parsed."""

    count: int
    envelopes: list[Envelope]
    poison: int  # records that did not parse


def _decoded_polls(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    ends: dict[TopicPartition, int],
    batch_size: int,
    idle_s: float,
) -> Iterator[_Decoded]:
    """Every record of ``partitions`` from where the consumer stands to the end of the log,
    one poll at a time, decoded."""
    quiet_since = None
    while True:
        polled = consumer.poll(timeout_ms=200, max_records=batch_size)
        if polled:
            quiet_since = None
            yield _decode(polled)
            continue
        if not all(consumer.position(p) >= ends[p] for p in partitions):
            continue
        now = time.monotonic()
        quiet_since = quiet_since or now
        if now - quiet_since >= idle_s:
            # Asked again: the first answer may have lagged the log.
            ends = consumer.end_offsets(partitions)
            if all(consumer.position(p) >= ends[p] for p in partitions):
                return
            quiet_since = None


def _decode(polled: dict) -> _Decoded:
    envelopes = []
    count = poison = 0
    for records in polled.values():
        for record in records:
            count += 1
            try:
                envelopes.append(decode(record))
            except (ValueError, ValidationError):
                poison += 1
    return _Decoded(count, envelopes, poison)


def _apply(handler: SqlProjectionHandler, polled: _Decoded, summary: RebuildSummary) -> None:
    if polled.poison:
        summary.outcomes[Outcome.DEAD_LETTERED.value] += polled.poison  # as the first time
    with handler.open_batch() as batch:
        for result in batch.apply_all(polled.envelopes):
            summary.outcomes[result.outcome.value] += 1
    summary.events += polled.count


class ReadAhead(Generic[T]):
    """Runs an iterator in a thread of its own, up to ``depth`` items ahead of the loop that
    takes them, in order. A rebuild reads and decodes the next poll here while the last one
    is written: psycopg2 lets go of the GIL while PostgreSQL works, so the two overlap
    instead of taking turns. An error of the iterator is raised where the item would have
    been; leaving the ``with`` block early stops the thread."""

    def __init__(self, items: Iterator[T], *, depth: int = 2) -> None:
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # noqa: BLE001 - raised in the taking thread
            self._put(_Failed(error))

    def _put(self, item: object) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


_END = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


__all__ = ["ReadAhead", "RebuildSummary", "UnknownProjection", "rebuild", "reset"]

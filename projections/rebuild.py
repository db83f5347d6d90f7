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

import time
from collections import Counter
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError
from sqlalchemy import Engine, delete, func, select
from tqdm import tqdm

from projections.bootstrap import PROJECTIONS
from projections.tracking import (
    Projection,
    SqlProjectionHandler,
    create_tables,
    processed,
    projections_engine,
    watermarks,
)
from runtime.consumer import Outcome, decode
from runtime.settings import Settings


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
    engine = projections_engine(settings, schema, pool_size=1)
    summary = RebuildSummary(projection=name, schema=schema)
    try:
        reset(engine, schema, projection)
        handler = SqlProjectionHandler(engine, projection)
        started = time.perf_counter()
        _replay(settings, handler, summary, progress, batch_size, idle_s)
        _vacuum(engine, schema, projection)
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
        quiet_since = None
        with bar:
            while True:
                polled = consumer.poll(timeout_ms=200, max_records=batch_size)
                if polled:
                    quiet_since = None
                    count = _apply(handler, polled, summary)
                    bar.update(count)
                    continue
                caught_up = all(consumer.position(p) >= ends[p] for p in partitions)
                if not caught_up:
                    continue
                now = time.monotonic()
                quiet_since = quiet_since or now
                if now - quiet_since >= idle_s:
                    # Asked again: the first answer may have lagged the log.
                    ends = consumer.end_offsets(partitions)
                    if all(consumer.position(p) >= ends[p] for p in partitions):
                        break
                    quiet_since = None
    finally:
        consumer.close()


def _apply(handler: SqlProjectionHandler, polled: dict, summary: RebuildSummary) -> int:
    envelopes = []
    count = 0
    for records in polled.values():
        for record in records:
            count += 1
            try:
                envelopes.append(decode(record))
            except (ValueError, ValidationError):
                summary.outcomes[Outcome.DEAD_LETTERED.value] += 1  # as the first time
    with handler.open_batch() as batch:
        for result in batch.apply_all(envelopes):
            summary.outcomes[result.outcome.value] += 1
    summary.events += count
    return count


__all__ = ["RebuildSummary", "UnknownProjection", "rebuild", "reset"]

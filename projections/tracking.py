"""Read models in PostgreSQL (SQLAlchemy Core), each event applied with its tracking record in
the same transaction, and the per-origin watermark that gives read-your-writes.

``processed`` holds one row per (projection, origin, position): a redelivered event finds its
row and is skipped. Each envelope names the previous position its service published, so the
processed rows form a chain; the watermark is the end of the unbroken chain from the start,
i.e. "every event of that origin up to here is in the read model", even though partitions
deliver events of one origin out of position order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import TextClause

from contracts import Envelope, IntegrationEvent, UnknownEventType, decode_data, handler_for
from contracts.registry import PUBLISHED
from projections.sql_values import column_types, execute_values
from runtime.consumer import Applied, Outcome, Rejected
from runtime.settings import Settings

tracking_metadata = MetaData()

processed = Table(
    "tracking_processed",
    tracking_metadata,
    Column("projection", String, primary_key=True),
    Column("origin", String, primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("previous_position", BigInteger, nullable=False),
    Column("outcome", String, nullable=False),
    Index("tracking_processed_chain", "projection", "origin", "previous_position"),
)

watermarks = Table(
    "tracking_watermark",
    tracking_metadata,
    Column("projection", String, primary_key=True),
    Column("origin", String, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# The version of each read model built here (projections/upgrade.py): raised in the code when
# what its appliers write changes, it makes `dist migrate` rebuild the read model.
read_model_versions = Table(
    "read_model_versions",
    tracking_metadata,
    Column("projection", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("built_at", DateTime(timezone=True), nullable=False),
)

_TRACKING_COLUMNS = ("projection", "origin", "position", "previous_position", "outcome")
_TRACKING_TYPES = column_types(processed, _TRACKING_COLUMNS)

EventApplier = Callable[[Connection, Envelope, Any], None]
# Where appliers may gather writes that commute (increments) for the whole batch, for their
# projection's flushers to write in one statement per table before the batch commits.
BATCH_BUFFER = "projection_batch_buffer"


def batch_buffer(conn: Connection) -> dict[str, Any]:
    return conn.info[BATCH_BUFFER]


def _record_processed(schema: str) -> str:
    """Every event of a poll in one statement (psycopg2's execute_values: SQLAlchemy's
    insertmanyvalues cost more in Python than the insert costs PostgreSQL); the rows it
    returns are the events not processed before (of several read models, in a joint batch)."""
    return (
        f'INSERT INTO "{schema}".tracking_processed '
        f"({', '.join(_TRACKING_COLUMNS)}) VALUES %s "
        "ON CONFLICT DO NOTHING RETURNING projection, origin, position"
    )


def _advance_watermark(schema: str) -> TextClause:
    """For each (projection, origin) of ``:projections`` and ``:origins``, the end of the
    unbroken chain of processed positions from its current watermark: one statement for
    every read model of a poll.

    Each step looks up one row by the whole chain index (projection, origin, previous
    position). A join on ``previous_position`` alone lets PostgreSQL, on a table it has no
    statistics for yet (a fresh or rebuilt read model), scan every row of the origin at
    every step: quadratic, 14 s for a chain of 3,400 where this takes milliseconds.

    Never backwards: another replica's batch may commit a longer chain while this one walks
    from a snapshot taken before it (it then waits for that row lock and writes after). The
    rows are written in (projection, origin) order, so two replicas lock them in one order."""
    return text(
        f"""
        INSERT INTO "{schema}".tracking_watermark (projection, origin, position)
        WITH RECURSIVE chain(projection, origin, position) AS (
            SELECT k.projection, k.origin,
                   coalesce((SELECT w.position FROM "{schema}".tracking_watermark w
                             WHERE w.projection = k.projection AND w.origin = k.origin), 0)
            FROM unnest(CAST(:projections AS text[]), CAST(:origins AS text[]))
                AS k(projection, origin)
            UNION ALL
            SELECT c.projection, c.origin,
                   (SELECT e.position FROM "{schema}".tracking_processed e
                    WHERE e.projection = c.projection AND e.origin = c.origin
                      AND e.previous_position = c.position
                    LIMIT 1)
            FROM chain c WHERE c.position IS NOT NULL
        )
        SELECT projection, origin, max(position) FROM chain
        GROUP BY projection, origin ORDER BY projection, origin
        ON CONFLICT (projection, origin) DO UPDATE
            SET position = greatest(tracking_watermark.position, excluded.position)
        RETURNING projection, origin, position
        """
    )


def _advance_watermarks(conn: Connection, statement: TextClause, batches: list[_SqlBatch]):
    """Move the watermarks of every origin the batches saw (see ``_advance_watermark``)."""
    of = {batch.projection.name: batch for batch in batches}
    keys = sorted((name, origin) for name, batch in of.items() for origin in batch.origins)
    if not keys:
        return
    rows = conn.execute(
        statement,
        {"projections": [name for name, _ in keys], "origins": [origin for _, origin in keys]},
    ).all()
    for name, origin, position in rows:
        of[name].watermarks[origin] = int(position)


@dataclass
class Projection:
    """A read model: its tables and, per event type it handles, how to apply it."""

    name: str
    metadata: MetaData
    origins: tuple[str, ...]  # the services whose topics it consumes
    appliers: dict[str, EventApplier] = field(default_factory=dict)
    flushers: list[Callable[[Connection], None]] = field(default_factory=list)
    # Raised when what the appliers write changes but the tables do not: `dist migrate`
    # then rebuilds the read model (projections/upgrade.py).
    version: int = 1

    def on(self, event_class: type[IntegrationEvent]) -> Callable[[EventApplier], EventApplier]:
        """Register the applier of an event (its current version: older versions are
        upcast to it before they are applied)."""
        if event_class not in PUBLISHED:
            raise ValueError(f"{event_class.__name__} is not a current version")

        def register(applier: EventApplier) -> EventApplier:
            self.appliers[str(event_class.event_type())] = applier
            return applier

        return register

    def flusher(self, flush: Callable[[Connection], None]) -> Callable[[Connection], None]:
        """Register what writes the batch's gathered writes before it commits."""
        self.flushers.append(flush)
        return flush

    def applier_for(self, envelope: Envelope) -> EventApplier | None:
        try:
            return handler_for(envelope.type, self.appliers)
        except UnknownEventType as error:
            raise Rejected(str(error)) from None


def projections_engine(
    settings: Settings,
    schema: str,
    *,
    pool_size: int = 10,
    serves_queries: bool = False,
    pre_ping: bool = True,
) -> Engine:
    """An engine on the read models' schema. One that ``serves_queries`` answers within
    ``database_timeout_s`` while the database is down or stuck (a connect timeout, a pool
    wait and a statement timeout), so the query API answers 503 in time; projectors and
    rebuilds may run long statements and keep no statement timeout. Without ``pre_ping`` a
    connection is not asked whether it is alive each time it is taken from the pool (for a
    rebuild, which runs once and fails whole if the database goes away)."""
    connect_args: dict[str, Any] = {"connect_timeout": max(2, settings.database_attempt_timeout_s)}
    if serves_queries:
        statement_ms = int(settings.database_timeout_s * 1000)
        # The read models it queries are read from memory (they are small beside the event
        # stores, and queried all day): a random page costs about what a sequential one does,
        # not the default's four times, which made PostgreSQL scan the whole of a table (the
        # open invoices' 113,313 balances at 1M events) rather than the partial index it has.
        connect_args["options"] = f"-c statement_timeout={statement_ms} -c random_page_cost=1.1"
    # The query side keeps every connection it opens: an overflow connection is closed when
    # it is returned, and under a burst of reads that waited for a position each query paid
    # a new PostgreSQL session (fork, authentication; 335 in ten seconds of the benchmark's
    # command-to-visible phase). Same ceiling of connections as before, none opened twice.
    size, overflow = (3 * pool_size, 0) if serves_queries else (pool_size, 2 * pool_size)
    return create_engine(
        settings.postgres().sqlalchemy_url(),
        pool_size=size,
        max_overflow=overflow,
        pool_pre_ping=pre_ping,
        pool_timeout=settings.database_timeout_s,
        connect_args=connect_args,
        execution_options={"schema_translate_map": {None: schema}},
    )


def create_tracking(conn: Connection, schema: str) -> None:
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    tracking_metadata.create_all(conn)


def create_tables(engine: Engine, schema: str, projection: Projection) -> None:
    with engine.begin() as conn:
        create_tracking(conn, schema)
        projection.metadata.create_all(conn)


def record_version(engine: Engine, projection: Projection) -> None:
    """Note that the read model in the engine's schema is built as ``projection.version``."""
    statement = insert(read_model_versions).values(
        projection=projection.name, version=projection.version, built_at=datetime.now(UTC)
    )
    with engine.begin() as conn:
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[read_model_versions.c.projection],
                set_={
                    "version": statement.excluded.version,
                    "built_at": statement.excluded.built_at,
                },
            )
        )


Prepared = list[tuple[Envelope, EventApplier | None, Any, Applied]]


def _prepare(projection: Projection, envelopes: list[Envelope]) -> Prepared:
    """Each event's applier, data and verdict, decided in Python before anything is written:
    whether an event is poison is known first, so that a good event costs no savepoint
    (appliers may raise Rejected only before they write; an error after a write is a bug,
    and rolls the whole batch back for the runtime to retry)."""
    prepared: Prepared = []
    for envelope in envelopes:
        try:
            applier = projection.applier_for(envelope)
            data = decode_data(envelope) if applier else None
            verdict = Applied(Outcome.APPLIED if applier else Outcome.IGNORED)
        except (Rejected, ValidationError) as error:
            applier, data = None, None
            reason = f"{type(error).__name__}: {error}"[:500]
            verdict = Applied(Outcome.DEAD_LETTERED, reason)
        prepared.append((envelope, applier, data, verdict))
    return prepared


def _tracking_rows(name: str, prepared: Prepared) -> tuple[list[tuple], dict[tuple[str, int], int]]:
    """The tracking rows of a read model's events (one per origin), and the index of each
    origin's first event."""
    first: dict[tuple[str, int], int] = {}
    for index, (envelope, *_) in enumerate(prepared):
        first.setdefault((envelope.source, envelope.position), index)
    rows = [
        (
            name,
            envelope.source,
            envelope.position,
            envelope.previousposition,
            verdict.outcome.value,
        )
        for envelope, _, _, verdict in (prepared[index] for index in first.values())
    ]
    return rows, first


class _SqlBatch:
    def __init__(
        self, conn: Connection, projection: Projection, advance: TextClause, record: str
    ) -> None:
        self.conn = conn
        self.projection = projection
        self.advance = advance
        self.record_processed = record
        self.origins: set[str] = set()
        self.watermarks: dict[str, int] = {}
        # The next poll's events and which of them are new, when a joint batch tracked them.
        self.tracked: tuple[Prepared, set[int]] | None = None

    def apply(self, envelope: Envelope) -> Applied:
        return self.apply_all([envelope])[0]

    def apply_all(self, envelopes: list[Envelope]) -> list[Applied]:
        """Track every event of the poll in one statement, then apply the new ones in order
        (tracked already when the poll's joint batch tracked every read model's at once)."""
        if self.tracked is not None:
            prepared, new = self.tracked
            self.tracked = None
            assert [p[0] for p in prepared] == envelopes, "tracked for other events"
        else:
            prepared = _prepare(self.projection, envelopes)
            rows, first = _tracking_rows(self.projection.name, prepared)
            new = set()
            if rows:
                with self.conn.connection.dbapi_connection.cursor() as cursor:
                    inserted = execute_values(
                        cursor,
                        self.record_processed,
                        rows,
                        page_size=len(rows),
                        fetch=True,
                        types=_TRACKING_TYPES,
                    )
                new = {first[(origin, position)] for _, origin, position in inserted}
        self.origins.update(envelope.source for envelope in envelopes)
        results = []
        for index, (envelope, applier, data, verdict) in enumerate(prepared):
            if index not in new:
                results.append(Applied(Outcome.DUPLICATE))
                continue
            if applier is not None:
                applier(self.conn, envelope, data)
            results.append(verdict)
        return results

    def advance_watermarks(self) -> None:
        _advance_watermarks(self.conn, self.advance, [self])


class SqlProjectionHandler:
    """The consumer runtime's handler for a SQL read model, and what queries ask to read
    their own writes: the watermark per origin, with a wake-up after every commit."""

    # A database outage is retried by the consumer runtime, not dead-lettered.
    transient_errors = (OperationalError,)

    def __init__(self, engine: Engine, projection: Projection) -> None:
        self.engine = engine
        self.projection = projection
        self.name = projection.name
        self.schema = engine.get_execution_options()["schema_translate_map"][None]
        self._advance = _advance_watermark(self.schema)
        self._record = _record_processed(self.schema)
        self._known: dict[str, int] = {}
        self._advanced = threading.Condition()

    @contextmanager
    def open_batch(self) -> Iterator[_SqlBatch]:
        with self.engine.begin() as conn:
            batch = yield from self._batch_on(conn)
        self._publish(batch.watermarks)

    def _batch_on(
        self,
        conn: Connection,
        *,
        advance: bool = True,
        tracked: tuple[Prepared, set[int]] | None = None,
    ) -> Iterator[_SqlBatch]:
        """This read model's part of a transaction: its tracking, its events, its gathered
        writes (and, unless the caller does it for several, its watermarks), all before the
        next read model's; the caller commits."""
        conn.info[BATCH_BUFFER] = {}
        try:
            batch = _SqlBatch(conn, self.projection, self._advance, self._record)
            batch.tracked = tracked
            yield batch
            for flush in self.projection.flushers:
                flush(conn)
            if advance:
                batch.advance_watermarks()
        finally:
            conn.info.pop(BATCH_BUFFER, None)
        return batch

    def _publish(self, watermarks: dict[str, int]) -> None:
        if not watermarks:
            return
        with self._advanced:
            for origin, position in watermarks.items():
                self._known[origin] = max(self._known.get(origin, 0), position)
            self._advanced.notify_all()

    def watermark(self, origin: str, *, engine: Engine | None = None) -> int:
        """The watermark as committed in the database (any replica's projector)."""
        with (engine or self.engine).connect() as conn:
            position = conn.execute(
                select(watermarks.c.position).where(
                    watermarks.c.projection == self.projection.name,
                    watermarks.c.origin == origin,
                )
            ).scalar()
        self._publish({origin: int(position or 0)})
        return int(position or 0)

    def wait_for(
        self, origin: str, target: int, *, timeout: float, engine: Engine, recheck_s: float = 0.25
    ) -> bool:
        """Wait until the read model holds everything of ``origin`` up to ``target``. A
        projector in this process wakes the waiter when it commits; the database is asked
        once at first and then every ``recheck_s``, for the work of projectors in other
        replicas (they share the consumer group, so each sees only some partitions)."""
        deadline = time.monotonic() + timeout
        next_check = 0.0
        while True:
            with self._advanced:
                if self._known.get(origin, 0) >= target:
                    return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if now >= next_check:
                if self.watermark(origin, engine=engine) >= target:
                    return True
                next_check = now + recheck_s
            with self._advanced:
                if self._known.get(origin, 0) < target:
                    self._advanced.wait(timeout=min(deadline, next_check) - now)


class JointBatches:
    """Several read models' batches of one poll in one transaction (``joint_batches``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.done: list[tuple[SqlProjectionHandler, _SqlBatch]] = []
        self.tracked: dict[str, tuple[Prepared, set[int]]] = {}

    def prepare(self, work: list[tuple[SqlProjectionHandler, list[Envelope]]]) -> None:
        """Track the poll's events of every read model in one statement, in (read model,
        origin, position) order; each read model's batch then applies its new ones."""
        rows: list[tuple] = []
        firsts: dict[str, dict[tuple[str, int], int]] = {}
        prepared: dict[str, Prepared] = {}
        for handler, envelopes in work:
            prepared[handler.name] = _prepare(handler.projection, envelopes)
            own, firsts[handler.name] = _tracking_rows(handler.name, prepared[handler.name])
            rows += own
        if not rows:
            return
        rows.sort(key=lambda row: row[:3])
        with self.conn.connection.dbapi_connection.cursor() as cursor:
            inserted = execute_values(
                cursor,
                work[0][0]._record,
                rows,
                page_size=len(rows),
                fetch=True,
                types=_TRACKING_TYPES,
            )
        new: dict[str, set[int]] = {name: set() for name in prepared}
        for name, origin, position in inserted:
            new[name].add(firsts[name][(origin, position)])
        self.tracked = {name: (prepared[name], new[name]) for name in prepared}

    @contextmanager
    def open_batch(self, handler: SqlProjectionHandler) -> Iterator[_SqlBatch]:
        tracked = self.tracked.pop(handler.name, None)
        batch = yield from handler._batch_on(self.conn, advance=False, tracked=tracked)
        self.done.append((handler, batch))

    def advance_watermarks(self) -> None:
        """Every read model's watermarks in one statement, once all have done their work."""
        if self.done:
            advance = self.done[0][0]._advance  # one engine, one schema
            _advance_watermarks(self.conn, advance, [batch for _, batch in self.done])


@contextmanager
def joint_batches(engine: Engine) -> Iterator[JointBatches]:
    """One transaction for every read model a poll feeds, instead of one each: a poll of the
    query process's consumer reaches up to seven read models, and each transaction of its
    own cost a connection check-out (and its ping), BEGIN and COMMIT. The poll's events are
    tracked for every read model in one statement (``prepare``); then each read model in turn
    applies its new events and writes its gathered rows, so two replicas take those locks
    read model by read model, in the same order, as before; then every watermark moves in
    one statement, in (projection, origin) order. Waiting queries hear
    the watermarks once the whole poll has committed."""
    with engine.begin() as conn:
        joint = JointBatches(conn)
        yield joint
        joint.advance_watermarks()
    for handler, batch in joint.done:
        handler._publish(batch.watermarks)

"""The write side every service shares: an eventsourcing Application on PostgreSQL, in the
service's own schema, whose saves can carry an idempotency record in the same transaction.

A command's events and the answer it gave commit together or not at all, so a retried POST
can never double-count and a stored answer never points at events that were not written.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import psycopg
import psycopg2
import psycopg_pool
from eventsourcing.application import Application, ProcessingEvent, Repository, project_aggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
)
from eventsourcing.utils import get_topic, retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Composed, Identifier, Literal

from runtime import deadline
from runtime.deadline import DatabaseUnavailable
from runtime.metrics import GROUP_COMMIT_COMMANDS
from runtime.settings import PostgresLocation, Settings
from services.kernel.errors import DomainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provenance:
    """Who and where (DESIGN rule 10): recorded on every domain event."""

    actor: str
    role: str
    branch: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None


class ProvenanceAsDict(Transcoding):
    type = Provenance
    name = "provenance"

    def encode(self, obj: Provenance) -> dict[str, Any]:
        return asdict(obj)

    def decode(self, data: dict[str, Any]) -> Provenance:
        return Provenance(**data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key, scoped to its principal, with the request's fingerprint."""

    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status_code: int
    body: dict[str, Any]
    position: int | None


@dataclass(frozen=True)
class PendingAnswer:
    """The answer a command gives, stored with its events under the client's key."""

    key: IdempotencyKey
    status_code: int
    body: dict[str, Any]
    # Per event of the command: does the relay publish it (None: every event is published).
    published: tuple[bool, ...] | None = None


def answer_position(ids: Sequence[int], published: Sequence[bool] | None) -> int | None:
    """The position a command answers with: its last *published* event's. Read models see
    only published events, so that is the position a query can wait for; a command whose
    events all stay inside the service answers none."""
    if published is None:
        return max(ids, default=None)
    return max((i for i, shown in zip(ids, published, strict=True) if shown), default=None)


class IdempotencyKeyConflict(Exception):
    """Another request with the same key committed first (a concurrent retry)."""


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID | date):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


RETRY_WAIT_S = 0.2  # the library's wait between attempts


def _retried_within_deadline(library_method: Callable[..., Any]) -> Callable[..., Any]:
    """The library's method, retried on a lost connection only while the request's deadline
    leaves room for another attempt (the library retries 10 times, each attempt waiting up
    to the pool timeout). Without a deadline (background workers), the library's retries."""
    once = library_method.__wrapped__  # eventsourcing's @retry keeps the plain method here

    def method(self: PostgresAggregateRecorder, *args: Any, **kwargs: Any) -> Any:
        until = deadline.current()
        if until is None:
            return library_method(self, *args, **kwargs)
        while True:
            if time.monotonic() >= until:
                raise DatabaseUnavailable("the request's time for the database ran out")
            try:
                return once(self, *args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                # Another attempt may wait for a connection up to the pool's timeout.
                attempt = RETRY_WAIT_S + self.datastore.pool.timeout
                if time.monotonic() + attempt > until:
                    raise DatabaseUnavailable(str(error).splitlines()[0]) from error
                time.sleep(RETRY_WAIT_S)

    method.__name__ = once.__name__
    method.__doc__ = once.__doc__
    return method


STARTUP_WAIT_S = 30.0


def _open_patiently(datastore: Any) -> None:
    """Fill the connection pool before the recorder's first query. The pool's timeout is
    short on purpose (a request must answer 503 in time while the database is down), but a
    process starting on a loaded machine, or beside a database still starting, may take
    longer than that for its first connection: it waits up to STARTUP_WAIT_S instead of
    failing to start."""
    try:
        datastore.pool.open(wait=True, timeout=STARTUP_WAIT_S)
    except psycopg_pool.PoolTimeout as error:
        raise DatabaseUnavailable(
            f"no connection to PostgreSQL after {STARTUP_WAIT_S:.0f}s at start-up"
        ) from error


class ServiceRecorder(PostgresProcessRecorder):
    """The library's process recorder (events + tracking in one transaction), extended with
    an idempotency-key table written in that same transaction. On a request's path its
    reads and writes give up at the request's deadline (runtime.deadline)."""

    select_events = _retried_within_deadline(PostgresApplicationRecorder.select_events)
    max_notification_id = _retried_within_deadline(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        _open_patiently(datastore)
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.idempotency_table = SQL("{0}.{1}").format(schema, Identifier("idempotency_keys"))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "scope text NOT NULL, key text NOT NULL, fingerprint text NOT NULL, "
                "status_code int NOT NULL, body jsonb NOT NULL, position bigint, "
                "created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, key))"
            ).format(self.idempotency_table)
        )
        # The events as four arrays, one per column, not the library's one array of a
        # composite type: psycopg dumps a composite value field by field in Python, and that
        # dumping was a fifth of a saga consumer's CPU (measured: 131 against 225 us of
        # client CPU for an insert of four events, 417 against 720 us for twenty). The rows
        # keep the arrays' order, so RETURNING gives the notification ids in event order.
        # Sent in binary (%b): in text, psycopg escapes each element in Python (the states'
        # hex, the answers' JSON quote by quote with a regular expression), and PostgreSQL
        # parses it back; measured 470-580 against 270-330 us of client CPU for a
        # transaction of four events and one answer.
        self.insert_events_statement = SQL(
            "INSERT INTO {0}.{1} AS t (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{2}[], %b::int[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(
            schema,
            Identifier(self.events_table_name),
            SQL(self.datastore.originator_id_type),
        )

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        """Only the insert: ``_opening`` has locked the table and notified already."""
        curs.execute(
            self.insert_events_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=RETRY_WAIT_S)
    def _insert_without_pipeline(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's ``insert_events`` (new events, their tracking records and the
        commands' answers in one transaction, the events table locked so that notification
        ids commit in order) in three or four round trips instead of psycopg's pipeline
        mode. On a local database the pipeline costs twice the client CPU of plain
        statements (measured 540 against 300 us a transaction, and 350 against 250 us in
        PostgreSQL), and every service writes this way."""
        notification_ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            trackings = self._trackings(kwargs)
            if trackings:
                self._check_has_multi_row_tracking_table(curs)
            try:
                curs.execute(self._opening(stored_events, trackings).as_string(conn))
                if stored_events:
                    self._insert_stored_events(curs, stored_events)
                    notification_ids = self._fetch_ids_after_insert_events(
                        curs, stored_events, **kwargs
                    )
                curs.execute("COMMIT")
            except BaseException:
                if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                    with contextlib.suppress(psycopg.Error):
                        conn.rollback()
                raise
        return notification_ids

    insert_events = _retried_within_deadline(_insert_without_pipeline)

    @staticmethod
    def _trackings(kwargs: dict[str, Any]) -> list[Tracking]:
        """The origins of every event the new events answer: the library's one tracking
        record (``tracking``), or a process manager's batch of them (``trackings``)."""
        single: Tracking | None = kwargs.get("tracking")
        batch: Sequence[Tracking] = kwargs.get("trackings", ())
        return [single, *batch] if single else list(batch)

    def _opening(self, stored_events: Sequence[StoredEvent], trackings: list[Tracking]) -> Composed:
        """The transaction's statements up to the events' insert, sent as one query: BEGIN;
        the deadline's statement timeout; the tracking records; the table lock and the
        notification (only with events to insert, as the library does)."""
        statements: list[Any] = [SQL("BEGIN")]
        # First in the transaction: no statement of it (the table lock's wait included) may
        # outlast the deadline of the commands it writes, so it either commits in time or
        # rolls back, and never commits after they were answered 503.
        until = deadline.current()
        if until is not None:
            remaining_ms = math.floor((until - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise DatabaseUnavailable("the commands' time ran out before their transaction")
            statements.append(SQL("SET LOCAL statement_timeout = {0}").format(remaining_ms))
        # A process manager's batch: every origin in one statement (a unique violation, as
        # one insert each would raise it, rolls the whole transaction back and the batch is
        # decided one by one). Literals quoted by psycopg, as the simple protocol needs.
        if trackings:
            statements.append(
                SQL("INSERT INTO {0}.{1} (application_name, notification_id) VALUES {2}").format(
                    Identifier(self.datastore.schema),
                    Identifier(self.tracking_table_name),
                    SQL(", ").join(
                        SQL("({0}, {1})").format(
                            Literal(t.application_name), Literal(t.notification_id)
                        )
                        for t in trackings
                    ),
                )
            )
        if stored_events:
            statements += self.lock_table_statements
            statements.append(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))
        return SQL("; ").join(statements)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        # The answers of the commands whose events these are, each with how many of the
        # events are its own (a group commit writes many commands in one transaction).
        answers: Sequence[tuple[PendingAnswer | None, int]] = kwargs.get("answers", ())
        rows = []
        start = 0
        for answer, count in answers:
            own = ids[start : start + count] if ids else []
            start += count
            if answer is None:
                continue
            rows.append(
                (
                    answer.key.scope,
                    answer.key.key,
                    answer.key.fingerprint,
                    answer.status_code,
                    json.dumps(answer.body, default=json_default),
                    answer_position(own, answer.published) if own else None,
                )
            )
        if rows:
            # After the events (the table lock is held, the positions are known), every
            # answer of the group in one statement (one round trip, not one per command),
            # inside the library's error handling: a key committed meanwhile by a concurrent
            # retry raises a unique violation here, which aborts the whole transaction,
            # events included.
            columns = list(zip(*rows, strict=True))
            curs.execute(
                SQL(
                    "INSERT INTO {0} (scope, key, fingerprint, status_code, body, position) "
                    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::int[], "
                    "%b::jsonb[], %b::bigint[]) RETURNING key"
                ).format(self.idempotency_table),
                [list(column) for column in columns],
            )
            curs.fetchall()
        return ids

    def aggregates_events_statement(self, snapshots_table: str | None) -> Composed:
        """``select_aggregates_events``'s statement: parameters are the ids to read the
        snapshots of (with ``snapshots_table`` only), then the ids and the versions to read
        the events after."""
        columns = "originator_id, originator_version, topic, state"
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        # Each aggregate's rows are reached through the primary key, one aggregate at a time
        # (LATERAL, whose ORDER BY or LIMIT keeps PostgreSQL from flattening it into a join,
        # so every plan keeps it). A plain join of the ids with the table let the generic
        # plan of this prepared statement (used after five executions) hash-join a
        # sequential scan of the whole table: a read cost more the more events were stored
        # (0.4 to 5.8 ms per order within a minute of the benchmark's saga).
        if snapshots_table:
            return SQL(
                "WITH s AS MATERIALIZED (SELECT l.* FROM unnest(%s::uuid[]) AS q(id) "
                "CROSS JOIN LATERAL (SELECT " + columns + " FROM {0}.{2} "
                "WHERE originator_id = q.id ORDER BY originator_version DESC LIMIT 1) AS l) "
                "SELECT true AS snapshot, " + columns + " FROM s "
                "UNION ALL "
                "SELECT false, e.originator_id, e.originator_version, e.topic, e.state "
                "FROM unnest(%s::uuid[], %s::int[]) AS a(id, after) "
                "LEFT JOIN s ON s.originator_id = a.id "
                "CROSS JOIN LATERAL (SELECT " + columns + " FROM {0}.{1} "
                "WHERE originator_id = a.id "
                "AND originator_version > greatest(a.after, s.originator_version) "
                "ORDER BY originator_version) AS e "
                "ORDER BY originator_id, snapshot DESC, originator_version"
            ).format(schema, events, Identifier(snapshots_table))
        return SQL(
            "SELECT false AS snapshot, e.originator_id, e.originator_version, e.topic, "
            "e.state FROM unnest(%s::uuid[], %s::int[]) AS a(id, after) "
            "CROSS JOIN LATERAL (SELECT " + columns + " FROM {0}.{1} "
            "WHERE originator_id = a.id AND originator_version > a.after "
            "ORDER BY originator_version) AS e "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(schema, events)

    @_retried_within_deadline
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_aggregates_events(
        self,
        after: dict[UUID, int],
        *,
        snapshots_of: Sequence[UUID] = (),
        snapshots_table: str | None = None,
    ) -> list[tuple[bool, StoredEvent]]:
        """The histories of several aggregates in one round trip (a command that needs a
        dealer and N products reads them at once): for each of ``snapshots_of``, its latest
        snapshot from ``snapshots_table`` first, marked True; then each aggregate's events
        after the version given for it in ``after`` (after its snapshot's, if later), in
        version order. Snapshot and events travel in one statement: asking the snapshots
        first cost every load a second round trip."""
        ids = list(after)
        statement = self.aggregates_events_statement(
            snapshots_table if snapshots_of and snapshots_table else None
        )
        if snapshots_of and snapshots_table:
            params: tuple = (list(snapshots_of), ids, [after[i] for i in ids])
        else:
            params = (ids, [after[i] for i in ids])
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                (
                    row["snapshot"],
                    StoredEvent(
                        originator_id=row["originator_id"],
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    ),
                )
                for row in curs.fetchall()
            ]

    def is_processed(self, origin: str, position: int) -> bool:
        """Whether the event at ``origin``:``position`` has a tracking record (exactly that
        one: a process manager sees one origin's events out of order across partitions)."""
        statement = SQL(
            "SELECT 1 FROM {0}.{1} WHERE application_name = %s AND notification_id = %s"
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                statement.format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
                ),
                (origin, position),
                prepare=True,
            )
            return curs.fetchone() is not None

    def processed_among(self, origins: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which of ``origins`` (service, position) have a tracking record: a whole poll's
        events asked in one round trip instead of one each."""
        if not origins:
            return set()
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self.processed_among_statement(),
                ([o for o, _ in origins], [p for _, p in origins]),
                prepare=True,
            )
            return {(row["application_name"], row["notification_id"]) for row in curs.fetchall()}

    def processed_among_statement(self) -> Composed:
        """``processed_among``'s statement: parameters are the origins and the positions."""
        # One primary-key probe per origin (LATERAL ... LIMIT 1: see select_aggregates_events;
        # a join let the generic plan scan the whole tracking table, which only grows).
        return SQL(
            "SELECT t.application_name, t.notification_id "
            "FROM unnest(%s::text[], %s::bigint[]) AS o(origin, position) "
            "CROSS JOIN LATERAL (SELECT application_name, notification_id FROM {0}.{1} "
            "WHERE application_name = o.origin AND notification_id = o.position LIMIT 1) AS t"
        ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))

    def find_answer(self, key: IdempotencyKey) -> StoredAnswer | None:
        return self.find_answers(key.scope, [key.key]).get(key.key)

    def find_answers(self, scope: str, keys: Sequence[str]) -> dict[str, StoredAnswer]:
        """The stored answers of many keys of one scope in one round trip (a bulk import
        asks which of its rows were imported before)."""
        if not keys:
            return {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT key, fingerprint, status_code, body, position FROM {0} "
                    "WHERE scope = %s AND key = ANY(%s)"
                ).format(self.idempotency_table),
                (scope, list(keys)),
            )
            rows = curs.fetchall()
        return {
            row["key"]: StoredAnswer(
                row["fingerprint"], row["status_code"], row["body"], row["position"]
            )
            for row in rows
        }


class SnapshotRecorder(PostgresAggregateRecorder):
    """The library's snapshot recorder, giving up at a request's deadline like the events'
    (a command reads a busy aggregate's snapshot first)."""

    insert_events = _retried_within_deadline(PostgresAggregateRecorder.insert_events)
    select_events = _retried_within_deadline(PostgresAggregateRecorder.select_events)


class ServiceInfrastructure(PostgresFactory):
    """The library's PostgreSQL factory with the bounded snapshot recorder (the library's
    extension point: it names no environment variable for the snapshots' recorder)."""

    aggregate_recorder_class = SnapshotRecorder


def eventsourcing_env(settings: Settings, service: str, *, create_table: bool) -> dict[str, str]:
    pg: PostgresLocation = settings.postgres()
    return {
        "PERSISTENCE_MODULE": get_topic(ServiceInfrastructure),
        "POSTGRES_DBNAME": pg.dbname,
        "POSTGRES_HOST": pg.host,
        "POSTGRES_PORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_PASSWORD": pg.password,
        "POSTGRES_SCHEMA": service,
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "20",
        # While the database is down, a request gives up within settings.database_timeout_s
        # (runtime.deadline): each attempt waits at most this long for a pooled connection
        # (the library's default is 30 s), a transaction holds the table lock or stays idle
        # no longer than the bound.
        "POSTGRES_CONNECT_TIMEOUT": str(settings.database_attempt_timeout_s),
        "POSTGRES_LOCK_TIMEOUT": str(math.ceil(settings.database_timeout_s)),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(math.ceil(settings.database_timeout_s)),
        # Consumers arrive out of position order across partitions: track every origin
        # position, not only the highest one.
        "SINGLE_ROW_TRACKING": "n",
        "CREATE_TABLE": "y" if create_table else "n",
        "APPLICATION_RECORDER_TOPIC": get_topic(ServiceRecorder),
        "PROCESS_RECORDER_TOPIC": get_topic(ServiceRecorder),
    }


@dataclass
class _PendingCommand:
    stored_events: list[StoredEvent]
    # Each command's answer with how many of the events are its own, in event order (one
    # command, or a batch of commands that stand or fall together).
    answers: list[tuple[PendingAnswer | None, int]]
    # The request's deadline: past it, the command is answered 503 and must never commit.
    deadline: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    notification_ids: Sequence[int] = ()
    error: BaseException | None = None


class GroupCommit:
    """Writes the events of concurrent commands in shared transactions (group commit).

    The recorder locks the events table for every insert (gap-free notification ids), so
    commands in separate transactions queue behind each other, one commit each. Here one
    writer thread takes every command that queued up while the previous transaction was
    committing and writes them together: one lock, one commit, one notification. If that
    transaction fails on a conflict (optimistic concurrency, a reused idempotency key), each
    command of the group is written again on its own, so one command's conflict never fails
    another's.

    A command carries its request's deadline: one still queued when it passes is failed
    without a transaction, and a group's transaction is bounded by its earliest deadline, so
    a command answered 503 (database unavailable) is never committed afterwards.
    """

    def __init__(self, recorder: ServiceRecorder, service: str, *, max_commands: int = 200) -> None:
        self.recorder = recorder
        self.group_sizes = GROUP_COMMIT_COMMANDS.labels(service)
        self.max_commands = max_commands
        self._queue: queue.SimpleQueue[_PendingCommand | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def write(
        self, stored_events: list[StoredEvent], answer: PendingAnswer | None
    ) -> Sequence[int]:
        """Write one command's events (and answer); its notification ids, in order."""
        return self.write_batch(stored_events, [(answer, len(stored_events))])

    def write_batch(
        self,
        stored_events: list[StoredEvent],
        answers: list[tuple[PendingAnswer | None, int]],
    ) -> Sequence[int]:
        """Write the events of several commands in one transaction, all or none, each
        command's answer beside its own events (a bulk import's batch)."""
        self._start()
        pending = _PendingCommand(stored_events, answers, deadline.current())
        self._queue.put(pending)
        # No timeout here: the writer bounds its work by the deadline, and the caller must
        # learn what really happened (committed or not), never guess.
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.notification_ids

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)
                self._thread = None

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="group-commit", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.max_commands:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(more)
            group = self._drop_expired(group)
            if group:
                self.group_sizes.observe(len(group))
                self._write_group(group)

    @staticmethod
    def _drop_expired(group: list[_PendingCommand]) -> list[_PendingCommand]:
        now = time.monotonic()
        live = []
        for pending in group:
            if pending.deadline is not None and pending.deadline <= now:
                pending.error = DatabaseUnavailable("the command waited its time out in the queue")
                pending.done.set()
            else:
                live.append(pending)
        return live

    def _write_group(self, group: list[_PendingCommand]) -> None:
        try:
            if len(group) > 1:
                try:
                    self._insert(group)
                except IntegrityError:
                    for pending in group:  # isolate the conflicting command(s)
                        self._write_alone(pending)
            else:
                self._write_alone(group[0])
        except BaseException as error:  # noqa: BLE001 - handed to the waiting command
            for pending in group:
                if not pending.done.is_set():
                    pending.error = error
        finally:
            for pending in group:
                pending.done.set()

    def _write_alone(self, pending: _PendingCommand) -> None:
        try:
            if not self._drop_expired([pending]):
                return
            self._insert([pending])
        except Exception as error:  # noqa: BLE001 - handed to the waiting command
            pending.error = error
        pending.done.set()

    def _insert(self, group: list[_PendingCommand]) -> None:
        stored = [event for pending in group for event in pending.stored_events]
        answers = [answer for pending in group for answer in pending.answers]
        deadlines = [p.deadline for p in group if p.deadline is not None]
        with deadline.until(min(deadlines, default=None)):
            ids = list(self.recorder.insert_events(stored, answers=answers) or ())
        start = 0
        for pending in group:
            count = len(pending.stored_events)
            pending.notification_ids = ids[start : start + count]
            start += count
            pending.done.set()


_ABSENT = object()  # a reference that did not exist when last read


class ReferenceCache:
    """The last state read of reference aggregates (a dealer, a SKU, a price list, the
    promotion book, the category tree): what a command reads to decide, and never changes.

    Never a source of truth: ``ServiceApplication.get_references`` asks the event store, in
    the same statement an uncached read uses, for every event after the cached version of
    each aggregate, and applies what it finds. The answer is therefore exactly what a full
    read would give at that moment; the cache only saves decoding and replaying the history
    that did not change (and the snapshot query). Cached aggregates are never changed: a
    newer version is a deep copy with the new events applied, so a command still holding
    the older one reads it unchanged. Bounded: the least recently used go first."""

    def __init__(self, max_aggregates: int = 20_000) -> None:
        self.max_aggregates = max_aggregates
        self._lock = threading.Lock()
        self._known: OrderedDict[UUID, Any] = OrderedDict()

    def get(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, Any]:
        with self._lock:
            found = {}
            for aggregate_id in aggregate_ids:
                aggregate = self._known.get(aggregate_id)
                if aggregate is not None and aggregate is not _ABSENT:
                    self._known.move_to_end(aggregate_id)
                    found[aggregate_id] = aggregate
            return found

    def put(self, aggregate: Any) -> None:
        with self._lock:
            known = self._known.get(aggregate.id)
            if known is not None and known is not _ABSENT and known.version >= aggregate.version:
                return  # another command read a version at least as new meanwhile
            self._remember(aggregate.id, aggregate)

    def put_absent(self, aggregate_id: UUID) -> None:
        """No such aggregate when last read (a grade without a price list): the next read
        asks for its events after version 0, in the same query, instead of a snapshot."""
        with self._lock:
            if aggregate_id not in self._known:
                self._remember(aggregate_id, _ABSENT)

    def absent(self, aggregate_ids: Sequence[UUID]) -> set[UUID]:
        with self._lock:
            return {i for i in aggregate_ids if self._known.get(i) is _ABSENT}

    def _remember(self, aggregate_id: UUID, aggregate: Any) -> None:
        self._known[aggregate_id] = aggregate
        self._known.move_to_end(aggregate_id)
        while len(self._known) > self.max_aggregates:
            self._known.popitem(last=False)


def replay(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime-checkable protocol, which costs about 10 us an event: more than
    applying most events. Each event still checks that it follows the aggregate's version."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def collected(*aggregates: Any) -> ProcessingEvent[UUID]:
    """The aggregates' pending events, gathered as ``ProcessingEvent.collect_events`` does
    but without its two ``isinstance`` checks per aggregate against runtime-checkable
    protocols (26 us an aggregate, measured; 1 us without). ``None`` is skipped."""
    processing = ProcessingEvent[UUID]()
    for aggregate in aggregates:
        if aggregate is not None:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
    return processing


class ServiceRepository(Repository[UUID]):
    """The library's repository, replaying with ``replay`` (taking snapshots included)."""

    def get(self, aggregate_id: UUID, *, projector_func: Any = project_aggregate, **kwargs: Any):
        if projector_func is project_aggregate:
            projector_func = replay
        return super().get(aggregate_id, projector_func=projector_func, **kwargs)


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the body, and the event-store position of its last event."""

    status_code: int
    body: dict[str, Any]
    position: int | None
    replayed: bool = False


class ServiceApplication(Application[UUID]):
    """Base of the orders, inventory and finance applications."""

    service: ClassVar[str]
    # The service's contract: the integration event a domain event is published as, if any.
    contract: ClassVar[Callable[[Any], Any]] = staticmethod(lambda event: None)

    def publishes(self, event: Any) -> bool:
        return self.contract(event) is not None

    def __init__(self, settings: Settings, *, create_table: bool = False) -> None:
        self.settings = settings
        super().__init__(env=eventsourcing_env(settings, self.service, create_table=create_table))
        self.group_commit = GroupCommit(self.service_recorder, self.service)
        self.references = ReferenceCache()

    def close(self) -> None:
        self.group_commit.close()
        super().close()

    def construct_repository(self) -> Repository[UUID]:
        # No aggregate cache of the library's: see SavedAggregates and ReferenceCache.
        return ServiceRepository(event_store=self.events, snapshot_store=self.snapshots)

    def construct_recorder(self) -> ServiceRecorder:
        recorder = self.factory.process_recorder()
        assert isinstance(recorder, ServiceRecorder)
        return recorder

    @property
    def service_recorder(self) -> ServiceRecorder:
        assert isinstance(self.recorder, ServiceRecorder)
        return self.recorder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(ProvenanceAsDict())

    def find_answer(self, key: IdempotencyKey) -> StoredAnswer | None:
        return self.service_recorder.find_answer(key)

    def find_answers(self, scope: str, keys: Sequence[str]) -> dict[str, StoredAnswer]:
        return self.service_recorder.find_answers(scope, keys)

    def is_processed(self, origin: str, position: int) -> bool:
        return self.service_recorder.is_processed(origin, position)

    def processed_among(self, origins: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        return self.service_recorder.processed_among(origins)

    def _snapshot(self, processing: ProcessingEvent[UUID]) -> None:
        """Snapshot aggregates that reached their interval (``snapshotting_intervals``), so
        that a busy aggregate (a SKU's stock, a dealer's account) is read from its latest
        snapshot plus a few events. Only a shortcut: the events were committed already, so a
        failure here is logged, never reported to the command (another writer may even have
        taken the same snapshot)."""
        try:
            self._take_snapshots(processing)
        except (IntegrityError, OperationalError, InterfaceError):
            log.warning("%s: snapshot not taken", self.service, exc_info=True)

    def _snapshot_batch(self, processing: ProcessingEvent[UUID]) -> None:
        """A batch's snapshots: one per aggregate whose new events crossed its interval,
        of its state after the batch, taken from the aggregate in hand (the batch's events
        are committed). Per crossed interval, from the store, as ``_snapshot`` does, a
        batch of 1,000 prices would re-read and re-write a growing price list 20 times."""
        if self.snapshots is None or not self.snapshotting_intervals:
            return
        crossed = {
            event.originator_id
            for event in processing.events
            if event.originator_id in processing.aggregates
            and (
                interval := self.snapshotting_intervals.get(
                    type(processing.aggregates[event.originator_id])
                )
            )
            and event.originator_version % interval == 0
        }
        try:
            for aggregate_id in crossed:
                aggregate = processing.aggregates[aggregate_id]
                snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
                self.snapshots.put([snapshot_class.take(aggregate)])
        except (IntegrityError, OperationalError, InterfaceError):
            log.warning("%s: snapshot not taken", self.service, exc_info=True)

    def record_processing(
        self, processing: ProcessingEvent[UUID], trackings: Sequence[Tracking] = ()
    ) -> None:
        """A process manager's new events and its tracking record(s), in one transaction."""
        if trackings:
            processing.saved_kwargs["trackings"] = list(trackings)
        self._record(processing)
        self._snapshot(processing)

    def record_processed(self, origin: str, position: int) -> None:
        """A tracking record alone (an event dead-lettered, with nothing to save)."""
        try:
            self.record_processing(ProcessingEvent[UUID](tracking=Tracking(origin, position)))
        except IntegrityError:
            pass  # recorded already

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def save_registration(
        self,
        aggregate: Any,
        *,
        body: dict[str, Any],
        idempotency: IdempotencyKey | None,
        duplicate: DomainError,
    ) -> CommandResult:
        """Save an aggregate whose id derives from a business code. Two registrations of one
        code that race: optimistic concurrency lets one in, the other gets ``duplicate``."""
        try:
            return self.save_command(aggregate, status_code=201, body=body, idempotency=idempotency)
        except IntegrityError:
            raise duplicate from None

    def get_many(
        self, aggregate_ids: Sequence[UUID], *, held: dict[UUID, Any] | None = None
    ) -> dict[UUID, Any]:
        """The current state of several aggregates, in one query: each one's latest
        snapshot and the events after it. Missing ids are simply absent from the answer.

        ``held``: aggregates the caller already has, as the store had them at their version
        (a process manager's, see ``runtime.process_manager.SavedAggregates``). For those,
        the same query reads only the events after that version, applied to the very object
        (the caller owns it): exactly what a full read would give, without the snapshot."""
        held = held or {}
        histories = self._histories(
            {i: held[i].version if i in held else 0 for i in aggregate_ids},
            from_snapshots=[i for i in aggregate_ids if i not in held],
        )
        found = {}
        for aggregate_id in aggregate_ids:
            aggregate = held.get(aggregate_id)
            history = histories.get(aggregate_id)
            if history:
                aggregate = replay(aggregate, history)
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found

    def _histories(
        self, after: dict[UUID, int], *, from_snapshots: Sequence[UUID]
    ) -> dict[UUID, list[Any]]:
        """Each aggregate's domain events after the version in ``after``; for those of
        ``from_snapshots``, its latest snapshot first and the events after that."""
        histories: dict[UUID, list[Any]] = {}
        snapshots_table = None
        if from_snapshots and self.snapshots is not None:
            snapshots_table = self.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
        for _, stored in self.service_recorder.select_aggregates_events(
            after,
            snapshots_of=from_snapshots if snapshots_table else (),
            snapshots_table=snapshots_table,
        ):
            # A snapshot, when there is one, comes first: it begins the history.
            domain_event = self.mapper.to_domain_event(stored)
            histories.setdefault(domain_event.originator_id, []).append(domain_event)
        return histories

    def get_references(self, aggregate_ids: Sequence[UUID]) -> dict[UUID, Any]:
        """Like ``get_many``, for aggregates the caller reads and must never change (they are
        shared through ``self.references``). One query when all are cached: the events after
        each cached version, which brings every one of them up to date exactly."""
        cached = self.references.get(aggregate_ids)
        absent = self.references.absent(aggregate_ids)
        histories = self._histories(
            {i: cached[i].version if i in cached else 0 for i in aggregate_ids},
            from_snapshots=[i for i in aggregate_ids if i not in cached and i not in absent],
        )
        found = {}
        for aggregate_id in aggregate_ids:
            aggregate = cached.get(aggregate_id)
            history = histories.get(aggregate_id)
            if history:
                base = copy.deepcopy(aggregate) if aggregate is not None else None
                aggregate = replay(base, history)
                self.references.put(aggregate)
            if aggregate is not None:
                found[aggregate_id] = aggregate
            else:
                self.references.put_absent(aggregate_id)
        return found

    def save_command(
        self,
        *aggregates: Any,
        status_code: int,
        body: dict[str, Any],
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Save the command's events and, under the client's key, the answer it gives, in
        the same transaction (shared with concurrent commands: see GroupCommit)."""
        processing = collected(*aggregates)
        stored = [self.mapper.to_stored_event(event) for event in processing.events]
        published = tuple(self.publishes(event) for event in processing.events)
        answer = PendingAnswer(idempotency, status_code, body, published) if idempotency else None
        try:
            ids = self.group_commit.write(stored, answer)
        except IntegrityError:
            if idempotency is not None and self.find_answer(idempotency) is not None:
                raise IdempotencyKeyConflict(idempotency.key) from None
            raise
        self._snapshot(processing)
        return CommandResult(status_code, body, answer_position(ids, published))

    def save_batch(
        self,
        *aggregates: Any,
        answers: Sequence[tuple[IdempotencyKey, int, dict[str, Any], int]],
    ) -> list[CommandResult]:
        """Save the events of several commands in one transaction, all or none: ``answers``
        gives each command's key, status, body and how many of the aggregates' pending events (in
        the order they were collected) are its own. A conflict (a key or an aggregate
        written meanwhile) raises IntegrityError and writes nothing: the caller runs the
        commands one by one instead."""
        processing = collected(*aggregates)
        stored = [self.mapper.to_stored_event(event) for event in processing.events]
        published = [self.publishes(event) for event in processing.events]
        pending: list[tuple[PendingAnswer | None, int]] = []
        start = 0
        for key, status_code, body, count in answers:
            shown = tuple(published[start : start + count])
            pending.append((PendingAnswer(key, status_code, body, shown), count))
            start += count
        assert start == len(stored), "every event belongs to one command of the batch"
        ids = list(self.group_commit.write_batch(stored, pending))
        self._snapshot_batch(processing)
        results, start = [], 0
        for _key, status_code, body, count in answers:
            own = ids[start : start + count]
            shown = published[start : start + count]
            start += count
            results.append(CommandResult(status_code, body, answer_position(own, shown)))
        return results


def create_schema(settings: Settings, service: str) -> None:
    """Create the service's schema and tables. Run once at start-up, never by racing
    processes (concurrent CREATE TABLE fails with 'tuple concurrently updated')."""
    with psycopg2.connect(settings.postgres().dsn()) as conn:
        with conn.cursor() as curs:
            curs.execute(f'CREATE SCHEMA IF NOT EXISTS "{service}"')
    conn.close()

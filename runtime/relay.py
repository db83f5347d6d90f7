"""The outbox relay: one per service. It reads the service's notification log from a position
kept in the service's own schema and publishes integration events to the service's topic,
keyed by aggregate id. At least once: the position moves only after the broker acknowledged.

Only one relay of a service is active at a time (a PostgreSQL advisory lock), so the log is
published in order. Each envelope's ``sequence`` numbers the events published for its subject
(aggregate) 1, 2, 3, ...: internal events stay in the service, so the aggregate's own version
would leave holes, and a consumer could not tell a hole from a lost event. The relay keeps
each subject's last number beside its position, in the same transaction.

If the broker lost the topic (the embedded broker keeps nothing across a restart) the
topic's id changes; the relay notices and republishes from the event store.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import psycopg2
import psycopg2.extensions
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import InterfaceError, OperationalError
from kafka.errors import KafkaError

from contracts.envelope import Envelope, IntegrationEvent, event_id
from runtime import kafka
from runtime.consumer import IDLE_TOPIC_CHECKS_SPACED
from runtime.eventstore import ServiceApplication
from runtime.metrics import RELAY_LAG, RELAY_PUBLISHED, RELAY_REPUBLISHES
from runtime.published import notify_statement
from runtime.settings import Settings

# An aggregate's first event's version (eventsourcing's default, which no aggregate here
# changes).
FIRST_VERSION = 1

log = logging.getLogger(__name__)
# Seconds without publishing after which the relay counts as idle.
IDLE_AFTER_S = 2.0
# A batch published after this long without one is announced to the consumers of other
# processes (runtime.published), which go idle after 2 s without a record.
ANNOUNCE_AFTER_QUIET_S = 0.5

Translate = Callable[[DomainEventProtocol], IntegrationEvent | None]

RELAY_STATE_DDL = """
CREATE TABLE IF NOT EXISTS "{schema}".relay_state (
    topic text PRIMARY KEY,
    topic_id text,
    position bigint NOT NULL DEFAULT 0,
    last_published bigint NOT NULL DEFAULT 0,
    published_count bigint NOT NULL DEFAULT 0,
    republished_count int NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS "{schema}".relay_subjects (
    topic text NOT NULL,
    subject text NOT NULL,
    sequence bigint NOT NULL,
    PRIMARY KEY (topic, subject)
)
"""


@dataclass
class RelayState:
    topic_id: str | None
    position: int
    last_published: int
    published_count: int


def build_envelope(
    service: str,
    position: int,
    previous: int,
    event: DomainEventProtocol,
    data: IntegrationEvent,
    *,
    sequence: int,
) -> Envelope:
    by = getattr(event, "by", None)
    return Envelope(
        id=event_id(service, position),
        source=service,
        type=str(data.event_type()),
        subject=str(event.originator_id),
        time=event.timestamp.astimezone(UTC),
        sequence=sequence,
        position=position,
        previousposition=previous,
        correlationid=getattr(by, "correlation_id", None),
        causationid=getattr(by, "causation_id", None),
        actor=getattr(by, "actor", None),
        actorrole=getattr(by, "role", None),
        branch=getattr(by, "branch", None),
        data=data.model_dump(mode="json"),
    )


class Relay:
    def __init__(
        self,
        settings: Settings,
        app: ServiceApplication,
        translate: Translate,
        *,
        batch_size: int = 500,
        topic_check_interval_s: float = 1.0,
        linger_s: float = 0.005,
        gather_s: float = 0.0,
    ) -> None:
        self.settings = settings
        self.app = app
        self.service = app.service
        self.translate = translate
        self.topic = settings.topic(self.service)
        self.batch_size = batch_size
        self.topic_check_interval_s = topic_check_interval_s
        # After a wake-up, wait this long for more commits, so that under load one batch (one
        # broker round trip, one state update) carries many events instead of one each.
        self.linger_s = linger_s
        # Within a stream (a commit soon after a batch), wait until this long after that
        # batch instead (see _linger).
        self.gather_s = gather_s
        self.stopping = threading.Event()
        self.active = threading.Event()  # holds the lock and publishes
        self._conn: psycopg2.extensions.connection | None = None
        self._producer = None
        self._admin = None
        self._last_topic_check = 0.0
        # Read from the database when the relay becomes active, then kept here: holding the
        # lock, this relay is the only writer of its row.
        self._state: RelayState | None = None
        # The last sequence published of the subjects published lately (bounded, oldest
        # first out), kept like the state: this relay is their only writer.
        self._sequences: dict[str, int] = {}
        self.max_known_subjects = 100_000
        self.failure: str | None = None  # an unexpected error that stopped the relay
        # Called after each batch published: the process's consumers expect the other
        # services' answers to it (see runtime.consumer.IdlePacing.wake).
        self.on_published: list[Callable[[], None]] = []
        self._last_published_at = time.monotonic()
        self._last_batch_at: float | None = None  # none published by this relay yet
        # The position moved past internal events only, and the database does not know yet.
        self._position_unsaved = False

    # -- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        """Publish until stopped. Broker and database outages are retried, not fatal; anything
        else is a bug: it stops the relay, and readiness reports it."""
        try:
            while not self.stopping.is_set():
                try:
                    self._run_once_connected()
                except (
                    KafkaError,
                    psycopg2.OperationalError,  # its own connection (lock, state, LISTEN)
                    psycopg2.InterfaceError,
                    OperationalError,  # the event store's (reading the notification log)
                    InterfaceError,
                ) as error:
                    log.warning("relay %s: %s; retrying", self.service, error)
                    self._close_clients()
                    self.stopping.wait(1.0)
        except BaseException as error:
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("relay %s stopped", self.service)
            raise
        finally:
            self._close_clients()

    def stop(self) -> None:
        self.stopping.set()

    def _run_once_connected(self) -> None:
        self._conn = psycopg2.connect(
            self.settings.postgres().dsn(),
            connect_timeout=max(2, self.settings.database_attempt_timeout_s),
        )
        self._conn.autocommit = True
        if not self._acquire_lock():
            return
        self.active.set()
        try:
            with self._conn.cursor() as curs:
                curs.execute(f'LISTEN "{self.app.recorder.channel_name}"')
            self._producer = kafka.producer(self.settings, client_id=f"relay-{self.service}")
            self._admin = kafka.admin(self.settings)
            while not self.stopping.is_set():
                self.check_topic()
                # A batch short of full read the log to its end: what commits later sends a
                # notification (queued on the connection while the batch is published). So
                # sleep until one comes or the next topic check (the log is read again then,
                # in case one was missed), rather than reading the log again at once.
                if self.publish_batch() < self.batch_size:
                    if self._wait_for_new_events(
                        timeout=max(0.05, self._next_topic_check() - time.monotonic())
                    ):
                        self._linger()
                    else:
                        self._save_position()  # quiet: what batches of internal events moved
            self._save_position()  # stopped
        finally:
            self.active.clear()

    def _acquire_lock(self) -> bool:
        assert self._conn is not None
        while not self.stopping.is_set():
            with self._conn.cursor() as curs:
                curs.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"relay:{self.topic}",))
                if curs.fetchone()[0]:
                    return True
            self.stopping.wait(1.0)  # another relay of this service is active: stand by
        return False

    def _wait_for_new_events(self, timeout: float) -> bool:
        """Wait for a commit's notification; False if none came within ``timeout``."""
        assert self._conn is not None
        if select.select([self._conn], [], [], timeout) == ([], [], []):
            return False
        self._conn.poll()
        self._conn.notifies.clear()
        return True

    def _linger(self) -> None:
        """After a commit's notification, wait for more commits before reading the log: each
        batch costs the same whatever it carries (reading the log, the subjects' sequences,
        a produce request and its flush, saving the position). After a quiet moment only
        ``linger_s``, so a lone command's event goes out at once. Within a stream (the last
        batch went out less than ``gather_s`` ago) until ``gather_s`` after that batch: under
        load a batch at most that often, as ConsumerRuntime._gather does for polls. A stop
        ends the wait."""
        wait = self.linger_s
        if self.gather_s > 0 and self._last_batch_at is not None:
            wait = max(wait, self.gather_s - (time.monotonic() - self._last_batch_at))
        self.stopping.wait(wait)

    def _close_clients(self) -> None:
        for client in (self._producer, self._admin):
            if client is not None:
                try:
                    client.close()
                except KafkaError:
                    log.debug("closing kafka client failed", exc_info=True)
        self._producer = self._admin = None
        self._state = None  # read again from the database on the next connection
        self._position_unsaved = False
        self._sequences = {}
        self._last_topic_check = 0.0
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _topic_check_interval(self) -> float:
        """Idle (nothing published for a few seconds), the topic is looked at less often."""
        idle = time.monotonic() - self._last_published_at > IDLE_AFTER_S
        return self.topic_check_interval_s * (IDLE_TOPIC_CHECKS_SPACED if idle else 1)

    def _next_topic_check(self) -> float:
        return self._last_topic_check + self._topic_check_interval()

    # -- state -----------------------------------------------------------------------------
    def load_state(self) -> RelayState:
        assert self._conn is not None
        with self._conn.cursor() as curs:
            curs.execute(
                f'INSERT INTO "{self.service}".relay_state (topic) VALUES (%s) '
                "ON CONFLICT (topic) DO NOTHING",
                (self.topic,),
            )
            curs.execute(
                "SELECT topic_id, position, last_published, published_count "
                f'FROM "{self.service}".relay_state WHERE topic = %s',
                (self.topic,),
            )
            self._state = RelayState(*curs.fetchone())
            return self._state

    def _subject_sequences(self, subjects: set[str]) -> dict[str, int]:
        """The last sequence published for each of ``subjects`` (absent: none yet). Those
        this relay published since it became active are known without asking: holding the
        lock, it is the only writer of their rows."""
        assert self._conn is not None
        found = {s: self._sequences[s] for s in subjects if s in self._sequences}
        unknown = [s for s in subjects if s not in found]
        if unknown:
            with self._conn.cursor() as curs:
                curs.execute(
                    f'SELECT subject, sequence FROM "{self.service}".relay_subjects '
                    "WHERE topic = %s AND subject = ANY(%s)",
                    (self.topic, unknown),
                )
                found.update(curs.fetchall())
        return found

    def _save_position(self) -> None:
        if self._position_unsaved and self._state is not None:
            self._save_state(self._state)

    def _save_state(
        self,
        state: RelayState,
        *,
        republish: bool = False,
        sequences: dict[str, int] | None = None,
        announce: bool = False,
    ) -> None:
        """Save the position and the subjects' sequences in one transaction (a republish
        starts every subject again from 1): one round trip, as the statements travel in one
        query string, which PostgreSQL runs as a single transaction."""
        assert self._conn is not None
        schema = self.service
        with self._conn.cursor() as curs:
            statements = []
            if republish:
                statements.append(
                    curs.mogrify(
                        f'DELETE FROM "{schema}".relay_subjects WHERE topic = %s', (self.topic,)
                    )
                )
            if sequences:
                rows = b",".join(
                    curs.mogrify("(%s, %s, %s)", (self.topic, subject, n))
                    for subject, n in sorted(sequences.items())
                )
                statements.append(
                    f'INSERT INTO "{schema}".relay_subjects (topic, subject, sequence) '.encode()
                    + b"VALUES "
                    + rows
                    + b" ON CONFLICT (topic, subject) DO UPDATE SET sequence = excluded.sequence"
                )
            statements.append(
                curs.mogrify(
                    f'UPDATE "{schema}".relay_state SET topic_id = %s, position = %s, '
                    "last_published = %s, published_count = %s, updated_at = now(), "
                    "republished_count = republished_count + %s WHERE topic = %s",
                    (
                        state.topic_id,
                        state.position,
                        state.last_published,
                        state.published_count,
                        1 if republish else 0,
                        self.topic,
                    ),
                )
            )
            if announce:
                # Consumers idle in other processes poll at once (runtime.published).
                statements.append(notify_statement(curs, self.topic))
            curs.execute(b";\n".join(statements))
        # Only once committed: what the relay keeps is what the database holds.
        self._state = state
        self._position_unsaved = False
        if republish:
            self._sequences.clear()
        if sequences:
            self._sequences.update(sequences)
            while len(self._sequences) > self.max_known_subjects:
                self._sequences.pop(next(iter(self._sequences)))

    # -- the work --------------------------------------------------------------------------
    def check_topic(self, *, force: bool = False) -> None:
        """Make sure the topic exists and is the one we published to; if the broker lost it,
        start again from the beginning of the event store."""
        now = time.monotonic()
        if not force and now - self._last_topic_check < self._topic_check_interval():
            return
        self._last_topic_check = now
        current_id = kafka.ensure_topic(self._admin, self.topic, self.settings)
        # Holding the lock, this relay is the only writer of its state: the copy it keeps is
        # current, and reading it back every second would only cost two round trips.
        state = self._state if self._state is not None else self.load_state()
        if state.topic_id == current_id:
            return
        if state.topic_id is not None and state.position > 0:
            log.warning(
                "relay %s: topic %s was lost by the broker (id %s -> %s); republishing %d "
                "events from the event store",
                self.service,
                self.topic,
                state.topic_id,
                current_id,
                state.published_count,
            )
            RELAY_REPUBLISHES.labels(self.service).inc()
            self._save_state(RelayState(current_id, 0, 0, 0), republish=True)
        else:
            state.topic_id = current_id
            self._save_state(state)

    def publish_batch(self) -> int:
        """Publish the next batch of the notification log; return how many notifications
        were read (0: nothing new)."""
        state = self._state if self._state is not None else self.load_state()
        notifications = self.app.recorder.select_notifications(
            start=state.position + 1, limit=self.batch_size
        )
        if not notifications:
            RELAY_LAG.labels(self.service).set(0)
            return 0
        outgoing = []
        # Aggregates created in this batch: nothing of theirs was published before (their
        # first event comes first in the log), so their sequences need no lookup.
        created: set[str] = set()
        for notification in notifications:
            domain_event = self.app.mapper.to_domain_event(notification)
            if domain_event.originator_version == FIRST_VERSION:
                created.add(str(domain_event.originator_id))
            data = self.translate(domain_event)
            if data is not None:  # else an internal event: it stays in the service
                outgoing.append((notification.id, domain_event, data))
        sequences = self._subject_sequences(
            {str(e.originator_id) for _, e, _ in outgoing} - created
        )
        futures = []
        previous = state.last_published
        for position, domain_event, data in outgoing:
            subject = str(domain_event.originator_id)
            sequences[subject] = sequence = sequences.get(subject, 0) + 1
            envelope = build_envelope(
                self.service, position, previous, domain_event, data, sequence=sequence
            )
            futures.append(
                self._producer.send(
                    self.topic,
                    key=envelope.subject.encode(),
                    # Serialised once, by pydantic, straight to JSON bytes.
                    value=envelope.model_dump_json().encode(),
                )
            )
            previous = position
        self._producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises the KafkaError of a send that failed
        state.position = notifications[-1].id
        state.last_published = previous
        state.published_count += len(futures)
        # After a quiet spell the consumers of the topic may have gone idle: say so. Publishing
        # more often than that, the records themselves keep them at full pace.
        quiet = (
            self._last_batch_at is None
            or time.monotonic() - self._last_batch_at >= ANNOUNCE_AFTER_QUIET_S
        )
        if futures:
            self._save_state(state, sequences=sequences, announce=quiet)
        else:
            # Only internal events: the position moves on here and is saved with the next
            # batch published, or once the relay is quiet. Until then a restart reads those
            # events again, and publishes nothing for them, as now.
            self._state = state
            self._position_unsaved = True
        RELAY_PUBLISHED.labels(self.service).inc(len(futures))
        if futures:
            self._last_published_at = self._last_batch_at = time.monotonic()
            for published in self.on_published:
                published()
        return len(notifications)


def create_relay_state_table(settings: Settings, service: str) -> None:
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn, conn.cursor() as curs:
            curs.execute(RELAY_STATE_DDL.format(schema=service))
    finally:
        conn.close()

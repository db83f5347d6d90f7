"""What a process knows of identity's users and API keys: an in-memory replica of the identity
topic, rebuilt from the topic's beginning at every start, kept current while it runs.

Every process that authenticates (orders, inventory, finance, query, identity) keeps one, so
that no request ever calls the identity service (services share nothing but topics).

Why in memory rather than aggregates in each event store (as masterdata does) or a table:
the state is small (a row per user and per key), the same in every process, and only read
to authenticate; the query process has no event store at all; and a replica rebuilt from
the topic at start needs no schema, no migration and no tracking records in four services.
Until it has read the topic up to where it stood at start, the process is not ready and
identity credentials are answered 503 (configured keys work throughout).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from contracts import identity
from contracts.envelope import Envelope, UnknownEventType
from contracts.registry import decode_data
from runtime import kafka
from runtime.causal_order import decode
from runtime.consumer import HEARD_PERIOD_S, IdlePacing
from runtime.published import PublishedListener, start_listener
from runtime.settings import ApiKeyGrant, Settings

log = logging.getLogger(__name__)
# How often the replica asks whether its topic was lost and created again (a broker restart).
TOPIC_CHECK_S = 2.0


@dataclass(frozen=True)
class KnownUser:
    grant: ApiKeyGrant
    disabled: bool = False
    # Sessions issued before this moment (ms since the epoch) are refused: the user was
    # disabled, changed role or scope, or had its password reset after signing in.
    sessions_valid_from_ms: int = 0


@dataclass(frozen=True)
class KnownKey:
    username: str
    key_hash: str
    revoked: bool = False


def _grant(event: identity.UserScoped) -> ApiKeyGrant:
    return ApiKeyGrant(
        name=event.username,
        role=event.role,
        branch=event.branch,
        warehouse=event.warehouse,
        dealer=event.dealer,
        region=event.region,
        region_branches=frozenset(event.region_branches),
    )


class IdentityReplica:
    """Users and keys as the identity topic tells them; ``apply`` is the only writer."""

    def __init__(self) -> None:
        self.users: dict[str, KnownUser] = {}
        self.keys: dict[str, KnownKey] = {}
        self.caught_up = threading.Event()

    def clear(self) -> None:
        self.users = {}
        self.keys = {}

    def apply(self, envelope: Envelope) -> None:
        try:
            event = decode_data(envelope)
        except UnknownEventType:
            log.warning("identity replica: skipping %s it cannot read", envelope.type)
            return
        at_ms = int(envelope.time.timestamp() * 1000)
        if isinstance(event, identity.UserCreated):
            self.users[event.username] = KnownUser(grant=_grant(event))
        elif isinstance(event, identity.UserRoleChanged):
            user = self.users.get(event.username)
            if user is not None:
                self.users[event.username] = replace(
                    user, grant=_grant(event), sessions_valid_from_ms=at_ms
                )
        elif isinstance(event, identity.UserPasswordReset):
            self._update_user(event.username, sessions_valid_from_ms=at_ms)
        elif isinstance(event, identity.UserDisabled):
            self._update_user(event.username, disabled=True, sessions_valid_from_ms=at_ms)
        elif isinstance(event, identity.UserEnabled):
            self._update_user(event.username, disabled=False)
        elif isinstance(event, identity.ApiKeyIssued):
            self.keys[event.key_id] = KnownKey(username=event.username, key_hash=event.key_hash)
        elif isinstance(event, identity.ApiKeyRevoked):
            key = self.keys.get(event.key_id)
            if key is not None:
                self.keys[event.key_id] = replace(key, revoked=True)

    def _update_user(self, username: str, **changes: object) -> None:
        user = self.users.get(username)
        if user is not None:
            self.users[username] = replace(user, **changes)  # type: ignore[arg-type]


class IdentityReplicaConsumer:
    """Reads the identity topic from its beginning into the replica (no consumer group: every
    process reads all of it). A worker of the process: ``run`` in a thread, ``stop``."""

    def __init__(self, settings: Settings, replica: IdentityReplica) -> None:
        self.settings = settings
        self.replica = replica
        self.topic = settings.topic("identity")
        self.stopping = threading.Event()
        self.running = threading.Event()
        self.last_error: str | None = None
        # Identity's relay says when it published (runtime.published), and the replica then
        # reads at once: a key issued, revoked or disabled is honoured everywhere within a
        # broker round trip of identity's relay. The replica's own polls are the fallback for
        # a word that was lost: while its listener is not connected it polls once a second
        # (a second more at most), while it is, every HEARD_PERIOD_S.
        self.pacing = IdlePacing(idle_period_s=1.0, heard_period_s=HEARD_PERIOD_S)
        self.listener = PublishedListener(
            settings, [self.topic], self.pacing.wake, name="identity-replica"
        )
        self.pacing.hears_through(self.listener.listening)

    def stop(self) -> None:
        self.stopping.set()
        self.listener.stop()
        self.pacing.wake()  # out of an idle pause at once

    def run(self) -> None:
        start_listener(self.listener)
        try:
            while not self.stopping.is_set():
                try:
                    self._consume()
                except KafkaError as error:
                    self.last_error = str(error).splitlines()[0]
                    self.running.clear()
                    log.warning("identity replica: %s; reconnecting", error)
                    self.stopping.wait(1.0)
        finally:
            self.listener.stop()

    def _consume(self) -> None:
        admin = kafka.admin(self.settings)
        try:
            topic_id = kafka.ensure_topic(admin, self.topic, self.settings)
            consumer = KafkaConsumer(
                bootstrap_servers=self.settings.bootstrap_servers(),
                enable_auto_commit=False,
                group_id=None,
                fetch_max_wait_ms=50,
                client_id=f"identity-replica-{self.settings.kafka_namespace}",
                **kafka.NO_CLIENT_METRICS,
            )
            try:
                self._read(admin, consumer, topic_id)
            finally:
                consumer.close(autocommit=False)
        finally:
            admin.close()

    def _read(self, admin, consumer: KafkaConsumer, topic_id: str) -> None:
        known = consumer.partitions_for_topic(self.topic)
        if not known:  # metadata of a topic created a moment ago: ask again shortly
            self.stopping.wait(0.5)
            return
        partitions = [TopicPartition(self.topic, p) for p in sorted(known)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        # Read from scratch: a reconnect may follow a broker that lost the topic, and the
        # relay then republishes everything from identity's event store.
        self.replica.clear()
        start_ends = consumer.end_offsets(partitions)
        self.running.set()
        self.last_error = None
        next_check = time.monotonic() + TOPIC_CHECK_S
        pacing = self.pacing
        while not self.stopping.is_set():
            poll_started = time.monotonic()
            polled = consumer.poll(timeout_ms=50 if pacing.idle else 100)
            if polled:
                pacing.records_seen()
            else:
                pacing.pause(pacing.pause_after_empty_poll(poll_started))
            for records in polled.values():
                for record in records:
                    try:
                        self.replica.apply(decode(record))
                    except ValueError as error:
                        log.warning("identity replica: undecodable record skipped: %s", error)
            if not self.replica.caught_up.is_set() and all(
                consumer.position(tp) >= end for tp, end in start_ends.items()
            ):
                self.replica.caught_up.set()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + TOPIC_CHECK_S
                if kafka.topic_id(admin, self.topic) in (None, topic_id):
                    continue
                log.warning("identity replica: %s was recreated; reading it again", self.topic)
                return

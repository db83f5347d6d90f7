"""Shared fixtures. Integration tests use real PostgreSQL (the machine's when DATABASE_URL
is set, else the embedded server) and a real Kafka-protocol broker over the network:
KAFKA_BOOTSTRAP_SERVERS when set, else the one TEST_KAFKA names, started for the session:
``embedded`` (the default: Tansu, memory only, needs nothing but Python) or ``apache``
(Apache Kafka's own broker, KRaft, as a java process; needs Java 17+ and Maven). Each test
gets its own database and its own topic namespace, so tests never see each other's data."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

from runtime import heap
from runtime.embedded import ApacheKafka, EmbeddedBroker, EmbeddedPostgres
from runtime.settings import PostgresLocation, Settings


@pytest.fixture(scope="module", autouse=True)
def settled_heap() -> Iterator[None]:
    """After each test module, what is still alive (session fixtures, imported code, what
    earlier tests keep) is frozen out of the cyclic collector's walks, as each platform
    process freezes its start-up heap. The session's heap grows with every test: after 28
    integration tests a full collection already paused every thread for 220-290 ms (400k
    objects), and late in the suite kafka-python's network thread reported pauses of over a
    second, long enough for a consumer group's rebalance to miss its deadline."""
    yield
    heap.settle()


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), fast_unsafe=True).start()
    try:
        yield server.url
    finally:
        server.stop()
        # As root the cluster may live in a shared temp folder (the postgres user cannot
        # reach pytest's private one): a test run leaves nothing behind there.
        shutil.rmtree(server.folder, ignore_errors=True)


BROKERS = {"embedded": EmbeddedBroker, "apache": ApacheKafka}
Broker = EmbeddedBroker | ApacheKafka


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker | None]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield None
        return
    kind = os.environ.get("TEST_KAFKA") or "embedded"
    if kind not in BROKERS:
        raise pytest.UsageError(f"TEST_KAFKA={kind!r}: choose one of {', '.join(BROKERS)}")
    started = BROKERS[kind](tmp_path_factory.mktemp(kind)).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def bootstrap_servers(broker: Broker | None) -> str:
    return broker.bootstrap_servers if broker else os.environ["KAFKA_BOOTSTRAP_SERVERS"]


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A database of its own for one test, dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url


@contextmanager
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    """A new database on the server, dropped on leaving (for fixtures of any scope)."""
    server = PostgresLocation.from_url(postgres_server_url)
    name = f"dist_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server.dsn())
    admin.autocommit = True
    with admin.cursor() as curs:
        curs.execute(f'CREATE DATABASE "{name}"')
    url = server.model_copy(update={"dbname": name}).dsn()
    try:
        yield url
    finally:
        with admin.cursor() as curs:
            curs.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def settings(
    database_url: str, bootstrap_servers: str, broker: Broker | None, tmp_path: Path
) -> Settings:
    return migrated_settings(database_url, bootstrap_servers, broker, tmp_path)


def migrated_settings(
    database_url: str, bootstrap_servers: str, broker: Broker | None, data_dir: Path, **extra
) -> Settings:
    """The settings of a test platform on its own database and topics, schemas created."""
    from runtime.migrate import migrate

    apache = broker is None or broker.keeps_logs  # KAFKA_BOOTSTRAP_SERVERS: a real cluster
    settings = Settings(
        dist_env="development",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap_servers,
        kafka_namespace=f"t{uuid.uuid4().hex[:10]}",
        # Tansu holds a new group's join for about half the session timeout, so it gets a
        # short one; Apache Kafka evicts a member whose heartbeats are late (a loaded CI
        # machine), so it gets its own lowest default.
        kafka_session_timeout_ms=6000 if apache else 1500,
        # As in production wherever the broker keeps producer state (deploy/README.md).
        kafka_enable_idempotence=apache,
        data_dir=data_dir,
        # An upper bound: a loaded CI machine can take seconds to carry an event through.
        read_your_writes_timeout_s=20,
        **extra,
    )
    migrate(settings)
    return settings

"""The platform under test, started the way `dist run` starts it.

PostgreSQL and the broker are the ones DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS name, else an
embedded PostgreSQL (durable: fsync on) and a local broker in a temporary folder: embedded
Tansu, or Apache Kafka with ``--kafka apache``. The benchmark gets a database and a topic
namespace of its own, migrates in-process, runs every process `dist run` runs (orders,
inventory, finance, identity, warnings, query and the console) as children (``python -m
runtime serve ...``) and seeds a small Chengdu company through the HTTP API: dealers and SKUs,
and what the order saga needs to approve their orders (a branch warehouse serving Chengdu with
ample opening stock, and generous credit terms for every dealer). Every phase therefore runs
with the saga's process managers consuming: an order placed in the placement phase is also
reserved and approved meanwhile, as in production. Everything it started is stopped in
``close``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import psycopg2
from kafka.errors import KafkaError

from bench.workload import (
    CLERK,
    CREDIT_TERMS,
    DEALERS,
    HQ,
    PRODUCTS,
    WAREHOUSE,
    opening_stock,
    saga_order,
)
from runtime import kafka
from runtime.demo import organisation
from runtime.embedded import ApacheKafka, EmbeddedBroker, EmbeddedPostgres, free_port
from runtime.settings import PostgresLocation, Settings
from runtime.supervisor import PROCESSES as SUPERVISED_PROCESSES
from runtime.supervisor import Child, wait_ready
from services.masterdata.domain import NOT_KNOWN_YET

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parent.parent
# The whole platform, as `dist run` starts it: each order's cost and an idle platform's
# include the warnings process (it reads every order, stock and credit event) and the others.
PROCESSES = SUPERVISED_PROCESSES
# Tansu holds a new group's join for half of it (INFRA-NOTES); Apache Kafka gets its lowest
# default, as in the tests.
SESSION_TIMEOUT_MS = {"embedded": 1500, "apache": 6000}
BROKERS = {"embedded": EmbeddedBroker, "apache": ApacheKafka}
READY_TIMEOUT_S = 60.0
PIPELINE_TIMEOUT_S = 30.0


def _free_ports(processes: tuple[str, ...]) -> dict[str, int]:
    """A free port for each process, all different (a port freed is free to be picked
    again)."""
    ports: dict[str, int] = {}
    for process in processes:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[process] = port
    return ports


class PlatformStartFailed(RuntimeError):
    """The platform could not be started (the benchmark exits non-zero)."""


@dataclass(frozen=True)
class Target:
    """Where the benchmark talks to the running platform."""

    orders_url: str
    inventory_url: str
    finance_url: str
    query_url: str
    database_dsn: str
    # Orders above this total wait for a branch manager (the saga does not approve them).
    approval_threshold: Decimal
    warnings_url: str | None = None  # when the warnings process runs (bench.warning_latency)


def runs_here(database_dsn: str) -> bool:
    host = PostgresLocation.from_url(database_dsn).host
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("/")


def backends_of(database_dsn: str) -> list[psutil.Process]:
    """On a server that runs on this machine: the backends serving the DSN's database, so
    their CPU is not mistaken for a neighbour's (none for a server elsewhere)."""
    if not runs_here(database_dsn):
        return []  # its pids are another machine's
    try:
        conn = psycopg2.connect(database_dsn)
        try:
            with conn.cursor() as curs:
                curs.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                pids = [row[0] for row in curs.fetchall()]
        finally:
            conn.close()
    except psycopg2.Error:
        return []
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue  # another machine's process, or gone
    return found


class Platform:
    """The platform under test: ``close`` stops whatever ``start`` got going."""

    def __init__(
        self,
        kafka: str = "embedded",
        processes: tuple[str, ...] = PROCESSES,
        *,
        before_start: Callable[[Settings], None] | None = None,
        postgres_settings: dict[str, str] | None = None,
    ) -> None:
        self.kafka = kafka
        self.processes = processes
        # Called with the migrated database, before any process of the platform starts (a
        # bench that wants history already there puts it in).
        self.before_start = before_start
        # Server settings of the embedded PostgreSQL (ignored when DATABASE_URL names one).
        self.postgres_settings = postgres_settings
        self.session_timeout_ms = SESSION_TIMEOUT_MS[kafka]
        self.work_dir = Path(tempfile.mkdtemp(prefix="dist-bench-"))
        # The embedded server runs as the postgres user when we are root: it must reach in.
        self.work_dir.chmod(0o755)
        self.namespace = f"bench{uuid.uuid4().hex[:10]}"
        self.database = f"dist_bench_{uuid.uuid4().hex[:12]}"
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | ApacheKafka | None = None
        self.server_dsn: str | None = None  # the server's maintenance database
        self.database_created = False
        self.settings: Settings | None = None
        self.children: dict[str, Child] = {}
        self.target: Target | None = None
        self.bare: Child | None = None  # the placement ceiling's app, while it is measured
        self.failed = False

    # -- start -------------------------------------------------------------------------------
    def start(self) -> Target:
        try:
            return self._start()
        except PlatformStartFailed:
            self.failed = True
            raise
        except Exception as error:
            self.failed = True
            raise PlatformStartFailed(f"{type(error).__name__}: {error}") from error

    def _start(self) -> Target:
        server_url = os.environ.get("DATABASE_URL")
        if not server_url:
            log.info("starting embedded PostgreSQL (durable) in %s", self.work_dir)
            self.postgres = EmbeddedPostgres(
                self.work_dir / "postgres", server_settings=self.postgres_settings
            ).start()
            server_url = self.postgres.url
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            log.info("starting the %s broker", self.kafka)
            self.broker = BROKERS[self.kafka](self.work_dir / "broker").start()
            bootstrap = self.broker.bootstrap_servers
        database_dsn = self._create_database(server_url)
        self.settings = Settings(
            dist_env="development",
            database_url=database_dsn,
            kafka_bootstrap_servers=bootstrap,
            kafka_namespace=self.namespace,
            kafka_session_timeout_ms=self.session_timeout_ms,
            kafka_enable_idempotence=self.kafka == "apache",
            **{f"{process}_port": port for process, port in _free_ports(self.processes).items()},
        )
        from runtime.migrate import migrate

        log.info("migrating database %s", self.database)
        migrate(self.settings)
        if self.before_start is not None:
            self.before_start(self.settings)
        self._start_children()
        self.target = Target(
            orders_url=self._url("orders"),
            inventory_url=self._url("inventory"),
            finance_url=self._url("finance"),
            query_url=self._url("query"),
            database_dsn=database_dsn,
            approval_threshold=self.settings.order_approval_threshold,
            warnings_url=self._url("warnings") if "warnings" in self.processes else None,
        )
        self._seed()
        self._check_pipeline()
        return self.target

    def _url(self, process: str) -> str:
        assert self.settings is not None
        return f"http://127.0.0.1:{self.settings.port_of(process)}"

    def _create_database(self, server_url: str) -> str:
        server = PostgresLocation.from_url(server_url)
        self.server_dsn = server.dsn()
        conn = psycopg2.connect(self.server_dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as curs:
                curs.execute(f'CREATE DATABASE "{self.database}"')
            self.database_created = True
        finally:
            conn.close()
        return server.model_copy(update={"dbname": self.database}).dsn()

    def _start_children(self) -> None:
        assert self.settings is not None
        env = {
            **os.environ,
            "DIST_ENV": "development",
            "DATABASE_URL": self.settings.database_url or "",
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.bootstrap_servers(),
            "KAFKA_SESSION_TIMEOUT_MS": str(self.session_timeout_ms),
            "KAFKA_ENABLE_IDEMPOTENCE": str(self.settings.kafka_enable_idempotence).lower(),
            "KAFKA_NAMESPACE": self.namespace,
            "HOST": "127.0.0.1",
        }
        for process in self.processes:
            env[f"{process.upper()}_PORT"] = str(self.settings.port_of(process))
        for process in self.processes:
            child = Child(
                process,
                [sys.executable, "-m", "runtime", "serve", process],
                env,
                self.work_dir / f"{process}.log",
            )
            log.info("starting %s on port %d", process, self.settings.port_of(process))
            child.start()
            self.children[process] = child
        deadline = time.monotonic() + READY_TIMEOUT_S
        for process in self.processes:
            self._wait_ready(process, deadline)

    def _wait_ready(self, process: str, deadline: float) -> None:
        assert self.settings is not None
        url = f"http://127.0.0.1:{self.settings.port_of(process)}/readyz"
        last = "no answer"
        while True:
            for child in self.children.values():
                if child.process is not None and child.process.poll() is not None:
                    raise PlatformStartFailed(
                        f"{child.name} exited with {child.process.returncode}"
                    )
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as error:
                last = str(error)
            if time.monotonic() > deadline:
                raise PlatformStartFailed(f"{process} not ready in {READY_TIMEOUT_S:.0f}s: {last}")
            time.sleep(0.2)

    def _seed(self) -> None:
        """The sales organisation, dealers and SKUs (orders); a warehouse serving Chengdu and
        its opening stock (inventory); credit terms for every dealer (finance). Without the
        last two, the saga would reject every order for want of stock, or hold it for want
        of credit."""
        assert self.target is not None
        t = self.target
        steps: list[tuple[str, str, dict]] = [
            # The demo's regions and branches first: a dealer names its branch.
            *((t.orders_url, path, body) for _, path, body, _ in organisation()),
            *((t.orders_url, "/dealers", dealer) for dealer in DEALERS),
            *((t.orders_url, "/products", product) for product in PRODUCTS),
            (t.inventory_url, "/warehouses", WAREHOUSE),
            (t.inventory_url, "/goods-receipts", opening_stock()),
            *(
                (t.finance_url, f"/accounts/{dealer['code']}/credit-terms", CREDIT_TERMS)
                for dealer in DEALERS
            ),
        ]
        with httpx.Client(headers=HQ, timeout=30) as client:
            for url, path, body in steps:
                key = {"Idempotency-Key": f"bench-seed-{uuid.uuid4()}"}
                deadline = time.monotonic() + 30
                while True:
                    response = client.post(url + path, json=body, headers=key)
                    # Inventory and finance know a dealer or SKU a moment after orders.
                    not_known_yet = (
                        response.status_code == 404 and response.json().get("code") in NOT_KNOWN_YET
                    )
                    if not not_known_yet or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                if response.status_code not in (200, 201):
                    raise PlatformStartFailed(
                        f"seeding {path} failed: {response.status_code} {response.text}"
                    )
        log.info(
            "seeded %d dealers with credit, %d SKUs, warehouse %s with opening stock",
            len(DEALERS),
            len(PRODUCTS),
            WAREHOUSE["code"],
        )

    def _check_pipeline(self) -> None:
        """One order all the way to /hq/sales and to approved: the consumer groups (the
        projector's and the three process managers') have joined, the topics exist."""
        assert self.target is not None
        started = time.monotonic()
        with httpx.Client(timeout=30) as client:
            placed = client.post(
                f"{self.target.orders_url}/orders",
                json=saga_order(self.target.approval_threshold),
                headers={**CLERK, "Idempotency-Key": str(uuid.uuid4())},
            )
            if placed.status_code != 201:
                raise PlatformStartFailed(f"first order failed: {placed.status_code} {placed.text}")
            position = placed.json()["position"]
            while True:
                sales = client.get(
                    f"{self.target.query_url}/hq/sales",
                    params={"by": "sku", "period": "day", "min_position": position},
                    headers=HQ,
                )
                if sales.status_code == 200:
                    break
                if time.monotonic() - started > PIPELINE_TIMEOUT_S:
                    raise PlatformStartFailed(
                        f"the first order did not reach /hq/sales in {PIPELINE_TIMEOUT_S:.0f}s: "
                        f"{sales.status_code} {sales.text}"
                    )
            visible_s = time.monotonic() - started
            order_id = placed.json()["order_id"]
            while True:
                order = client.get(f"{self.target.orders_url}/orders/{order_id}", headers=HQ)
                status = order.json().get("status") if order.status_code == 200 else None
                if status == "approved":
                    break
                if status not in (None, "placed") or (
                    time.monotonic() - started > PIPELINE_TIMEOUT_S
                ):
                    raise PlatformStartFailed(
                        f"the first order was not approved in {PIPELINE_TIMEOUT_S:.0f}s: "
                        f"{order.status_code} {order.text}"
                    )
                time.sleep(0.05)
        log.info(
            "pipeline checked: %s visible in %.2fs, approved in %.2fs",
            position,
            visible_s,
            time.monotonic() - started,
        )

    @contextmanager
    def bare_ceiling(self) -> Iterator[str]:
        """The placement ceiling's app (bench.bare) on the same PostgreSQL, running beside
        the platform for as long as the block lasts; yields its URL."""
        assert self.settings is not None and self.settings.database_url
        port = free_port()
        self.bare = Child(
            "bare",
            [
                sys.executable,
                "-m",
                "bench.bare",
                "--port",
                str(port),
                "--database-url",
                self.settings.database_url,
            ],
            {**os.environ, "POSTGRES_PASSWORD": os.environ.get("POSTGRES_PASSWORD", "")},
            self.work_dir / "bare.log",
        )
        self.bare.start()
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(f"{url}/healthz", time.monotonic() + READY_TIMEOUT_S, [self.bare])
            yield url
        finally:
            self.bare.stop()
            self.bare = None

    # -- observe -----------------------------------------------------------------------------
    def components(self) -> dict[str, list[psutil.Process]]:
        """The OS processes of each part, for CPU accounting (PostgreSQL: every backend)."""
        found: dict[str, list[psutil.Process]] = {}
        for name, child in self.children.items():
            if child.process is not None:
                found[name] = [psutil.Process(child.process.pid)]
        if self.postgres is not None and self.postgres.process is not None:
            postmaster = psutil.Process(self.postgres.process.pid)
            found["postgres"] = [postmaster, *postmaster.children(recursive=True)]
        elif self.target is not None:
            found["postgres"] = self._backends_of_our_database()
        if self.broker is not None and self.broker.process is not None:
            found[self.broker.name] = [psutil.Process(self.broker.process.pid)]
        if self.bare is not None and self.bare.process is not None:
            found["bare"] = [psutil.Process(self.bare.process.pid)]
        found["bench"] = [psutil.Process()]
        return found

    def database_sessions(self) -> int | None:
        """Sessions opened on our database so far (PostgreSQL 14 and later; the statistics
        lag by up to a second, and this question opens one more)."""
        if self.target is None:
            return None
        try:
            conn = psycopg2.connect(self.target.database_dsn)
            try:
                with conn.cursor() as curs:
                    curs.execute(
                        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
                    )
                    row = curs.fetchone()
            finally:
                conn.close()
        except psycopg2.Error:
            return None
        return None if row is None else int(row[0])

    def _backends_of_our_database(self) -> list[psutil.Process]:
        assert self.target is not None
        return backends_of(self.target.database_dsn)

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for child in self.children.values():
            if child.log_file.exists():
                tail = child.log_file.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {child.log_file} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- stop --------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop everything this run started; keep the logs if something went wrong."""
        for child in reversed(list(self.children.values())):
            try:
                child.stop()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stopping %s failed", child.name)
        if self.broker is None and self.settings is not None:
            self._delete_topics()
        if self.database_created and self.postgres is None:
            self._drop_database()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.failed:
            print(f"logs kept in {self.work_dir}", file=sys.stderr)
            return
        shutil.rmtree(self.work_dir, ignore_errors=True)
        if self.postgres is not None and self.work_dir not in self.postgres.folder.parents:
            shutil.rmtree(self.postgres.folder, ignore_errors=True)

    def _drop_database(self) -> None:
        assert self.server_dsn is not None
        try:
            conn = psycopg2.connect(self.server_dsn)
            conn.autocommit = True
            with conn.cursor() as curs:
                curs.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.close()
        except psycopg2.Error as error:
            log.warning("could not drop database %s: %s", self.database, error)

    def _delete_topics(self) -> None:
        """On a shared broker, remove this run's topics (best effort)."""
        assert self.settings is not None
        try:
            admin = kafka.admin(self.settings)
            try:
                mine = [t for t in admin.list_topics() if t.startswith(f"{self.namespace}.")]
                if mine:
                    admin.delete_topics(mine)
            finally:
                admin.close()
        except KafkaError as error:
            log.warning("could not delete topics of %s: %s", self.namespace, error)

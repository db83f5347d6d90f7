"""The warnings board: one row per warning, in the warnings service's own schema, kept from
the service's own notification log. It answers the inbox and the counts, and it is where
the scheduler finds what is due.

Due times are stored here (never only in memory), so escalation survives restarts of every
process. The scheduler takes due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (several
members of the service never take the same row at once) and fires each warning with the
version it read; the aggregate refuses a stale version or a time not yet come, so a
warning escalates once per allowance however often it is looked at.

The board is disposable like every read model: drop its tables and it is rebuilt from the
event store from position zero.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg2
import psycopg2.extras
import psycopg2.pool
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.utils import get_topic

from runtime.settings import Settings
from services.warnings.domain import EarlyWarning, Status
from services.warnings.webhooks import record_deliveries

log = logging.getLogger(__name__)
psycopg2.extras.register_uuid()

SCHEMA = "warnings"
_WARNING_TOPIC = get_topic(EarlyWarning)

CREATE_STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.board (
        warning_id uuid PRIMARY KEY,
        rule text NOT NULL,
        severity text NOT NULL,
        subject text NOT NULL,
        branch text,
        region text,
        dealer text,
        status text NOT NULL,
        level text,
        assignee text,
        since timestamptz NOT NULL,
        raised_at timestamptz,
        due_at timestamptz,
        version int NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS board_due ON {SCHEMA}.board (due_at) "
    "WHERE status IN ('watching', 'open')",
    f"CREATE INDEX IF NOT EXISTS board_open ON {SCHEMA}.board (status, branch, raised_at)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.board_position (
        id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        position bigint NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.webhooks (
        webhook_id uuid PRIMARY KEY,
        url text NOT NULL,
        secret text NOT NULL,
        levels text[] NOT NULL,
        severities text[] NOT NULL
    )""",
    # The webhooks' outbox: one row per step and subscriber (the primary key: never two),
    # written with the board position that passed the step (never lost).
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.webhook_deliveries (
        webhook_id uuid NOT NULL,
        position bigint NOT NULL,
        warning_id uuid NOT NULL,
        event_type text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_status int,
        last_error text,
        delivered_at timestamptz,
        PRIMARY KEY (webhook_id, position)
    )""",
    f"CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON {SCHEMA}.webhook_deliveries "
    "(next_attempt_at) WHERE status = 'pending'",
)


def create_board_tables(settings: Settings) -> None:
    with psycopg2.connect(settings.postgres().dsn()) as conn, conn.cursor() as curs:
        for statement in CREATE_STATEMENTS:
            curs.execute(statement)
    conn.close()


@dataclass(frozen=True)
class Filters:
    """Which warnings a caller asks for, within what its scope lets it read."""

    branches: frozenset[str] | None  # None: every branch (headquarters)
    status: str | None = "open"
    levels: tuple[str, ...] = ()
    severity: str | None = None
    rule: str | None = None
    assignee: str | None = None
    either_assignee: str | None = None  # the inbox: at the caller's levels, or assigned to it


class KeptConnections(psycopg2.pool.ThreadedConnectionPool):
    """psycopg2's pool closes every returned connection beyond ``minconn``, and opens
    ``minconn`` of them when built. This one opens none up front (the process may start
    while the database is down) and keeps every connection it opened, up to ``maxconn``:
    a board tick or an inbox read no longer pays a new PostgreSQL session (a fork and an
    authentication; idle, the warnings process opened three a second). A connection kept
    for more than ``idle_check_s`` is asked ``SELECT 1`` before it is handed out, and one
    the server dropped meanwhile (a restart) is replaced instead."""

    def __init__(self, maxconn: int, *args: Any, idle_check_s: float = 1.0, **kwargs: Any):
        super().__init__(0, maxconn, *args, **kwargs)
        self.minconn = maxconn  # from now on, returned connections are kept
        self.idle_check_s = idle_check_s
        self._returned: dict[int, float] = {}

    def getconn(self, key: Any = None) -> Any:
        for _ in range(self.maxconn + 1):
            conn = super().getconn(key)
            returned = self._returned.pop(id(conn), None)
            fresh = returned is None or time.monotonic() - returned < self.idle_check_s
            if fresh or _answers(conn):
                return conn
            super().putconn(conn, key, close=True)
        raise psycopg2.OperationalError("no connection to PostgreSQL answers")

    def putconn(self, conn: Any, key: Any = None, close: bool = False) -> None:
        if not close and not conn.closed:
            self._returned[id(conn)] = time.monotonic()
        super().putconn(conn, key, close)


def _answers(conn: Any) -> bool:
    try:
        with conn.cursor() as curs:
            curs.execute("SELECT 1")
        conn.rollback()
        return True
    except psycopg2.Error:
        return False


class Board:
    def __init__(self, settings: Settings, app: Any) -> None:
        self.app = app
        self.pool = KeptConnections(
            5,
            settings.postgres().dsn(),
            connect_timeout=max(2, settings.database_attempt_timeout_s),
        )
        self._lock = threading.Lock()  # one catch-up at a time in this process
        # Rung when a catch-up has queued webhook deliveries: the deliverer sends them now.
        self.deliveries_queued = threading.Event()

    def close(self) -> None:
        self.pool.closeall()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = self.pool.getconn()
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        finally:
            broken = conn.closed != 0
            self.pool.putconn(conn, close=broken)

    # -- keeping it ------------------------------------------------------------------------
    def position(self) -> int:
        with self.connection() as conn, conn.cursor() as curs:
            curs.execute(f"SELECT position FROM {SCHEMA}.board_position")
            row = curs.fetchone()
            conn.commit()
        return row[0] if row else 0

    def catch_up(self, *, limit: int = 500) -> int:
        """Bring the board up to the event store's log; how many notifications it read."""
        with self._lock:
            start = self.position() + 1
            notifications = self.app.recorder.select_notifications(start=start, limit=limit)
            if not notifications:
                return 0
            ids = {
                n.originator_id for n in notifications if n.topic.startswith(_WARNING_TOPIC + ".")
            }
            warnings = self.app.get_many(list(ids)) if ids else {}
            with self.connection() as conn, conn.cursor() as curs:
                self._upsert(curs, warnings.values())
                queued = record_deliveries(curs, self.app, notifications, warnings)
                curs.execute(
                    f"INSERT INTO {SCHEMA}.board_position (id, position) VALUES (1, %s) "
                    "ON CONFLICT (id) DO UPDATE SET position = GREATEST("
                    f"{SCHEMA}.board_position.position, EXCLUDED.position)",
                    (notifications[-1].id,),
                )
                conn.commit()
            if queued:
                self.deliveries_queued.set()
            return len(notifications)

    @staticmethod
    def _upsert(curs: Any, warnings: Iterable[EarlyWarning]) -> None:
        rows = [
            (
                w.id,
                w.rule,
                w.severity,
                w.subject,
                w.branch,
                w.region,
                w.dealer,
                w.status,
                w.level,
                w.assignee,
                w.since,
                w.raised_at,
                w.due_at,
                w.version,
            )
            for w in warnings
        ]
        if not rows:
            return
        psycopg2.extras.execute_values(
            curs,
            f"INSERT INTO {SCHEMA}.board (warning_id, rule, severity, subject, branch, region, "
            "dealer, status, level, assignee, since, raised_at, due_at, version) VALUES %s "
            "ON CONFLICT (warning_id) DO UPDATE SET status = EXCLUDED.status, "
            "branch = EXCLUDED.branch, region = EXCLUDED.region, dealer = EXCLUDED.dealer, "
            "level = EXCLUDED.level, assignee = EXCLUDED.assignee, "
            "raised_at = EXCLUDED.raised_at, due_at = EXCLUDED.due_at, "
            f"version = EXCLUDED.version WHERE {SCHEMA}.board.version < EXCLUDED.version",
            rows,
        )

    # -- the scheduler ---------------------------------------------------------------------
    def fire_due(self, now: datetime, *, limit: int = 100) -> int:
        """Fire every warning due by ``now`` (raise a watched one, escalate an open one);
        how many fired. Rows another member holds are skipped, not waited for."""
        fired = 0
        with self.connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT warning_id, version FROM {SCHEMA}.board "
                "WHERE status IN (%s, %s) AND due_at <= %s "
                "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (Status.WATCHING, Status.OPEN, now, limit),
            )
            due = curs.fetchall()
            if not due:
                conn.commit()
                return 0
            for warning_id, version in due:
                if self.app.fire_due(warning_id, expected_version=version):
                    fired += 1
            # Under the rows' locks, the board takes what the firing changed, so the next
            # tick (here or in another member) does not see them due again.
            self._upsert(curs, self.app.get_many([w for w, _ in due]).values())
            conn.commit()
        return fired

    # -- queries ---------------------------------------------------------------------------
    def wait_for(self, position: int, *, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.position() < position:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    @staticmethod
    def _where(filters: Filters) -> tuple[str, list[Any]]:
        if filters.status == Status.WATCHING:
            clauses, params = ["status = %s"], [Status.WATCHING]
        else:  # nobody is told of a watched warning yet: only asked for, it is listed
            clauses, params = ["status <> %s"], [Status.WATCHING]
        if filters.branches is not None:
            clauses.append("branch = ANY(%s)")
            params.append(list(filters.branches))
        if filters.status == "open":
            clauses.append("status = %s")
            params.append(Status.OPEN)
        elif filters.status == "resolved":
            clauses.append("status = %s")
            params.append(Status.RESOLVED)
        if filters.severity:
            clauses.append("severity = %s")
            params.append(filters.severity)
        if filters.rule:
            clauses.append("rule = %s")
            params.append(filters.rule)
        if filters.assignee:
            clauses.append("assignee = %s")
            params.append(filters.assignee)
        if filters.either_assignee is not None:
            clauses.append("(level = ANY(%s) OR assignee = %s)")
            params.extend([list(filters.levels), filters.either_assignee])
        elif filters.levels:
            clauses.append("level = ANY(%s)")
            params.append(list(filters.levels))
        return " AND ".join(clauses), params

    def list(
        self, filters: Filters, *, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[UUID]:
        where, params = self._where(filters)
        if after is not None:
            where += " AND (COALESCE(raised_at, since), warning_id) < (%s, %s)"
            params.extend(after)
        with self.connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT warning_id FROM {SCHEMA}.board WHERE {where} "
                "ORDER BY COALESCE(raised_at, since) DESC, warning_id DESC LIMIT %s",
                [*params, limit],
            )
            found = [row[0] for row in curs.fetchall()]
            conn.commit()
        return found

    def counts(self, filters: Filters) -> list[tuple[str, str, int]]:
        where, params = self._where(filters)
        with self.connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT level, severity, count(*) FROM {SCHEMA}.board WHERE {where} "
                "GROUP BY level, severity ORDER BY level, severity",
                params,
            )
            found = curs.fetchall()
            conn.commit()
        return found


class BoardKeeper:
    """The worker: keeps the board current and fires what is due, every ``interval_s``,
    and at once when the event store notifies a commit (LISTEN on its channel, as the relay
    does), so a new warning is in the inbox without waiting for the tick. Its clock is the
    application's, so a test that moves the clock sees escalation at the next tick. A
    database outage is waited out; anything else stops the worker and readiness reports
    it."""

    def __init__(self, board: Board, *, interval_s: float = 1.0, dsn: str | None = None) -> None:
        self.board = board
        self.dsn = dsn
        self._listener: Any = None
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.running = threading.Event()
        self.failure: str | None = None
        self.ticks = 0  # how many rounds it has done (tests wait on it, never on time)

    def run(self) -> None:
        self.running.set()
        try:
            while not self.stopping.is_set():
                try:
                    while self.board.catch_up():
                        pass
                    if self.board.fire_due(self.board.app.clock.now()):
                        self.board.catch_up()  # what the firing saved, at once
                    self.ticks += 1
                    self._wait_for_commit_or_tick()
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                    log.warning("warnings board: %s; retrying", error)
                    self._close_listener()
                    self.stopping.wait(1.0)
                except (OperationalError, InterfaceError) as error:
                    log.warning("warnings board: %s; retrying", error)
                    self.stopping.wait(1.0)
        except BaseException as error:
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("warnings board stopped")
            raise
        finally:
            self._close_listener()
            self.running.clear()

    def _wait_for_commit_or_tick(self) -> None:
        if self.dsn is None:
            self.stopping.wait(self.interval_s)
            return
        if self._listener is None:
            self._listener = psycopg2.connect(self.dsn)
            self._listener.autocommit = True
            with self._listener.cursor() as curs:
                curs.execute(f'LISTEN "{self.board.app.recorder.channel_name}"')
        if select.select([self._listener], [], [], self.interval_s) != ([], [], []):
            self._listener.poll()
            self._listener.notifies.clear()

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def stop(self) -> None:
        self.stopping.set()

"""Routine warnings (预警, issue 16): every routine rule's condition evaluated over the read
models (services/warnings/checks.py), raising a warning for each subject that meets it and
resolving by itself, saying so, each open warning of the rule whose condition has cleared.

One evaluation compares, per rule, the subjects found with the rule's open (or watched)
warnings on the board, and touches the event store only for the differences: in the steady
state it writes nothing. Raising goes through the same ``watch`` and ``clear`` as the event
triggers, so the ``WarningSlot`` per rule and subject keeps one open warning however many
evaluations run at once (a second process's save of the same slot fails on optimistic
concurrency and is decided again by the next run).

The ``RoutineEvaluator`` worker runs an evaluation when the read models move (their tracking
watermarks change), once they have been still for a debounce, and at least once a day on
the application's clock, so a test moves the clock instead of waiting a day.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg2
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy import Engine, select
from sqlalchemy.exc import InterfaceError as SqlInterfaceError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from projections.tracking import watermarks
from runtime.eventstore import Provenance
from runtime.process_manager import Unit
from services.warnings.application import (
    SYSTEM,
    Place,
    WarningsApplication,
    clear,
    rule_in_force,
    watch,
)
from services.warnings.board import SCHEMA, Board
from services.warnings.checks import CHECKS, Finding
from services.warnings.domain import WarningSlot

log = logging.getLogger(__name__)

ROUTINE_RULES = tuple(CHECKS)
SAVE_CHUNK = 200  # subjects raised or cleared per transaction
# A database that is down or unreachable: waited out. Anything else is a bug and stops it.
OUTAGES = (
    SqlOperationalError,
    SqlInterfaceError,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    StoreOperationalError,
    StoreInterfaceError,
)


@dataclass
class Evaluation:
    """What one evaluation did, per rule: subjects found, raised, resolved."""

    day: date
    found: dict[str, int] = field(default_factory=dict)
    raised: dict[str, int] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0  # changes another evaluation made first


def find_all(engine: Engine, app: WarningsApplication, day: date) -> dict[str, dict[str, Finding]]:
    """Every routine rule's subjects on ``day``, each rule at the threshold in force, all
    read from one snapshot of the read models."""
    unit = Unit(app)
    found: dict[str, dict[str, Finding]] = {}
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for code, check in CHECKS.items():
            threshold = rule_in_force(unit, code).threshold
            found[code] = {f.subject: f for f in check(conn, threshold, day)}
        conn.rollback()
    return found


def open_on_board(board: Board) -> dict[str, set[str]]:
    """The subjects of each routine rule's warnings not yet resolved, as the board has them
    (caught up first; the slot decides in the end if it lags)."""
    while board.catch_up():
        pass
    with board.connection() as conn, conn.cursor() as curs:
        curs.execute(
            f"SELECT rule, subject FROM {SCHEMA}.board "
            "WHERE rule = ANY(%s) AND status IN ('watching', 'open')",
            (list(ROUTINE_RULES),),
        )
        rows = curs.fetchall()
        conn.rollback()
    open_: dict[str, set[str]] = {code: set() for code in ROUTINE_RULES}
    for rule, subject in rows:
        open_[rule].add(subject)
    return open_


def evaluate(app: WarningsApplication, board: Board, engine: Engine) -> Evaluation:
    """One evaluation of every routine rule (idempotent: run twice, the second raises and
    resolves nothing)."""
    now = app.clock.now()
    day = now.date()
    found = find_all(engine, app, day)
    open_ = open_on_board(board)
    by = Provenance(actor=SYSTEM, role="system", branch=None)
    result = Evaluation(day=day)
    for code in ROUTINE_RULES:
        meeting = found[code]
        to_raise = [meeting[s] for s in sorted(set(meeting) - open_[code])]
        to_clear = sorted(open_[code] - set(meeting))
        result.found[code] = len(meeting)
        result.raised[code] = 0
        result.resolved[code] = 0
        changes: list[tuple[str, Any]] = [("raise", f) for f in to_raise] + [
            ("clear", s) for s in to_clear
        ]
        for start in range(0, len(changes), SAVE_CHUNK):
            chunk = changes[start : start + SAVE_CHUNK]
            done = _apply(app, code, chunk, by, day)
            if done is None:  # another evaluation changed a slot meanwhile: one at a time
                result.conflicts += 1
                # A change that conflicts again was made by the other evaluation.
                each = [_apply(app, code, [change], by, day) or (0, 0) for change in chunk]
                done = (sum(r for r, _ in each), sum(c for _, c in each))
            result.raised[code] += done[0]
            result.resolved[code] += done[1]
    return result


def _apply(
    app: WarningsApplication, code: str, changes: list[tuple[str, Any]], by: Provenance, day: date
) -> tuple[int, int] | None:
    """Raise and clear in one transaction; None when another evaluation got there first."""
    unit = Unit(app)
    terms = rule_in_force(unit, code)
    raised = resolved = 0
    for kind, change in changes:
        if kind == "raise":
            finding: Finding = change
            place = Place(finding.branch, finding.region, finding.dealer)
            if watch(
                unit, terms, subject=finding.subject, place=place, reasons=finding.reasons, by=by
            ):
                raised += 1
        elif _clear(
            unit,
            code,
            change,
            f"condition cleared on {day}: {terms.spec.title} no longer holds in the read models",
        ):
            resolved += 1
    if not raised and not resolved:
        return (0, 0)
    try:
        app.save_command(*unit.changed, status_code=200, body={}, idempotency=None)
    except IntegrityError:
        return None
    return raised, resolved


def _clear(unit: Unit, code: str, subject: str, why: str) -> bool:
    """The rule's condition is over for the subject: its open warning resolves itself (as
    the triggers' ``clear``), True if there was one."""
    slot: WarningSlot | None = unit.find(WarningSlot.create_id(code, subject))
    if slot is None or slot.current is None:
        return False
    clear(unit, code, subject, why)
    return True


class RoutineEvaluator:
    """The worker: evaluates when the read models' watermarks have moved and then stayed
    still for ``debounce_s`` (at most ``max_wait_s`` after the first move, so a steady
    stream of events still gets evaluated), and when the clock's date has changed or
    ``every`` has passed since the last evaluation. A database outage is waited out;
    anything else stops the worker and readiness reports it."""

    def __init__(
        self,
        app: WarningsApplication,
        board: Board,
        engine: Engine,
        *,
        poll_s: float = 0.5,
        debounce_s: float = 2.0,
        max_wait_s: float = 30.0,
        every: timedelta = timedelta(days=1),
    ) -> None:
        self.app = app
        self.board = board
        self.engine = engine
        self.poll_s = poll_s
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self.every = every
        self.stopping = threading.Event()
        self.running = threading.Event()
        self.failure: str | None = None
        self.runs = 0  # evaluations done (tests wait on it, never on time)
        self.last: Evaluation | None = None
        self._lock = threading.Lock()  # one evaluation at a time in this process

    def watermarks(self) -> dict[tuple[str, str], int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(watermarks)).all()
        return {(row.projection, row.origin): row.position for row in rows}

    def evaluate_now(self) -> Evaluation:
        with self._lock:
            self.last = evaluate(self.app, self.board, self.engine)
            self.runs += 1
        log.info(
            "routine warnings on %s: raised %s, resolved %s",
            self.last.day,
            sum(self.last.raised.values()),
            sum(self.last.resolved.values()),
        )
        return self.last

    def run(self) -> None:
        self.running.set()
        seen: dict[tuple[str, str], int] | None = None
        moved_at: float | None = None  # monotonic time of the first move not evaluated
        changed_at = 0.0
        last_run: datetime | None = None
        try:
            while not self.stopping.is_set():
                try:
                    marks = self.watermarks()
                    now = time.monotonic()
                    if marks != seen:
                        moved_at = moved_at if moved_at is not None else now
                        changed_at = now
                        seen = marks
                    clock = self.app.clock.now()
                    settled = moved_at is not None and (
                        now - changed_at >= self.debounce_s or now - moved_at >= self.max_wait_s
                    )
                    daily = (
                        last_run is None
                        or clock - last_run >= self.every
                        or clock.date() != last_run.date()  # day-based rules move at midnight
                    )
                    if settled or daily:
                        moved_at = None
                        last_run = clock
                        self.evaluate_now()
                except OUTAGES as error:
                    log.warning("routine warnings: %s; retrying", error)
                self.stopping.wait(self.poll_s)
        except BaseException as error:
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("routine warnings stopped")
            raise
        finally:
            self.running.clear()

    def stop(self) -> None:
        self.stopping.set()

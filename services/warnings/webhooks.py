"""Webhooks: HQ registers URLs told of every step of the warnings at the levels or
severities each asks for. Each delivery is signed with HMAC-SHA256 under the webhook's
secret, retried with back-off until the receiver answers 2xx, and its outcome recorded.

The outbox is the ``webhook_deliveries`` table: the board writes a row per step and
matching subscriber in the same transaction that moves its position past the step, so a
step is never lost across restarts and never queued twice for one subscriber (the primary
key). The deliverer takes due rows ``FOR UPDATE SKIP LOCKED`` (one member at a time per
row) and marks them delivered in the transaction that holds the lock. HTTP gives at least
once, not exactly once: a receiver's 2xx lost on the way back means the delivery is sent
again, under the same ``X-Dist-Delivery`` id, which the receiver uses to tell.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg2
import psycopg2.extras

from contracts.envelope import event_id
from services.warnings.contract import to_integration_event
from services.warnings.domain import EarlyWarning, Rule, Webhook

log = logging.getLogger(__name__)

SCHEMA = "warnings"
MAX_ATTEMPTS = 12
MAX_BACKOFF_S = 600


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 2, 4, 8, ... seconds, at most ten minutes."""
    return timedelta(seconds=min(2**attempts, MAX_BACKOFF_S))


def _level_of(event: Any, warning: EarlyWarning | None) -> str | None:
    if isinstance(event, EarlyWarning.Raised):
        return event.level
    if isinstance(event, EarlyWarning.Escalated):
        return event.to_level
    return warning.level if warning is not None else None


def record_deliveries(
    curs: Any, app: Any, notifications: Sequence[Any], warnings: dict[UUID, EarlyWarning]
) -> int:
    """Register the webhooks these notifications register, and queue a delivery of every
    published warning step to each webhook that asks for its level or severity; how many
    deliveries it queued."""
    subscribers: dict[UUID, tuple[list[str], list[str]]] | None = None
    rows = []
    now = app.clock.now()
    for notification in notifications:
        domain_event = app.mapper.to_domain_event(notification)
        if isinstance(domain_event, Webhook.Registered):
            curs.execute(
                f"INSERT INTO {SCHEMA}.webhooks (webhook_id, url, secret, levels, severities) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (webhook_id) DO NOTHING",
                (
                    domain_event.originator_id,
                    domain_event.url,
                    domain_event.secret,
                    domain_event.levels,
                    domain_event.severities,
                ),
            )
            subscribers = None  # read again, with the new one
            continue
        data = to_integration_event(domain_event)
        if data is None or isinstance(domain_event, Rule.Changed):
            continue  # an internal step, or a rule change (not a warning's step)
        if subscribers is None:
            curs.execute(f"SELECT webhook_id, levels, severities FROM {SCHEMA}.webhooks")
            subscribers = {row[0]: (row[1], row[2]) for row in curs.fetchall()}
        if not subscribers:
            continue
        warning = warnings.get(domain_event.originator_id)
        level = _level_of(domain_event, warning)
        severity = warning.severity if warning is not None else None
        payload = {
            "id": event_id("warnings", notification.id),
            "source": "warnings",
            "type": str(data.event_type()),
            "subject": str(domain_event.originator_id),
            "time": domain_event.timestamp.isoformat(),
            "position": notification.id,
            "level": level,
            "severity": severity,
            "data": data.model_dump(mode="json"),
        }
        for webhook_id, (levels, severities) in subscribers.items():
            if levels and level not in levels:
                continue
            if severities and severity not in severities:
                continue
            rows.append(
                (
                    webhook_id,
                    notification.id,
                    domain_event.originator_id,
                    payload["type"],
                    json.dumps(payload),
                    now,
                )
            )
    if rows:
        psycopg2.extras.execute_values(
            curs,
            f"INSERT INTO {SCHEMA}.webhook_deliveries (webhook_id, position, warning_id, "
            "event_type, payload, next_attempt_at) VALUES %s "
            "ON CONFLICT (webhook_id, position) DO NOTHING",
            rows,
        )
    return len(rows)


class Deliverer:
    """The worker that sends due deliveries. Its clock is the application's (the back-off
    is counted on it); its HTTP client waits ``timeout_s`` for a receiver. It looks for due
    deliveries every ``interval_s`` (a back-off coming due), and at once when the board has
    queued new ones (``Board.deliveries_queued``)."""

    def __init__(self, board: Any, *, interval_s: float = 1.0, timeout_s: float = 5.0) -> None:
        self.board = board
        self.interval_s = interval_s
        self.client = httpx.Client(timeout=timeout_s)
        self.stopping = threading.Event()
        self.failure: str | None = None
        self.ticks = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    while not self.stopping.is_set() and self.deliver_due(
                        self.board.app.clock.now()
                    ):
                        pass
                    self.ticks += 1
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                    log.warning("webhooks: %s; retrying", error)
                    self.stopping.wait(1.0)
                self._wait()
        except BaseException as error:
            if self.stopping.is_set():
                # Stopped while a delivery was in flight (a slow receiver outlasted the
                # process's wait and the board closed under it): the delivery stays due and
                # is sent after the restart.
                log.info("webhook deliverer stopped during a delivery: %s", error)
                return
            self.failure = f"{type(error).__name__}: {error}"
            log.exception("webhook deliverer stopped")
            raise
        finally:
            self.client.close()

    def _wait(self) -> None:
        """Until the next tick, new deliveries, or a stop."""
        queued = self.board.deliveries_queued
        queued.wait(self.interval_s)
        queued.clear()

    def stop(self) -> None:
        self.stopping.set()
        if self.board is not None:
            self.board.deliveries_queued.set()  # out of the wait at once

    def deliver_due(self, now: datetime, *, limit: int = 20) -> int:
        """Attempt every delivery due by ``now``; how many were attempted."""
        with self.board.connection() as conn, conn.cursor() as curs:
            curs.execute(
                f"SELECT d.webhook_id, d.position, d.payload, d.attempts, w.url, w.secret "
                f"FROM {SCHEMA}.webhook_deliveries d JOIN {SCHEMA}.webhooks w USING (webhook_id) "
                "WHERE d.status = 'pending' AND d.next_attempt_at <= %s "
                "ORDER BY d.next_attempt_at, d.position LIMIT %s FOR UPDATE OF d SKIP LOCKED",
                (now, limit),
            )
            due = curs.fetchall()
            for webhook_id, position, payload, attempts, url, secret in due:
                status, error = self._send(webhook_id, position, payload, url, secret)
                attempts += 1
                if status is not None and 200 <= status < 300:
                    outcome, next_at = "delivered", now
                elif attempts >= MAX_ATTEMPTS:
                    outcome, next_at = "failed", now
                else:
                    outcome, next_at = "pending", now + backoff(attempts)
                curs.execute(
                    f"UPDATE {SCHEMA}.webhook_deliveries SET status = %s, attempts = %s, "
                    "next_attempt_at = %s, last_status = %s, last_error = %s, "
                    "delivered_at = CASE WHEN %s = 'delivered' THEN %s END "
                    "WHERE webhook_id = %s AND position = %s",
                    (outcome, attempts, next_at, status, error, outcome, now, webhook_id, position),
                )
            conn.commit()
        return len(due)

    def _send(
        self, webhook_id: UUID, position: int, payload: dict, url: str, secret: str
    ) -> tuple[int | None, str | None]:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Dist-Delivery": f"{webhook_id}:{position}",
            "X-Dist-Event": payload["type"],
            "X-Dist-Signature": signature(secret, body),
        }
        try:
            response = self.client.post(url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, OSError) as error:
            # Whatever the subscriber's address does (no such host, a name the resolver
            # cannot encode), it is this delivery's failure, retried with back-off: never
            # the deliverer's, which serves every other subscriber.
            return None, f"{type(error).__name__}: {error}"[:500]
        error = None if response.is_success else response.text[:500]
        return response.status_code, error


def deliveries_of(board: Any, webhook_id: UUID, *, limit: int) -> list[dict[str, Any]]:
    with board.connection() as conn, conn.cursor() as curs:
        curs.execute(
            f"SELECT position, warning_id, event_type, status, attempts, next_attempt_at, "
            f"last_status, last_error, delivered_at FROM {SCHEMA}.webhook_deliveries "
            "WHERE webhook_id = %s ORDER BY position DESC LIMIT %s",
            (webhook_id, limit),
        )
        rows = curs.fetchall()
        conn.commit()
    return [
        {
            "delivery_id": f"{webhook_id}:{position}",
            "warning_id": str(warning_id),
            "event_type": event_type,
            "status": status,
            "attempts": attempts,
            "next_attempt_at": next_at.isoformat() if status == "pending" else None,
            "last_status": last_status,
            "last_error": last_error,
            "delivered_at": delivered_at.isoformat() if delivered_at else None,
        }
        for (
            position,
            warning_id,
            event_type,
            status,
            attempts,
            next_at,
            last_status,
            last_error,
            delivered_at,
        ) in rows
    ]


def webhooks_listed(board: Any) -> list[dict[str, Any]]:
    with board.connection() as conn, conn.cursor() as curs:
        curs.execute(
            f"SELECT webhook_id, url, levels, severities FROM {SCHEMA}.webhooks ORDER BY url"
        )
        rows = curs.fetchall()
        conn.commit()
    return [
        {"webhook_id": str(w), "url": url, "levels": levels, "severities": severities}
        for w, url, levels, severities in rows
    ]

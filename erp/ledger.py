"""The ERP's own tables in PostgreSQL (schema ``erp`` unless told otherwise), posting, and
the reports: trial balance, receivables per dealer, sequence gaps, unvalued movements.

Exactly once in effect: every event is recorded by its id in ``received`` in the same
transaction as its journal lines, so a redelivered or replayed event posts nothing twice.
Each subject's envelopes are numbered 1, 2, 3, ... by the platform (``sequence``): a
number missing below the highest one received is a gap, reported until it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2.extras import execute_values

from erp.postings import ACCOUNTS, ADVANCES, RECEIVABLE, ZERO, Unpostable, post

log = logging.getLogger("erp")

DDL = """
CREATE SCHEMA IF NOT EXISTS "{s}";
CREATE TABLE IF NOT EXISTS "{s}".accounts (
    code text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('asset', 'liability', 'revenue', 'expense'))
);
CREATE TABLE IF NOT EXISTS "{s}".received (
    event_id text PRIMARY KEY,
    source text NOT NULL,
    position bigint NOT NULL,
    type text NOT NULL,
    subject text NOT NULL,
    sequence bigint NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('posted', 'nothing_to_post', 'rejected')),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS received_by_subject ON "{s}".received (source, subject, sequence);
CREATE INDEX IF NOT EXISTS received_by_position ON "{s}".received (source, position);
CREATE TABLE IF NOT EXISTS "{s}".journal_entries (
    entry_id text PRIMARY KEY REFERENCES "{s}".received (event_id) ON DELETE CASCADE,
    source text NOT NULL,
    position bigint NOT NULL,
    event_type text NOT NULL,
    business_date date,
    memo text NOT NULL,
    posted_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS "{s}".journal_lines (
    entry_id text NOT NULL REFERENCES "{s}".journal_entries (entry_id) ON DELETE CASCADE,
    line_no int NOT NULL,
    account text NOT NULL REFERENCES "{s}".accounts (code),
    debit numeric(18, 2) NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit numeric(18, 2) NOT NULL DEFAULT 0 CHECK (credit >= 0),
    dealer_code text,
    warehouse_code text,
    sku text,
    quantity int,
    PRIMARY KEY (entry_id, line_no),
    CHECK ((debit = 0) <> (credit = 0))
);
CREATE INDEX IF NOT EXISTS journal_lines_by_account ON "{s}".journal_lines (account, dealer_code);
CREATE TABLE IF NOT EXISTS "{s}".stock_movements (
    entry_id text NOT NULL REFERENCES "{s}".journal_entries (entry_id) ON DELETE CASCADE,
    line_no int NOT NULL,
    warehouse_code text NOT NULL,
    sku text NOT NULL,
    quantity int NOT NULL,
    value numeric(18, 2),
    PRIMARY KEY (entry_id, line_no)
);
CREATE TABLE IF NOT EXISTS "{s}".rejected (
    event_id text PRIMARY KEY REFERENCES "{s}".received (event_id) ON DELETE CASCADE,
    reason text NOT NULL
);
-- Records whose envelope does not fit its schema: no id or origin to trust, kept as they came.
CREATE TABLE IF NOT EXISTS "{s}".unreadable (
    topic text NOT NULL,
    partition int NOT NULL,
    "offset" bigint NOT NULL,
    value bytea,
    reason text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
"""


class Ledger:
    def __init__(self, dsn: str, schema: str = "erp") -> None:
        self.dsn = dsn
        self.schema = schema
        self.conn = psycopg2.connect(dsn)

    def close(self) -> None:
        self.conn.close()

    def reconnect(self) -> None:
        """A new connection after the database went away (the old one is broken)."""
        try:
            self.conn.close()
        except psycopg2.Error:
            pass  # already gone
        try:
            self.conn = psycopg2.connect(self.dsn)
        except psycopg2.OperationalError as error:
            log.warning("erp: database still unreachable: %s", str(error).splitlines()[0])

    def migrate(self) -> None:
        with self.conn, self.conn.cursor() as curs:
            curs.execute(DDL.format(s=self.schema))
            execute_values(
                curs,
                f'INSERT INTO "{self.schema}".accounts (code, name, kind) VALUES %s '
                "ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind",
                [(code, name, kind) for code, (name, kind) in ACCOUNTS.items()],
            )

    @contextmanager
    def _transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        with self.conn, self.conn.cursor() as curs:
            yield curs

    # -- posting -----------------------------------------------------------------------------
    def record(
        self,
        envelopes: Iterable[dict[str, Any]],
        rejected: dict[str, str],
        unreadable: Iterable[tuple[str, int, int, bytes, str]] = (),
    ) -> dict:
        """Record a batch in one transaction: each new event's id, its entry and movements
        (or why it was rejected: ``rejected`` maps event ids to reasons found earlier, e.g.
        data that does not fit its schema), and records whose envelope could not be read
        (topic, partition, offset, value, reason). Events already received are skipped.
        Returns the outcomes counted, and the gaps this batch showed."""
        counts = {"posted": 0, "nothing_to_post": 0, "rejected": 0, "duplicate": 0}
        unreadable = list(unreadable)
        counts["unreadable"] = len(unreadable)
        batch = list({e["id"]: e for e in envelopes}.values())
        s = self.schema
        with self._transaction() as curs:
            planned = []
            for envelope in batch:
                reason = rejected.get(envelope["id"])
                entry = None
                if reason is None:
                    try:
                        entry = post(envelope)
                    except Unpostable as error:
                        reason = str(error)
                outcome = "rejected" if reason else "posted" if entry else "nothing_to_post"
                planned.append((envelope, entry, outcome, reason))
            rows = [
                (
                    e["id"],
                    e["source"],
                    e["position"],
                    e["type"],
                    e["subject"],
                    e["sequence"],
                    outcome,
                )
                for e, _, outcome, _ in planned
            ]
            new = (
                {
                    row[0]
                    for row in execute_values(
                        curs,
                        f'INSERT INTO "{s}".received '
                        "(event_id, source, position, type, subject, sequence, outcome) VALUES %s "
                        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                        rows,
                        fetch=True,
                        page_size=max(len(rows), 1),
                    )
                }
                if rows
                else set()
            )
            entries, lines, movements, reasons = [], [], [], []
            for envelope, entry, outcome, reason in planned:
                if envelope["id"] not in new:
                    counts["duplicate"] += 1
                    continue
                counts[outcome] += 1
                if reason:
                    reasons.append((envelope["id"], reason))
                    log.warning("erp: rejected %s: %s", envelope["type"], reason)
                if entry is None:
                    continue
                event_id = envelope["id"]
                entries.append(
                    (
                        event_id,
                        envelope["source"],
                        envelope["position"],
                        envelope["type"],
                        entry.business_date,
                        entry.memo,
                    )
                )
                for number, line in enumerate(entry.lines, start=1):
                    lines.append(
                        (
                            event_id,
                            number,
                            line.account,
                            line.debit,
                            line.credit,
                            line.dealer_code,
                            line.warehouse_code,
                            line.sku,
                            line.quantity,
                        )
                    )
                for number, movement in enumerate(entry.movements, start=1):
                    movements.append(
                        (
                            event_id,
                            number,
                            movement.warehouse_code,
                            movement.sku,
                            movement.quantity,
                            movement.value,
                        )
                    )
            for table, columns, values in (
                (
                    "journal_entries",
                    "entry_id, source, position, event_type, business_date, memo",
                    entries,
                ),
                (
                    "journal_lines",
                    "entry_id, line_no, account, debit, credit, dealer_code, warehouse_code, "
                    "sku, quantity",
                    lines,
                ),
                (
                    "stock_movements",
                    "entry_id, line_no, warehouse_code, sku, quantity, value",
                    movements,
                ),
                ("rejected", "event_id, reason", reasons),
            ):
                if values:
                    execute_values(
                        curs,
                        f'INSERT INTO "{s}".{table} ({columns}) VALUES %s',
                        values,
                        page_size=1000,
                    )
            if unreadable:
                execute_values(
                    curs,
                    f'INSERT INTO "{s}".unreadable (topic, partition, "offset", value, reason) '
                    "VALUES %s ON CONFLICT DO NOTHING",
                    unreadable,
                )
            gaps = self._gaps_of(curs, {(e["source"], e["subject"]) for e, *_ in planned})
        for source, subject, missing in gaps:
            log.warning("erp: gap in %s subject %s: sequence %s missing", source, subject, missing)
        return {**counts, "gaps": gaps}

    def forget_from(self, source: str, position: int) -> int:
        """Drop what was received from ``source`` at ``position`` or later, with its entries
        (for a replay to post them again); how many events were dropped."""
        with self._transaction() as curs:
            curs.execute(
                f'DELETE FROM "{self.schema}".received WHERE source = %s AND position >= %s',
                (source, position),
            )
            return curs.rowcount

    # -- reports -----------------------------------------------------------------------------
    def _gaps_of(self, curs, subjects: set[tuple[str, str]] | None) -> list[tuple[str, str, int]]:
        where, params = "", ()
        if subjects is not None:
            if not subjects:
                return []
            where = "WHERE (source, subject) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
            params = ([s for s, _ in subjects], [x for _, x in subjects])
        curs.execute(
            f"""
            WITH seen AS (
                SELECT source, subject, max(sequence) AS highest, count(*) AS received
                FROM "{self.schema}".received {where}
                GROUP BY source, subject
            )
            SELECT seen.source, seen.subject, n
            FROM seen, generate_series(1, seen.highest) AS n
            WHERE seen.received < seen.highest
              AND NOT EXISTS (
                  SELECT 1 FROM "{self.schema}".received r
                  WHERE r.source = seen.source AND r.subject = seen.subject AND r.sequence = n
              )
            ORDER BY 1, 2, 3
            """,
            params,
        )
        return [(source, subject, int(n)) for source, subject, n in curs.fetchall()]

    def gaps(self) -> list[tuple[str, str, int]]:
        """Every (source, subject, missing sequence) not received yet."""
        with self._transaction() as curs:
            return self._gaps_of(curs, None)

    def trial_balance(self) -> list[dict[str, Any]]:
        """Per account: debits, credits and the balance on its normal side."""
        with self._transaction() as curs:
            curs.execute(
                f"""
                SELECT a.code, a.name, a.kind,
                       coalesce(sum(l.debit), 0.00), coalesce(sum(l.credit), 0.00)
                FROM "{self.schema}".accounts a
                LEFT JOIN "{self.schema}".journal_lines l ON l.account = a.code
                GROUP BY a.code, a.name, a.kind ORDER BY a.code
                """
            )
            rows = curs.fetchall()
        return [
            {
                "account": code,
                "name": name,
                "debit": debit,
                "credit": credit,
                "balance": debit - credit if kind in ("asset", "expense") else credit - debit,
            }
            for code, name, kind, debit, credit in rows
        ]

    def receivables(self) -> dict[str, Decimal]:
        """Per dealer: what it owes, net of cash on account (accounts receivable less
        advances from customers): the figure the platform calls receivables."""
        with self._transaction() as curs:
            curs.execute(
                f"""
                SELECT dealer_code,
                       sum(debit - credit) FILTER (WHERE account = %(receivable)s),
                       sum(credit - debit) FILTER (WHERE account = %(advances)s)
                FROM "{self.schema}".journal_lines
                WHERE account IN (%(receivable)s, %(advances)s)
                GROUP BY dealer_code ORDER BY dealer_code
                """,
                {"receivable": RECEIVABLE, "advances": ADVANCES},
            )
            return {
                dealer: (owed or ZERO) - (advances or ZERO)
                for dealer, owed, advances in curs.fetchall()
            }

    def summary(self) -> dict[str, Any]:
        with self._transaction() as curs:
            curs.execute(f'SELECT outcome, count(*) FROM "{self.schema}".received GROUP BY outcome')
            outcomes = dict(curs.fetchall())
            curs.execute(
                f"""SELECT count(*), coalesce(sum(abs(quantity)), 0)
                FROM "{self.schema}".stock_movements WHERE value IS NULL"""
            )
            unvalued, units = curs.fetchone()
            curs.execute(f'SELECT count(*) FROM "{self.schema}".unreadable')
            [unreadable] = curs.fetchone()
        return {
            "received": outcomes,
            "unreadable": unreadable,
            "unvalued_movements": unvalued,
            "unvalued_units": units,
        }
